"""The reader's validation figures on held-out articles, for `train/reader.py`'s curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from embeddings.onnx_e5 import InputEmbeddings
from qa.reader import Encoded
from train.batches import forward, loss_of, tensors
from train.model import ReaderModel


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    if not positive or not negative:
        return float("nan")
    neg = np.sort(np.asarray(negative))
    wins = sum(
        np.searchsorted(neg, p, "left")
        + 0.5 * (np.searchsorted(neg, p, "right") - np.searchsorted(neg, p, "left"))
        for p in positive
    )
    return float(wins / (len(positive) * len(negative)))


def token_f1(predicted: str, gold: str) -> float:
    p, g = predicted.lower().split(), gold.lower().split()
    common = sum(min(p.count(w), g.count(w)) for w in set(p))
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


@torch.no_grad()
def validate(
    model: ReaderModel, val: Sequence[Any], encoded: Sequence[Encoded], embed: InputEmbeddings
) -> dict[str, float]:
    """The validation figures. Answerability is scored three ways, each as the AUC of
    answerable windows against SQuAD 2.0's unanswerable ones (all answerable windows, and
    SQuAD 2.0's own answerable ones): the best sentence's probability, the span head's
    margin over its null span, and their sum (`null_margin` and `combined`)."""
    model.eval()
    losses, correct, answerable, f1s = [], 0, 0, []
    by_kind: dict[str, list[int]] = {}
    scores: dict[str, dict[str, list[float]]] = {
        way: {"pos": [], "pos2": [], "neg": []} for way in ("sentence", "null_margin", "combined")
    }
    for at in range(0, len(val), 16):
        batch, enc = val[at : at + 16], encoded[at : at + 16]
        t = tensors(batch, enc, embed)
        logits, edges = forward(model, t)
        losses.append(float(loss_of(logits, edges, t)))
        inside = t["passage"].clone()
        inside[:, 0] = 0.0
        masked = edges + ((1.0 - inside) * -1e4)[..., None]
        margins = masked[..., 0].amax(1) + masked[..., 1].amax(1) - edges[:, 0, 0] - edges[:, 0, 1]
        top_logits = (logits + (1.0 - t["valid"]) * -1e4).amax(1)
        probs = torch.sigmoid(logits) * t["valid"]
        for b, ex in enumerate(batch):
            ways = {
                "sentence": float(probs[b].max()),
                "null_margin": float(margins[b]),
                "combined": float(top_logits[b] + margins[b]),
            }
            if any(ex.labels):
                answerable += 1
                hit = int(int(probs[b].argmax()) == ex.labels.index(1))
                correct += hit
                by_kind.setdefault(ex.kind, []).append(hit)
                for way, score in ways.items():
                    scores[way]["pos"].append(score)
                    if ex.kind == "squad2-answerable":
                        scores[way]["pos2"].append(score)
                s, e = int(masked[b, :, 0].argmax()), int(masked[b, :, 1].argmax())
                words = [i for i, (a, z) in enumerate(enc[b].word_tokens) if a >= s and z <= e]
                predicted = (
                    ex.passage[enc[b].words[words[0]][0] : enc[b].words[words[-1]][1]]
                    if words
                    else ""
                )
                gold = ex.passage[ex.answer[0] : ex.answer[1]] if ex.answer else ""
                f1s.append(token_f1(predicted, gold))
            elif ex.kind.endswith("unanswerable"):
                for way, score in ways.items():
                    scores[way]["neg"].append(score)
    model.train()
    out = {
        "loss": float(np.mean(losses)),
        "sentence_accuracy": correct / max(1, answerable),
        "auc_unanswerable": auc(scores["sentence"]["pos"], scores["sentence"]["neg"]),
        "span_f1": float(np.mean(f1s)) if f1s else float("nan"),
    }
    for way, w in scores.items():
        out[f"auc_squad2_{way}"] = auc(w["pos2"], w["neg"])
        if way != "sentence":
            out[f"auc_unanswerable_{way}"] = auc(w["pos"], w["neg"])
    for kind in ("squad1", "squad2-answerable", "xquad-nl-nl", "xquad-en-nl", "xquad-nl-en"):
        if kind in by_kind:
            out[f"accuracy_{kind}"] = float(np.mean(by_kind[kind]))
    return out
