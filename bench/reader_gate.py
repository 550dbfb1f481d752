"""How the trained reader should be used: as the sentence ranker (its weight against the
hand-tuned score) and in the answerability decision (its operating point), measured on the
bundled QA set and on the reader's held-out articles (bench/reader_heldout.py).

  python bench/reader_heldout.py
  python bench/reader_gate.py collect --index DIR [--weights 0,0.3,1,3]
  python bench/reader_gate.py report [--reader-threshold T]

`collect` answers every question once per reader weight with abstention off and keeps, per
question, its kind, whether the quote holds a gold answer, the answerability model's
probability and the reader's best probability (bench/results/reader_gate_rows.json).
`report` then reads every decision rule off those rows without asking again: the model
alone, the reader alone, and both (refuse when either is below its operating point, which
`qa.service` does as min(model, reader on the model's scale)). The reader's operating point
is picked by one rule on the calibration sets (the corpus training questions of
bench/answerability.py and the held-out SQuAD 2.0 articles): the highest at which at most
5 % of their answerable questions are refused. The QA set is not used to pick it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.answers import _kind, answer_all, has_acceptable_answer  # noqa: E402
from eval.datasets import load_dataset  # noqa: E402
from eval.runner import index_documents, prepare_squad  # noqa: E402
from qa.answer import Answer  # noqa: E402
from qa.factory import open_service  # noqa: E402
from qa.settings import Settings  # noqa: E402

HELDOUT = ROOT / "bench/results/tmp/heldout"
ROWS = ROOT / "bench/results/reader_gate_rows.json"
SETS = {
    "qa-set": ROOT / "eval/qa/corpus_qa.jsonl",
    "corpus-train": ROOT / "eval/qa/answerability_train.jsonl",
    "squad2": HELDOUT / "squad2.json",
    "xquad-nl": HELDOUT / "xquad-nl.json",
    "xquad-en-nl": HELDOUT / "xquad-en-nl.json",
    "xquad-nl-gaps": HELDOUT / "xquad-nl-gaps.json",
}
CALIBRATION = ("corpus-train", "squad2")
MAX_FALSE_REFUSAL = 0.05


def on_scale(reader: float, reader_threshold: float, threshold: float) -> float:
    """The reader's probability on the answerability model's scale: piecewise linear, so
    that the reader's operating point falls on the model's and one threshold serves both."""
    if reader < reader_threshold:
        return threshold * reader / max(reader_threshold, 1e-9)
    return threshold + (1.0 - threshold) * (reader - reader_threshold) / max(
        1.0 - reader_threshold, 1e-9
    )


def row(kind: str, correct: bool | None, answer: Answer) -> dict[str, Any]:
    return {
        "kind": kind,
        "correct": correct,
        "model": answer.signals.get("model", answer.evidence),
        "reader": answer.signals.get("reader"),
        "reader_max": answer.signals.get("reader_max"),
        "reader_margin": answer.signals.get("reader_margin"),
        "typed": answer.signals.get("typed", 1.0),
        "abstained": answer.abstained,
    }


def answered(service: Any, dataset: Any) -> list[dict[str, Any]]:
    return [
        row(
            _kind(i),
            bool(i.answer.citations) and has_acceptable_answer(i.answer.text, i.query.answers),
            i.answer,
        )
        for i in answer_all(service, dataset)
    ]


def collect(index: Path, weights: list[float], only: list[str], where: Path = ROWS) -> None:
    rows: dict[str, Any] = json.loads(where.read_text()) if where.is_file() else {}
    for name, path in SETS.items():
        if only and name not in only:
            continue
        for weight in weights:
            settings = Settings(index=index / name)
            settings = settings.model_copy(
                update={"answer": settings.answer.model_copy(update={"reader_weight": weight})}
            )
            started = time.time()
            if path.suffix == ".json":
                qa_file, settings = prepare_squad(path, settings, False, index / name)
                found = answered(open_service(settings), load_dataset(qa_file))
            else:  # questions about the bundled corpus
                settings = index_documents(ROOT / "corpus", index / "corpus", settings, False)
                service = open_service(settings)
                if name == "corpus-train":  # kinds only, no gold answers
                    found = [
                        row(r["kind"], None, service.ask(r["question"], abstain=False))
                        for r in map(json.loads, path.read_text("utf-8").splitlines())
                    ]
                else:
                    found = answered(service, load_dataset(path))
            took = time.time() - started
            rows.setdefault(name, {})[str(weight)] = found
            print(f"{name} weight {weight}: {len(found)} questions in {took:.0f} s", flush=True)
            where.write_text(json.dumps(rows), encoding="utf-8")


def decide(row: dict[str, Any], rule: str, threshold: float, reader_threshold: float) -> bool:
    """Whether the question is answered under `rule`."""
    if row["abstained"] or row["typed"] < 1.0:
        return False
    model = row["model"]
    # the reader's probability for the sentence the answer quotes, or its best over all the
    # candidate sentences ("-max")
    reader = row.get("reader_max") if rule.endswith("-max") else row["reader"]
    if reader is None:  # not read (a follow-up): the model decides
        return model >= threshold
    scaled = on_scale(reader, reader_threshold, threshold)
    score = {"model": model, "reader": scaled}.get(rule.removesuffix("-max"), min(model, scaled))
    return score >= threshold


def figures(rows: list[dict[str, Any]], rule: str, t: float, rt: float) -> dict[str, float]:
    def ok(r: dict[str, Any]) -> bool:
        return decide(r, rule, t, rt)

    def share(kind: str, test: Any) -> float | None:
        group = [r for r in rows if r["kind"] == kind]
        return round(sum(1 for r in group if test(r)) / len(group), 3) if group else None

    return {
        k: v
        for k, v in {
            "answered_right": share("answerable", lambda r: ok(r) and r["correct"]),
            "answerable_refused": share("answerable", lambda r: not ok(r)),
            "near_refused": share("near", lambda r: not ok(r)),
            "ood_refused": share("ood", lambda r: not ok(r)),
            "followups_answered": share("followup", ok),
        }.items()
        if v is not None
    }


def pick_reader_threshold(rows: dict[str, Any], weight: str, threshold: float) -> float:
    """The highest reader operating point refusing at most MAX_FALSE_REFUSAL of the
    calibration sets' answerable questions (on top of what the model refuses)."""
    pool = [r for name in CALIBRATION for r in rows.get(name, {}).get(weight, [])]
    answerable = [r for r in pool if r["kind"] == "answerable"]
    best = 0.0
    for step in range(1, 100):
        rt = step / 100
        refused = sum(1 for r in answerable if not decide(r, "both", threshold, rt))
        base = sum(1 for r in answerable if not decide(r, "model", threshold, rt))
        if (refused - base) / max(1, len(answerable)) <= MAX_FALSE_REFUSAL:
            best = rt
    return best


def report(reader_threshold: float | None) -> None:
    from qa.answerability import Model

    threshold = Model.load().threshold
    rows = json.loads(ROWS.read_text())
    weights = sorted({w for by in rows.values() for w in by}, key=float)
    for weight in weights:
        rt = reader_threshold or pick_reader_threshold(rows, weight, threshold)
        print(f"\n## reader weight {weight}; reader operating point {rt:.2f}")
        for name, by in rows.items():
            if weight not in by:
                continue
            for rule in ("model", "reader", "both"):
                print(f"{name:14} {rule:6} {json.dumps(figures(by[weight], rule, threshold, rt))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--index", type=Path, required=True, help="a scratch folder")
    c.add_argument("--weights", default="0,1")
    c.add_argument("--sets", default="", help="comma-separated names (default: all)")
    c.add_argument("--rows", type=Path, default=ROWS, help="where the rows go")
    r = sub.add_parser("report")
    r.add_argument("--reader-threshold", type=float, default=None)
    args = parser.parse_args()
    if args.command == "collect":
        only = [s for s in args.sets.split(",") if s]
        collect(args.index, [float(w) for w in args.weights.split(",")], only, args.rows)
    else:
        report(args.reader_threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
