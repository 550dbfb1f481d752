"""How big should a chunk be? Retrieval quality on the bundled QA set per chunk size.

Builds one index per size (real e5 embedder) under bench/results/tmp/ and writes
bench/results/chunk_size.{json,md}. Usage: python bench/chunk_size.py [--sizes 64,100,...]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

from citeqa.settings import ChunkingConfig
from embeddings.embedders import load_embedder
from embeddings.indexer import index_paths
from eval.runner import run_eval
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="64,100,150,200,300,400")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    embedder = load_embedder("e5-small-q4")
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        root = args.out / "tmp" / f"chunks-{size}"
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        report = index_paths(
            [ROOT / "corpus"],
            root,
            lambda: embedder,
            "e5-small-q4",
            ChunkingConfig(max_tokens=size, overlap_tokens=size // 5),
            progress=False,
        )
        seconds = time.perf_counter() - started
        _, result, _ = run_eval(
            args.qa, Settings(index=root, embedder="e5-small-q4"), ["dense", "bm25", "hybrid"]
        )
        row = {
            "max_tokens": size,
            "overlap_tokens": size // 5,
            "chunks": report.chunks,
            "index_seconds": round(seconds, 1),
        }
        for mode, r in result.modes.items():
            for metric in ("recall@1", "recall@5", "mrr@10", "ndcg@10"):
                row[f"{mode}_{metric}"] = round(r.means[metric], 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(root, ignore_errors=True)
    (args.out / "chunk_size.json").write_text(json.dumps(rows, indent=2))
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    (args.out / "chunk_size.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
