"""Milvus store and Ray ingest against the embedded store and the single-process ingest.

    python bench/scale_out.py quality            # QA set + Tatoeba nl2en/en2nl, both stores
    python bench/scale_out.py latency --sizes 10000,100000
    python bench/scale_out.py ingest             # single vs Ray 1 and 2 workers, corpus/
    python bench/scale_out.py update             # one-document update, time and bytes

quality: each set is indexed once in the embedded store (as `citeqa eval --index DIR` does),
then its chunks and vectors are copied into Milvus Lite, so both stores search the same
vectors; both are evaluated with eval's own code. latency and update use synthetic chunks
(random unit vectors, text drawn from a Dutch+English word list): timings, not quality.
Results: bench/results/scale_out-<part>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scale_out_data import WORDS, build, synthetic  # noqa: E402

from embeddings.analysis import analyse  # noqa: E402
from embeddings.diskspace import tree_size  # noqa: E402
from embeddings.embedders import FakeEmbedder  # noqa: E402
from embeddings.indexed import IndexedDocument  # noqa: E402
from embeddings.indexer import ChunkingSettings, chunking_manifest  # noqa: E402
from embeddings.milvus_store import MilvusStore  # noqa: E402
from embeddings.milvus_writer import MilvusWriter  # noqa: E402
from embeddings.store import Index  # noqa: E402
from embeddings.stores import open_writer  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DATASETS = {
    "qa": ROOT / "eval" / "qa" / "corpus_qa.jsonl",
    "tatoeba-nl2en": ROOT.parent / "shared" / "datasets" / "tatoeba-nld-eng" / "nl2en",
    "tatoeba-en2nl": ROOT.parent / "shared" / "datasets" / "tatoeba-nld-eng" / "en2nl",
}


def copy_to_milvus(index: Index, spec: str) -> None:
    """The embedded index's documents, chunks and vectors into a fresh Milvus collection."""
    chunking = index.manifest["chunking"]
    by_source: dict[str, list[Any]] = {}
    for c in index.iter_chunks():
        by_source.setdefault(c.source, []).append(c)
    with MilvusWriter(spec, index.embedder, chunking, rebuild=True) as writer:
        for d in index.documents():
            chunks = by_source.get(d.source, [])
            doc = SimpleNamespace(
                source=d.source, doc_id=d.doc_id, title=d.title, lang=d.lang,
                text=index.document_text(d.source) or "", pages=[],
            )  # fmt: skip
            rows = [
                SimpleNamespace(chunk_id=c.chunk_id, doc_id=c.doc_id, ordinal=c.ordinal,
                                start=c.start, end=c.end, text=c.text, n_tokens=c.n_tokens)
                for c in chunks
            ]  # fmt: skip
            vectors = index.vectors([c.row for c in chunks]).reshape(len(chunks), -1)
            langs = [c.lang for c in chunks]
            writer.add(IndexedDocument(doc, d.size, d.mtime, rows, vectors, langs, []))
        writer.commit(
            int(index.manifest["dim"]), {"embedder_spec": index.manifest.get("embedder_spec")}
        )


def quality(args: argparse.Namespace) -> dict[str, Any]:
    from eval.datasets import load_dataset
    from eval.retrieval import evaluate
    from eval.runner import prepare
    from qa.factory import embedder_spec, open_retriever
    from qa.settings import Mode, Settings

    out: dict[str, Any] = {}
    modes: list[Mode] = args.modes.split(",")
    for name in args.sets.split(","):
        path, work = DATASETS[name], args.work / name
        work.mkdir(parents=True, exist_ok=True)
        dataset = load_dataset(path)
        if args.limit:  # the first N questions (the corpus stays whole)
            dataset.queries = dataset.queries[: args.limit]
        settings = Settings(index=args.qa_index if name == "qa" else work / "index")
        index_dir = None if name == "qa" else work / "index"
        settings, doc_of_file = prepare(dataset, settings, index_dir=index_dir)
        retriever = open_retriever(
            settings.model_copy(update={"embedder": embedder_spec(settings)})
        )
        embedded = evaluate(retriever, dataset, modes, doc_of_file)
        index = retriever.index
        spec = f"milvus:{work / 'milvus.db'}"
        started = time.perf_counter()
        copy_to_milvus(index, spec)
        copied = time.perf_counter() - started
        on_milvus = Retriever(MilvusStore(spec), retriever.embedder, retriever.config)
        on_milvus._query_vectors = retriever._query_vectors  # the questions embedded once
        milvus = evaluate(on_milvus, dataset, modes, doc_of_file)
        chunk_level = Retriever(
            index, retriever.embedder, retriever.config.model_copy(update={"granularity": "chunk"})
        )
        chunk_level._query_vectors = retriever._query_vectors
        passages = evaluate(chunk_level, dataset, modes, doc_of_file)
        out[name] = {
            "queries": len(dataset.queries), "chunks": len(index),
            "copy_seconds": round(copied, 1), "embedded": _metrics(embedded),
            "milvus": _metrics(milvus), "embedded_chunk_level": _metrics(passages),
        }  # fmt: skip
        print(name, json.dumps(out[name]), flush=True)
    return out


def _metrics(result: Any) -> dict[str, dict[str, float]]:
    """mode -> the overall figures of an eval run."""
    return {
        mode: {k: round(float(v), 4) for k, v in r.means.items()} | {"p50_ms": round(r.p50, 1)}
        for mode, r in result.modes.items()
    }


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
    }


def latency(args: argparse.Namespace) -> dict[str, Any]:
    dim, out = 384, {}
    embedder = FakeEmbedder(dim)
    rng = np.random.default_rng(1)
    queries = [" ".join(rng.choice(WORDS, size=4)) for _ in range(args.queries)]
    for n in args.sizes:
        docs = synthetic(n, dim)
        stores = {
            "embedded": args.work / f"lat-{n}",
            "milvus_lite": f"milvus:{args.work / f'lat-{n}.db'}",
        }
        row: dict[str, Any] = {}
        for name, target in stores.items():
            seconds = build(target, docs, dim)
            store: Any = Index(Path(target)) if name == "embedded" else MilvusStore(target)
            retriever = Retriever(store, embedder)
            for mode in ("hybrid", "dense", "bm25"):
                retriever.search(queries[0], k=10, mode=mode)  # warm: document level, caches
                times = []
                for q in queries:
                    started = time.perf_counter()
                    retriever.search(q, k=10, mode=mode)
                    times.append(time.perf_counter() - started)
                row[f"{name}_{mode}"] = _percentiles(times)
            row[f"{name}_build_seconds"] = round(seconds, 1)
            print(n, name, json.dumps(row), flush=True)
        out[str(n)] = row
    return out


def update(args: argparse.Namespace) -> dict[str, Any]:
    """Replace one document (100 chunks) of an n-chunk index: seconds and bytes written."""
    dim, n, out = 384, args.sizes[0], {}
    docs = synthetic(n, dim)
    changed = synthetic(100, dim, seed=7)[0]
    changed[0].source = docs[0][0].source
    for name, target in {
        "embedded": args.work / f"upd-{n}",
        "milvus_lite": f"milvus:{args.work / f'upd-{n}.db'}",
    }.items():
        build(target, docs, dim)
        disk = Path(target) if name == "embedded" else Path(str(target)[len("milvus:") :])
        before = _written(disk)
        started = time.perf_counter()
        with open_writer(target, f"fake-{dim}", chunking_manifest(ChunkingSettings())) as writer:
            doc, chunks, vectors, langs = changed
            terms = [" ".join(analyse(c.text, lang)) for c, lang in zip(chunks, langs, strict=True)]
            writer.add(IndexedDocument(doc, len(doc.text), 1.0, chunks, vectors, langs, terms))
            writer.commit(dim)
        seconds = time.perf_counter() - started
        out[name] = {
            "chunks": n,
            "seconds": round(seconds, 2),
            "bytes_written": _written(disk) - before,
            "store_bytes": tree_size(disk) if disk.is_dir() else disk.stat().st_size,
        }
        print(name, out[name], flush=True)
    return out


def _written(path: Path) -> int:
    """Bytes written so far by this process and its children (Milvus Lite's server is one)."""
    import psutil

    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error, AttributeError):
            total += p.io_counters().write_chars
    return total


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    from embeddings.embedders import load_embedder
    from embeddings.indexer import index_paths
    from embeddings.ray_ingest import index_paths_ray, start

    spec = args.embedder
    out: dict[str, Any] = {}
    corpus = [ROOT / "corpus"]
    started = time.perf_counter()
    report = index_paths(
        corpus,
        args.work / "ing-single",
        lambda: load_embedder(spec),
        spec,
        rebuild=True,
        progress=False,
    )
    out["single"] = {"seconds": round(time.perf_counter() - started, 1), "chunks": report.chunks}
    print(out, flush=True)
    import ray

    for workers in (1, 2):
        started = time.perf_counter()
        start("local", workers)
        ready = time.perf_counter() - started
        report = index_paths_ray(
            corpus,
            args.work / f"ing-ray{workers}",
            spec,
            "local",
            rebuild=True,
            progress=False,
            workers=workers,
        )
        total = time.perf_counter() - started
        out[f"ray_{workers}"] = {
            "seconds": round(total, 1),
            "ray_init_seconds": round(ready, 1),
            "chunks": report.chunks,
        }
        if workers == 1:
            out["overhead_per_batch_ms"] = _batch_overhead()
        ray.shutdown()
        print(out, flush=True)
    for row in out.values():
        if isinstance(row, dict) and row.get("chunks"):
            row["chunks_per_s"] = round(row["chunks"] / row["seconds"], 2)
    return out


def _batch_overhead(batches: int = 64) -> float:
    """Ray Data's cost of one map_batches batch that does nothing (a one-row batch)."""
    import ray

    def noop(batch: dict) -> dict:
        return batch

    ds = ray.data.range(batches, override_num_blocks=batches).map_batches(noop, batch_size=1)
    ds.materialize()  # warm
    started = time.perf_counter()
    ds = ray.data.range(batches, override_num_blocks=batches).map_batches(noop, batch_size=1)
    ds.materialize()
    return round((time.perf_counter() - started) / batches * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("part", choices=["quality", "latency", "ingest", "update"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/citeqa-scale-out"))
    parser.add_argument(
        "--qa-index", type=Path, default=Path(".citeqa/index"), help="corpus/ indexed"
    )
    parser.add_argument("--sizes", default="10000", help="comma-separated chunk counts")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--embedder", default="e5-small-q4")
    parser.add_argument("--sets", default="qa,tatoeba-nl2en,tatoeba-en2nl", help="quality sets")
    parser.add_argument("--modes", default="hybrid,dense,bm25", help="quality modes")
    parser.add_argument("--limit", type=int, default=0, help="quality: first N questions")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    result = {"quality": quality, "latency": latency, "ingest": ingest, "update": update}[
        args.part
    ](args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-" + "-".join(map(str, args.sizes)) if args.part in ("latency", "update") else ""
    if args.part == "quality" and args.sets != parser.get_default("sets"):
        suffix = "-" + args.sets.replace(",", "-") + (f"-first{args.limit}" if args.limit else "")
    (RESULTS / f"scale_out-{args.part}{suffix}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
