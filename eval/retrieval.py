"""Run retrieval over an evaluation set and score it with ranx, per mode and language pair.

A run ranks *relevance units*: for BEIR sets the document a passage belongs to, for QA sets
the evidence span a passage contains (so overlapping chunks holding one span count once).
Metrics come from ranx; this module only builds its inputs and groups its outputs.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citeqa.extras import require
from embeddings.language import detect_language
from embeddings.progress import Steps
from eval.datasets import Dataset, Query, contains
from qa.retrieval import Hit, Retriever
from qa.settings import Mode

METRICS = ["ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10"]


@dataclass
class ModeResult:
    mode: str
    run: dict[str, dict[str, float]]
    latencies_ms: list[float]
    means: dict[str, float] = field(default_factory=dict)
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> qid -> v
    by_pair: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return float(np.percentile(self.latencies_ms, 50)) if self.latencies_ms else 0.0

    @property
    def p95(self) -> float:
        return float(np.percentile(self.latencies_ms, 95)) if self.latencies_ms else 0.0


@dataclass
class RetrievalEval:
    dataset: str
    queries: int
    qrels: dict[str, dict[str, int]]
    pairs: dict[str, str]  # qid -> "en→nl"
    modes: dict[str, ModeResult]
    significance: dict[str, dict[str, float]]  # "hybrid vs dense" -> metric -> p-value


def qrels_for(dataset: Dataset) -> dict[str, dict[str, int]]:
    if dataset.fmt == "beir":
        return {q.qid: dataset.qrels[q.qid] for q in dataset.queries}
    return {
        q.qid: {f"{q.qid}#e{i}": 1 for i in range(len(q.evidence))}
        for q in dataset.queries
        if q.answerable and q.evidence and not q.after  # follow-ups: scored by eval.answers
    }


def units(hit: Hit, query: Query, dataset: Dataset, doc_of_file: dict[str, str]) -> list[str]:
    name = Path(hit.chunk.source).name
    if dataset.fmt == "beir":
        return [doc_of_file.get(name, hit.chunk.chunk_id)]
    found = [
        f"{query.qid}#e{i}"
        for i, ev in enumerate(query.evidence)
        if ev.source == name and contains(hit.chunk.text, ev.text)
    ]
    return found or [hit.chunk.chunk_id]


def language_pairs(
    dataset: Dataset, doc_langs: dict[str, str], doc_of_file: dict[str, str]
) -> dict[str, str]:
    """qid -> 'question language→document language' ('mixed' when gold docs differ)."""
    file_of_doc = {d: f for f, d in doc_of_file.items()}
    pairs = {}
    for q in dataset.queries:
        qlang = q.lang or detect_language(q.text)
        if dataset.fmt == "beir":
            gold = [file_of_doc.get(d, "") for d in dataset.qrels.get(q.qid, {})]
        else:
            gold = list(q.gold_sources)
        langs = {doc_langs.get(g, "other") for g in gold}
        dlang = langs.pop() if len(langs) == 1 else "mixed"
        pairs[q.qid] = f"{qlang}→{dlang}"
    return pairs


def run_mode(
    retriever: Retriever,
    dataset: Dataset,
    mode: Mode,
    doc_of_file: dict[str, str],
    k: int = 100,
    progress: bool = False,
) -> ModeResult:
    run: dict[str, dict[str, float]] = {}
    latencies = []
    retriever.clear_cache()  # each mode pays for its own query embeddings
    with Steps(len(dataset.queries), f"eval {mode}", "queries", progress) as steps:
        for query in dataset.queries:
            started = time.perf_counter()
            hits = retriever.search(query.text, k=k, mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
            ranked: dict[str, float] = {}
            for hit in hits:
                for unit in units(hit, query, dataset, doc_of_file):
                    ranked.setdefault(unit, float(k + 1 - hit.rank))
            run[query.qid] = ranked
            steps.step()
    return ModeResult(mode=mode, run=run, latencies_ms=latencies)


def evaluate(
    retriever: Retriever,
    dataset: Dataset,
    modes: Sequence[Mode],
    doc_of_file: dict[str, str] | None = None,
    progress: bool = False,
) -> RetrievalEval:
    ranx = require("ranx", "eval")
    Qrels, Run, compare, ranx_evaluate = ranx.Qrels, ranx.Run, ranx.compare, ranx.evaluate

    doc_of_file = doc_of_file or {}
    qrels = qrels_for(dataset)
    if not qrels:
        raise ValueError(f"{dataset.name}: no judged queries")
    doc_langs = {Path(d.source).name: d.lang for d in retriever.index.documents()}
    pairs = language_pairs(dataset, doc_langs, doc_of_file)
    ranx_qrels = Qrels(qrels)
    results: dict[str, ModeResult] = {}
    runs = []
    for mode in modes:
        result = run_mode(retriever, dataset, mode, doc_of_file, progress=progress)
        judged = {qid: (result.run.get(qid) or {"∅": 0.0}) for qid in qrels}
        ranx_run = Run(judged, name=mode)
        runs.append(ranx_run)
        with warnings.catch_warnings():  # ranx's numba kernels cast its ids; harmless
            warnings.filterwarnings("ignore", message="unsafe cast")
            per_query = ranx_evaluate(ranx_qrels, ranx_run, METRICS, return_mean=False)
        qids = list(ranx_qrels.keys())
        result.per_query = {
            m: dict(zip(qids, map(float, per_query[m]), strict=True)) for m in METRICS
        }
        result.means = {m: float(np.mean(per_query[m])) for m in METRICS}
        grouped: dict[str, list[str]] = defaultdict(list)
        for qid in qids:
            grouped[pairs[qid]].append(qid)
        result.by_pair = {
            pair: {m: float(np.mean([result.per_query[m][q] for q in members])) for m in METRICS}
            | {"queries": float(len(members))}
            for pair, members in sorted(grouped.items())
        }
        results[mode] = result
    significance: dict[str, dict[str, float]] = {}
    if len(runs) > 1 and len(qrels) >= 2:
        report = compare(
            ranx_qrels, runs, ["ndcg@10", "recall@5", "mrr@10"], stat_test="student"
        ).to_dict()
        names = [r.name for r in runs]
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                significance[f"{a} vs {b}"] = {
                    # identical per-query scores give no p-value (NaN); report 1.0
                    m: float(p) if p == p else 1.0
                    for m, p in report[a]["comparisons"][b].items()
                }
    return RetrievalEval(dataset.name, len(qrels), qrels, pairs, results, significance)
