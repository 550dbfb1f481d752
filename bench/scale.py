"""How query cost grows with the index: 1k to 1M chunks, and exact against approximate search.

The bundled corpus (its real chunks and real vectors) is padded with synthetic chunks up to
each size. Synthetic texts are drawn word by word from the corpus's own vocabulary (unigram
frequencies, Dutch and English documents alternating); synthetic vectors are drawn from
clusters around a Gaussian fitted to the real chunk vectors. The questions are the QA set's,
embedded for real on every query (the retriever's cache is cleared), so the figures include
the query embedding. Each size is measured in a fresh process: index load time, RAM the
loaded index adds, p50/p95/p99 of dense, BM25, hybrid and a full extractive `ask`.

The index-type sweep runs FAISS alone on the same synthetic vectors: exact (flat) search
against HNSW-SQ8 (citeqa's choice above the crossover), IVF-SQ8 and HNSW over float vectors:
recall@10 against latency, one query at a time on one thread, as citeqa searches.

Usage: python bench/scale.py [--sizes 1000,10000,100000,1000000] [--quick]
Writes bench/results/scale.{json,md,png} and bench/results/index_type.png.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import ann
from embeddings.analysis import STOPWORDS, _stemmer, fold, tokens
from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.indexed import IndexedDocument
from embeddings.store import Index
from embeddings.writer import IndexWriter

ROOT = Path(__file__).resolve().parent.parent

CHUNKS_PER_DOC = 100
WORDS_PER_CHUNK = 70


@dataclass
class Vocabulary:
    """Words of the real corpus per language, their frequencies and their BM25 terms."""

    words: dict[str, np.ndarray] = field(default_factory=dict)
    probs: dict[str, np.ndarray] = field(default_factory=dict)
    terms: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, index: Index) -> Vocabulary:
        vocab = cls()
        for lang in ("nl", "en"):
            counts: Counter[str] = Counter()
            for chunk in index.iter_chunks():
                if chunk.lang == lang:
                    counts.update(w for w in fold(chunk.text).split() if w.isalnum())
            words = sorted(counts)
            freq = np.asarray([counts[w] for w in words], dtype=np.float64)
            stems = [
                "" if (not tokens(w) or w in STOPWORDS[lang]) else _stemmer(lang).stemWord(w)
                for w in words
            ]
            vocab.words[lang] = np.asarray(words, dtype=object)
            vocab.probs[lang] = freq / freq.sum()
            vocab.terms[lang] = np.asarray(stems, dtype=object)
        return vocab


class VectorSampler:
    """Clustered vectors around a Gaussian fitted to the real ones, unit length."""

    def __init__(self, real: np.ndarray, seed: int = 0, spread: float = 0.8, noise: float = 0.03):
        self.mean = real.mean(axis=0)
        self.centred = real - self.mean
        self.rng = np.random.default_rng(seed)
        self.spread, self.noise = spread, noise

    def sample(self, n: int) -> np.ndarray:
        """`n` vectors, one cluster per `CHUNKS_PER_DOC` (a document's chunks are alike)."""
        m, dim = self.centred.shape
        k = -(-n // CHUNKS_PER_DOC)
        centres = self.mean + self.spread * (
            self.rng.standard_normal((k, m), dtype=np.float32) @ self.centred
        ) / np.sqrt(m)
        centres += 0.02 * self.rng.standard_normal((k, dim), dtype=np.float32)
        v = centres[np.arange(n) // CHUNKS_PER_DOC]
        v = v + self.noise * self.rng.standard_normal((n, dim), dtype=np.float32)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def real_vectors(index: Index) -> np.ndarray:
    return index.vectors([c.row for c in index.iter_chunks()])


def build_synthetic(base: Path, root: Path, size: int, seed: int = 0) -> dict[str, Any]:
    """Copy the real index to `root` and pad it with synthetic chunks up to `size`."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root, ignore=shutil.ignore_patterns(".lock"))
    real = Index(root)
    vocab, sampler = Vocabulary.of(real), VectorSampler(real_vectors(real), seed)
    manifest, n_real = real.manifest, len(real)
    real.close()
    rng = np.random.default_rng(seed)
    starts = list(range(n_real, size, CHUNKS_PER_DOC))
    timings = []
    # all documents but the last in one write, then the last alone: the cost of an update
    for batch in (starts[:-1], starts[-1:]):
        started = time.perf_counter()
        with IndexWriter(root, manifest["embedder"], manifest["chunking"]) as writer:
            for start in batch:
                d = start // CHUNKS_PER_DOC
                count = min(CHUNKS_PER_DOC, size - start)
                lang = ("nl", "en")[d % 2]
                words = vocab.words[lang]
                ids = rng.choice(len(words), (count, WORDS_PER_CHUNK), p=vocab.probs[lang])
                texts = [" ".join(row) for row in words[ids]]
                terms = [" ".join(t for t in row if t) for row in vocab.terms[lang][ids]]
                doc_id = f"synthetic-{d:07d}"
                chunks, offset = [], 0
                for i, text in enumerate(texts):
                    end = offset + len(text)
                    chunks.append(Chunk(f"{doc_id}-{i}", doc_id, i, offset, end, text, 90))
                    offset = end + 1
                doc = Document(
                    doc_id, f"synthetic/{doc_id}.txt", f"Synthetic {d}", lang, "\n".join(texts)
                )
                vectors = sampler.sample(count)
                langs = [lang] * count
                writer.add(IndexedDocument(doc, offset, 0.0, chunks, vectors, langs, terms))
            writer.commit(int(manifest["dim"]), {"embedder_spec": manifest.get("embedder_spec")})
        timings.append(time.perf_counter() - started)
    return {"build_s": round(timings[0], 1), "update_one_doc_s": round(timings[1], 2)}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {f"p{p}": round(float(np.percentile(ms, p)), 2) for p in (50, 95, 99)}


def measure(root: Path, questions: list[str], repeat: int) -> dict[str, Any]:
    """Run in a fresh process: load the index, then time every mode on every question."""
    from embeddings.embedders import load_embedder
    from qa.factory import open_service
    from qa.retrieval import Retriever
    from qa.settings import Settings

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    manifest = json.loads(
        (root / (root / "CURRENT").read_text().strip() / "manifest.json").read_text()
    )
    embedder = load_embedder(manifest.get("embedder_spec") or manifest["embedder"])
    embedder.embed_query("warm-up")
    before = _rss_bytes()
    started = time.perf_counter()
    index = Index(root)
    load_s = time.perf_counter() - started
    index_ram = _rss_bytes() - before
    settings = Settings(index=root)
    retriever = Retriever(index, embedder, settings.retrieval)
    service = open_service(settings, retriever)
    out: dict[str, Any] = {
        "chunks": len(index),
        "index_type": index.manifest["index_type"],
        "disk_mb": round(
            sum(p.stat().st_size for p in index.generation.rglob("*") if p.is_file()) / 2**20, 1
        ),
        "load_s": round(load_s, 3),
        "ram_mb": round(index_ram / 2**20, 1),
        "ram_bytes_per_chunk": round(index_ram / len(index)),
    }
    service.ask(questions[0])  # warm-up: first-call costs (numba, SQLite caches)
    for mode in ("dense", "bm25", "hybrid", "ask"):
        samples = []
        for _ in range(repeat):
            for q in questions:
                retriever.clear_cache()
                started = time.perf_counter()
                if mode == "ask":
                    service.ask(q)
                else:
                    retriever.search(q, k=5, mode=mode)  # type: ignore[arg-type]
                samples.append(time.perf_counter() - started)
        out[mode] = _percentiles(samples)
    return out


def index_type_sweep(
    real: np.ndarray, queries: np.ndarray, size: int, hnsw_max: int
) -> list[dict[str, Any]]:
    """Recall@10 against exact search, and p50 latency of one query, per index and setting."""
    import faiss

    vectors = np.concatenate([real, VectorSampler(real).sample(size - len(real))])
    rows: list[dict[str, Any]] = []

    def run(
        name: str, index: Any, setting: str, params: Any, truth: np.ndarray | None
    ) -> np.ndarray:
        times, found = [], []
        for q in queries:
            started = time.perf_counter()
            _, ids = index.search(q.reshape(1, -1), 10, params=params)
            times.append(time.perf_counter() - started)
            found.append(ids[0])
        result = np.asarray(found)
        recall = (
            1.0
            if truth is None
            else float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(result, truth, strict=True)])
            )
        )
        rows.append(
            {
                "size": size,
                "index": name,
                "setting": setting,
                "recall@10": round(recall, 3),
                "p50_ms": round(statistics.median(times) * 1000, 3),
            }
        )
        return result

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.omp_set_num_threads(1)  # searches run single-threaded, as citeqa's do
    truth = run("flat", flat, "exact", None, None)
    ids = np.arange(size, dtype=np.int64)
    with ann.faiss_threads(2):  # builds use both cores, as citeqa's writer does
        started = time.perf_counter()
        graph = ann.build_hnsw(flat, ids)
        graph_build = time.perf_counter() - started
        lists = max(16, int(2 * np.sqrt(size)))
        ivf = faiss.index_factory(vectors.shape[1], f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
        started = time.perf_counter()
        ivf.train(vectors[np.random.default_rng(0).choice(size, min(size, 40 * lists))])
        ivf.add(vectors)
        ivf_build = time.perf_counter() - started
    for ef in (16, 32, 64, 128):
        run(
            "hnsw-sq8",
            graph,
            f"M=32 efSearch={ef} build={graph_build:.0f}s",
            faiss.SearchParametersHNSW(efSearch=ef),
            truth,
        )
    for nprobe in (16, 64, 256):
        run(
            "ivf-sq8",
            ivf,
            f"nlist={lists} nprobe={nprobe} build={ivf_build:.0f}s",
            faiss.SearchParametersIVF(nprobe=nprobe),
            truth,
        )
    if size <= hnsw_max:
        hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = ann.EF_CONSTRUCTION
        with ann.faiss_threads(2):
            started = time.perf_counter()
            hnsw.add(vectors)
            build = time.perf_counter() - started
        for ef in (32, 64):
            run(
                "hnsw-flat",
                hnsw,
                f"M=32 efSearch={ef} build={build:.0f}s",
                faiss.SearchParametersHNSW(efSearch=ef),
                truth,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--index", type=Path, default=ROOT / ".citeqa/index")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".citeqa/bench")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--hnsw-max", type=int, default=100_000, help="HNSW builds slowly")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the synthetic indexes")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few queries (CI)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results", help="a folder")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    questions = [json.loads(line)["question"] for line in args.qa.read_text().splitlines() if line]
    if args.quick:
        args.sizes, questions, args.repeat = "200,500", questions[:4], 1
    if args.measure:
        print(json.dumps(measure(args.measure, questions, args.repeat)))
        return
    if not (args.index / "CURRENT").is_file():
        sys.exit(f"No index at {args.index}: run `make index` (or citeqa index corpus/) first")
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = Index(args.index)
    real = real_vectors(base)
    from embeddings.embedders import load_embedder

    embedder = load_embedder(base.manifest.get("embedder_spec") or base.manifest["embedder"])
    queries = np.stack([embedder.embed_query(q) for q in questions]).astype(np.float32)
    results: dict[str, Any] = {
        "note": "synthetic chunks beyond the bundled corpus; 2 CPU cores; see the docstring",
        "ann_min_chunks": ann.ANN_MIN_CHUNKS,
        "ef_search": ann.EF_SEARCH,
        "sizes": [],
        "index_type": [],
    }
    for size in (int(s) for s in args.sizes.split(",")):
        root = args.workdir / f"scale-{size}"
        built = args.workdir / f"scale-{size}.json"  # build figures of a kept index
        if args.rebuild or args.quick or not (root / "CURRENT").is_file() or not built.is_file():
            print(f"building {size:,} chunks in {root} ...", flush=True)
            built.write_text(json.dumps(build_synthetic(args.index, root, size)))
        build = json.loads(built.read_text())
        print(f"measuring {size:,} ...", flush=True)
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                str(root),
                "--qa",
                str(args.qa),
                "--repeat",
                str(args.repeat),
                *(["--quick"] if args.quick else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        row = {**json.loads(done.stdout.strip().splitlines()[-1]), **build}
        print(json.dumps(row), flush=True)
        results["sizes"].append(row)
        results["index_type"] += index_type_sweep(real, queries, size, args.hnsw_max)
        if args.quick:
            shutil.rmtree(root, ignore_errors=True)
    out = args.out / "scale.json"
    args.out.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    from scale_report import write_report  # bench/, on the path when run as a script

    write_report(results, out)
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
