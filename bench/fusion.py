"""Which fusion gets the best of dense and BM25 across languages? Measured, not assumed.

For each dataset, runs dense, bm25, and hybrid with each fusion variant, and writes
bench/results/fusion.{json,md}. Usage: python bench/fusion.py [DATASET ...]
(default: the bundled QA set and both Tatoeba directions; add ../shared/datasets/cisi).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from eval.datasets import load_dataset
from eval.retrieval import evaluate
from eval.runner import prepare
from qa.factory import open_retriever
from qa.settings import RetrievalConfig, Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [
    ROOT / "eval/qa/corpus_qa.jsonl",
    ROOT / "eval/datasets/tatoeba-nld-eng/nl2en",
    ROOT / "eval/datasets/tatoeba-nld-eng/en2nl",
]
VARIANTS = ["rrf", "language"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument(
        "--index", type=Path, default=ROOT / ".citeqa/index", help="index of corpus/ for QA sets"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    rows = []
    for path in args.datasets:
        dataset = load_dataset(path)
        settings, doc_of_file = prepare(dataset, Settings(index=args.index), progress=True)
        retriever = open_retriever(settings)
        base = evaluate(retriever, dataset, ["dense", "bm25"], doc_of_file)
        for mode, r in base.modes.items():
            rows.append({"dataset": dataset.name, "method": mode, **_scores(r)})
        for fusion in VARIANTS:
            retriever.config = RetrievalConfig(fusion=fusion)  # type: ignore[arg-type]
            r = evaluate(retriever, dataset, ["hybrid"], doc_of_file).modes["hybrid"]
            name = f"hybrid-{fusion}"
            rows.append({"dataset": dataset.name, "method": name, **_scores(r)})
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fusion.json").write_text(json.dumps(rows, indent=2))
    keys = list(dict.fromkeys(k for r in rows for k in r))  # language pairs differ per set
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "-")) for k in keys) + " |" for r in rows]
    (args.out / "fusion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _scores(r) -> dict:  # type: ignore[no-untyped-def]
    pairs = {f"R@5 {p}": round(v["recall@5"], 3) for p, v in r.by_pair.items()}
    return {
        "R@5": round(r.means["recall@5"], 3),
        "MRR@10": round(r.means["mrr@10"], 3),
        "nDCG@10": round(r.means["ndcg@10"], 3),
        **pairs,
    }


if __name__ == "__main__":
    main()
