"""Fewer tokens for the same recall? Chunk overlap against retrieval quality and tokens embedded.

For each overlap, indexes each set with the default embedder and chunk size (a QA JSONL set
indexes corpus/, a BEIR folder its own corpus) and runs `citeqa eval`'s retrieval on it.
Writes bench/results/overlap.{json,md}.

Usage: python bench/overlap.py [SET ...] [--overlaps 0,10,20] [--modes hybrid]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from pathlib import Path

from citeqa.settings import ChunkingConfig
from embeddings.embedders import DEFAULT_EMBEDDER, load_embedder
from embeddings.indexer import index_paths
from eval.datasets import load_dataset, write_beir_corpus
from eval.runner import run_eval
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("recall@5", "mrr@10", "ndcg@10")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", type=Path, default=[ROOT / "eval/qa/corpus_qa.jsonl"])
    parser.add_argument("--overlaps", default="0,10,20")
    parser.add_argument("--modes", default="dense,bm25,hybrid")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    embedder = load_embedder(DEFAULT_EMBEDDER)
    modes = args.modes.split(",")
    rows = []
    for path in args.sets:
        dataset = load_dataset(path)
        work = args.out / "tmp" / f"overlap-{dataset.name}"
        for overlap in [int(o) for o in args.overlaps.split(",")]:
            root = work / f"index-{overlap}"
            shutil.rmtree(root, ignore_errors=True)
            docs = ROOT / "corpus"
            if dataset.fmt == "beir":  # where `citeqa eval --index root` puts them
                docs = root / "eval-docs" / dataset.name
                write_beir_corpus(dataset, docs)
            chunking = ChunkingConfig(overlap_tokens=overlap)
            started = time.perf_counter()
            report = index_paths(
                [docs], root, lambda: embedder, DEFAULT_EMBEDDER, chunking, progress=False
            )
            seconds = time.perf_counter() - started
            settings = Settings(index=root, embedder=DEFAULT_EMBEDDER, chunking=chunking)
            _, result, _ = run_eval(path, settings, modes, index_dir=root)
            row = {
                "set": dataset.name,
                "overlap_tokens": overlap,
                "chunks": report.chunks,
                "tokens_embedded": report.tokens_embedded,
                "index_seconds": round(seconds, 1),
                "load_average": round(os.getloadavg()[0], 1),
            }
            for mode, r in result.modes.items():
                for metric in METRICS:
                    row[f"{mode} {metric}"] = round(r.means[metric], 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "overlap.json").write_text(json.dumps(rows, indent=2) + "\n")
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    (args.out / "overlap.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
