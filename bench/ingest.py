"""Indexing throughput: the whole pipeline (read, chunk, embed, write) against the raw
embedder on exactly the same chunk texts. Writes bench/results/ingest.json.

Usage: python bench/ingest.py [--repeat 3] [PATH ...]   (default: corpus/)
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from citeqa.settings import ChunkingConfig
from embeddings.embedders import load_embedder
from embeddings.indexer import index_paths
from embeddings.store import Index

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "corpus"])
    parser.add_argument("--embedder", default="e5-small-q4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ingest.json")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    embedder = load_embedder(args.embedder)
    embedder.embed_documents(["warm-up"])
    pipeline, raw = [], []
    for _ in range(args.repeat):
        root = Path(tempfile.mkdtemp(prefix="citeqa-ingest-"))
        started = time.perf_counter()
        report = index_paths(
            args.paths,
            root / "index",
            lambda: embedder,
            args.embedder,
            ChunkingConfig(),
            progress=False,
        )
        pipeline.append(time.perf_counter() - started)
        texts = [c.text for c in Index(root / "index").iter_chunks()]
        ordered = sorted(texts, key=embedder.count_tokens)  # the pipeline's batching
        started = time.perf_counter()
        for i in range(0, len(ordered), 32):
            embedder.embed_documents(ordered[i : i + 32])
        raw.append(time.perf_counter() - started)
        shutil.rmtree(root)
    chunks, tokens = report.chunks, report.tokens_embedded
    p, r = statistics.median(pipeline), statistics.median(raw)
    result = {
        "embedder": args.embedder,
        "documents": report.documents,
        "chunks": chunks,
        "tokens": tokens,
        "repeats": args.repeat,
        "pipeline_seconds": round(p, 2),
        "raw_embed_seconds": round(r, 2),
        "pipeline_chunks_per_s": round(chunks / p, 1),
        "pipeline_tokens_per_s": round(tokens / p),
        "raw_chunks_per_s": round(chunks / r, 1),
        "raw_tokens_per_s": round(tokens / r),
        "overhead_percent": round(100 * (p - r) / r, 1),
        # the whole process: model, chunks, vectors and the index being written
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    table = [
        "| | chunks/s | tokens/s | seconds | peak RSS MB |",
        "|---|---|---|---|---|",
        f"| pipeline (read, chunk, embed, BM25, write, fsync) | {result['pipeline_chunks_per_s']} "
        f"| {result['pipeline_tokens_per_s']} | {p:.2f} | {result['peak_rss_mb']} |",
        f"| raw embedder, same chunks and batches | {result['raw_chunks_per_s']} "
        f"| {result['raw_tokens_per_s']} | {r:.2f} | |",
        f"| overhead | | | {result['overhead_percent']} % | |",
    ]
    args.out.with_suffix(".md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
