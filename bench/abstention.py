"""Set the abstention threshold from measurement: answer every question of the QA set once,
then sweep `min_evidence` over the evidence scores. Writes bench/results/abstention.json.

Usage: python bench/abstention.py [--index DIR] [--qa FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from eval.answers import answer_all, sweep
from eval.datasets import load_dataset
from qa.factory import open_service
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=ROOT / ".citeqa/index")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/abstention.json")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    service = open_service(Settings(index=args.index))
    items = answer_all(service, load_dataset(args.qa))
    for i in items:
        print(
            f"{i.query.qid} {'A' if i.query.answerable else 'U'} "
            f"evidence={i.answer.evidence:.3f} {i.answer.text[:100]!r}"
        )
    rows = sweep(items)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print("threshold  accuracy  cit.prec  abstain(U)  false-abstain(A)")
    for r in rows:
        print(
            f"{r['threshold']:.4f}     {r['answer_accuracy']:.3f}     "
            f"{r['citation_precision']:.3f}     {r['abstain_unanswerable']:.3f}       "
            f"{r['false_abstention']:.3f}"
        )


if __name__ == "__main__":
    main()
