"""citeqa against the pipeline a user would otherwise build with LangChain, in one run.

LangChain side: TextLoader, `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200,
add_start_index=True)` and an in-memory `FAISS.from_documents` (never saved, so no pickle).
Both sides use the SAME embedder object (citeqa's, wrapped as a LangChain `Embeddings`), so
the model and its e5 prefixes are identical; what differs is chunking, BM25/fusion and the
store. Measured: Recall@5 and MRR@10 through eval/retrieval.py's ranx code path (a LangChain
chunk is relevant exactly as a citeqa chunk is: same file, contains the evidence span),
ingest time (files -> chunks -> vectors -> index; model loaded and warm beforehand) and
per-query latency p50/p95 at k=5 with the query embedding included (citeqa's query cache is
cleared before every search). Ratios are citeqa / LangChain.

Usage: python bench/langchain_compare.py [--repeat 3] [--quick] [--out bench/results]
Writes <out>/langchain_compare.{json,md}. `--quick`: two small documents, one repeat.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from provenance import source_version

from embeddings.embedders import DEFAULT_EMBEDDER, Embedder, load_embedder
from embeddings.indexer import index_paths
from eval.datasets import Dataset, load_dataset
from eval.retrieval import evaluate
from qa.factory import open_retriever
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUICK_FILES = ["001_680d72be5adecebd.txt", "002_28471f2968b74307.txt"]
SPLITTER = {"chunk_size": 1000, "chunk_overlap": 200, "add_start_index": True}
K = 5  # passages a user sees (citeqa's default k)


def wrap(embedder: Embedder) -> Any:
    """citeqa's embedder as a LangChain `Embeddings`: same model, same e5 prefixes."""
    from langchain_core.embeddings import Embeddings

    class CiteqaEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return cast(list[list[float]], embedder.embed_documents(texts).tolist())

        def embed_query(self, text: str) -> list[float]:
            return cast(list[float], embedder.embed_query(text).tolist())

    return CiteqaEmbeddings()


def langchain_ingest(files: Sequence[Path], embeddings: Any) -> tuple[Any, list[Any], dict]:
    """The usual LangChain recipe, timed per phase; returns (vectorstore, chunks, seconds)."""
    from langchain_community.document_loaders import TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t0 = time.perf_counter()
    docs = [d for f in files for d in TextLoader(str(f), encoding="utf-8").load()]
    t1 = time.perf_counter()
    chunks = RecursiveCharacterTextSplitter(**SPLITTER).split_documents(docs)
    t2 = time.perf_counter()
    store = FAISS.from_documents(chunks, embeddings)
    t3 = time.perf_counter()
    return store, chunks, {"load": t1 - t0, "split": t2 - t1, "embed_index": t3 - t2}


@dataclass(frozen=True)
class _Chunk:  # the fields eval.retrieval.units() reads from a citeqa ChunkRecord
    chunk_id: str
    source: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class _Hit:
    chunk: _Chunk
    score: float
    rank: int


class LangChainAsRetriever:
    """Enough of citeqa's Retriever for eval.retrieval.evaluate(): search, clear_cache, index."""

    def __init__(self, store: Any, documents: Callable[[], list]) -> None:
        self.store = store
        self.index = SimpleNamespace(documents=documents)  # for the language-pair breakdown

    def clear_cache(self) -> None:  # LangChain's FAISS wrapper caches nothing
        pass

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> list[_Hit]:
        found = self.store.similarity_search_with_score(query, k=k or K)
        hits = []
        for rank, (doc, distance) in enumerate(found, start=1):
            start = int(doc.metadata["start_index"])
            chunk = _Chunk(
                chunk_id=f"lc:{Path(doc.metadata['source']).name}:{start}",
                source=doc.metadata["source"],
                text=doc.page_content,
                start=start,
                end=start + len(doc.page_content),
            )
            hits.append(_Hit(chunk, -float(distance), rank))
        return hits


class FreshQueries:
    """A citeqa Retriever whose query cache is emptied before every search."""

    def __init__(self, retriever: Any) -> None:
        self.retriever, self.index = retriever, retriever.index

    def clear_cache(self) -> None:
        self.retriever.clear_cache()

    def search(self, query: str, k: int | None = None, mode: Any = None) -> list:
        self.retriever.clear_cache()
        return cast(list, self.retriever.search(query, k=k, mode=mode))


def check_offsets(files: Sequence[Path], chunks: list[Any]) -> None:
    """LangChain's start_index must point at the chunk's text, or relevance means nothing."""
    texts = {str(f): f.read_text(encoding="utf-8") for f in files}
    for c in chunks:
        start = c.metadata["start_index"]
        if texts[c.metadata["source"]][start : start + len(c.page_content)] != c.page_content:
            raise RuntimeError(f"start_index {start} does not match the chunk's text")


def latencies(searches: dict[str, Callable[[str], object]], questions: list[str], repeat: int):
    """ms per search for each system, interleaved question by question (rotating who goes
    first), so a burst of load from another process lands on all systems alike."""
    names = list(searches)
    for name in names:
        searches[name](questions[0])  # warm-up: first-call allocations
    samples: dict[str, list[float]] = {name: [] for name in names}
    turn = 0
    for _ in range(repeat):
        for q in questions:
            turn += 1
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                started = time.perf_counter()
                searches[name](q)
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def pct(samples: list[float], q: int) -> float:
    return round(float(np.percentile(samples, q)), 1)


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def run(files: list[Path], dataset: Dataset, spec: str, repeat: int, work: Path) -> dict[str, Any]:
    embedder = load_embedder(spec)
    embedder.embed_documents(["warm-up"])
    embedder.embed_query("warm-up")
    questions = [q.text for q in dataset.queries]
    lc_embeddings = wrap(embedder)

    ingest: dict[str, list[float]] = {"citeqa": [], "langchain": []}
    reports, lc_phases = [], []
    for i in range(repeat):  # alternating; a fresh citeqa index each time (else: no work)
        started = time.perf_counter()
        reports.append(
            index_paths(files, work / f"index-{i}", lambda: embedder, spec, progress=False)
        )
        ingest["citeqa"].append(time.perf_counter() - started)
        started = time.perf_counter()
        store, chunks, phases = langchain_ingest(files, lc_embeddings)
        ingest["langchain"].append(time.perf_counter() - started)
        lc_phases.append(phases)
    report = reports[0]
    check_offsets(files, chunks)
    retriever = open_retriever(Settings(index=work / "index-0", embedder=spec), embedder)
    fresh = FreshQueries(retriever)
    lc = LangChainAsRetriever(store, retriever.index.documents)

    quality = evaluate(cast(Any, fresh), dataset, ["hybrid", "dense"])
    lc_quality = evaluate(cast(Any, lc), dataset, ["dense"]).modes["dense"]
    samples = latencies(
        {
            "langchain": lambda q: lc.search(q, k=K),
            "citeqa-hybrid": lambda q: fresh.search(q, k=K, mode="hybrid"),
            "citeqa-dense": lambda q: fresh.search(q, k=K, mode="dense"),
            "query-embedding": embedder.embed_query,
        },
        questions,
        repeat,
    )
    rows: dict[str, dict[str, Any]] = {
        "langchain": {
            "system": "LangChain (recursive 1000/200 chars + FAISS)",
            "chunks": len(chunks),
            "tokens_embedded": sum(embedder.count_tokens(c.page_content) for c in chunks),
            "recall@5": round(lc_quality.means["recall@5"], 3),
            "mrr@10": round(lc_quality.means["mrr@10"], 3),
            "ingest_s": round(statistics.median(ingest["langchain"]), 2),
            "p50_ms": pct(samples["langchain"], 50),
            "p95_ms": pct(samples["langchain"], 95),
        }
    }
    for mode in ("hybrid", "dense"):
        rows[f"citeqa-{mode}"] = {
            "system": f"citeqa {mode} (sentences, 100/20 tokens)",
            "chunks": report.chunks,
            "tokens_embedded": report.tokens_embedded,
            "recall@5": round(quality.modes[mode].means["recall@5"], 3),
            "mrr@10": round(quality.modes[mode].means["mrr@10"], 3),
            "ingest_s": round(statistics.median(ingest["citeqa"]), 2),
            "p50_ms": pct(samples[f"citeqa-{mode}"], 50),
            "p95_ms": pct(samples[f"citeqa-{mode}"], 95),
        }
    base = rows["langchain"]
    for name in ("citeqa-hybrid", "citeqa-dense"):
        row = rows[name]
        row["ratios_vs_langchain"] = {
            key: ratio(row[key], base[key])
            for key in ("recall@5", "mrr@10", "ingest_s", "p50_ms", "p95_ms")
        }
    phases = {key: round(statistics.median(p[key] for p in lc_phases), 3) for key in lc_phases[0]}
    return {
        "embedder": embedder.id,
        "documents": len(files),
        "questions": len(questions),
        "judged_questions": quality.queries,
        "repeat": repeat,
        "k_for_latency": K,
        "langchain_splitter": SPLITTER,
        "langchain_ingest_phases_s": phases,
        "citeqa_embed_s": round(report.embed_seconds, 2),
        "query_embedding_ms": {
            "p50": pct(samples["query-embedding"], 50),
            "p95": pct(samples["query-embedding"], 95),
        },
        "p_values": significance(
            quality.qrels,
            {
                "langchain": lc_quality.run,
                "citeqa-hybrid": quality.modes["hybrid"].run,
                "citeqa-dense": quality.modes["dense"].run,
            },
        ),
        "ingest_runs_s": {k: [round(x, 2) for x in v] for k, v in ingest.items()},
        "load_average_after": round(os.getloadavg()[0], 2),
        "source": source_version(),
        "systems": rows,
    }


def significance(qrels: dict, runs: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Paired t-test p-values, citeqa against LangChain per query (as eval/ compares modes)."""
    from ranx import Qrels, Run, compare

    judged = {
        name: Run({q: (run.get(q) or {"∅": 0.0}) for q in qrels}, name=name)
        for name, run in runs.items()
    }
    report = compare(
        Qrels(qrels), list(judged.values()), ["recall@5", "mrr@10"], stat_test="student"
    ).to_dict()
    return {
        f"{name} vs langchain": {
            m: float(p) if p == p else 1.0  # identical per-query scores give NaN
            for m, p in report[name]["comparisons"]["langchain"].items()
        }
        for name in runs
        if name != "langchain"
    }


def markdown(result: dict[str, Any]) -> str:
    rows = result["systems"]
    keys = ["chunks", "recall@5", "mrr@10", "ingest_s", "p50_ms", "p95_ms"]
    lines = [
        f"Embedder {result['embedder']} on both sides; {result['documents']} documents, "
        f"{result['judged_questions']} judged of {result['questions']} questions; latency at "
        f"k={result['k_for_latency']} with the query embedding, {result['repeat']} passes "
        f"(embedding a query alone: p50 {result['query_embedding_ms']['p50']} ms); ingest: "
        f"median of {result['repeat']}; source {result['source']}; load average after "
        f"{result['load_average_after']}.",
        "",
        "| system | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for row in rows.values():
        lines.append(f"| {row['system']} | " + " | ".join(str(row[k]) for k in keys) + " |")
    for name in ("citeqa-hybrid", "citeqa-dense"):
        r = rows[name]["ratios_vs_langchain"]
        cells = ["-"] + [str(r.get(k, "-")) for k in keys[1:]]
        lines.append(f"| ratio {name} / LangChain | " + " | ".join(cells) + " |")
    lines.append("")
    for pair, p in result["p_values"].items():
        lines.append(
            f"Paired t-test, {pair}: p = {p['recall@5']:.2f} (Recall@5), "
            f"{p['mrr@10']:.2f} (MRR@10)."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--repeat", type=int, default=3, help="ingest runs and latency passes")
    parser.add_argument("--quick", action="store_true", help="two small documents, one repeat")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    files = sorted(p for p in args.corpus.iterdir() if p.suffix == ".txt")
    dataset = load_dataset(args.qa)
    if args.quick:
        files = [f for f in files if f.name in QUICK_FILES]
        keep = {f.name for f in files}
        queries = [q for q in dataset.queries if set(q.gold_sources) <= keep]
        dataset = replace(dataset, queries=queries)
        args.repeat = 1
    with tempfile.TemporaryDirectory(prefix="citeqa-lc-") as work:
        result = run(files, dataset, args.embedder, args.repeat, Path(work))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "langchain_compare.json").write_text(json.dumps(result, indent=2))
    (args.out / "langchain_compare.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
