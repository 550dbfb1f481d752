"""Two probes behind docs/retrieval.md's section on whole-document vectors (issue 17).

windows: on the bundled corpus's index, windows of N consecutive passages, each embedded
  whole and as its passages' normalised mean. For every answerable single-turn question of
  the QA set: the mean cosine of each representation (and of the window's best passage),
  and the MRR of the windows holding its evidence among all windows, by language pair.
candidates: on a BEIR set's index with document vectors, hybrid search with and without
  dense document candidates (each of the `pool` documents nearest by whole-document vector
  adds its best passage to the candidates, as document BM25 adds its best documents'),
  with paired t-tests.

Usage:
  python bench/document_vectors.py windows --index INDEX_OF_corpus/ [--size 6]
  python bench/document_vectors.py candidates ../shared/datasets/cisi --index X
Writes bench/results/document-vectors-{windows,candidates}.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.embedders import load_embedder
from embeddings.store import Index
from eval.datasets import contains, load_dataset, write_beir_corpus
from eval.retrieval import evaluate
from qa.factory import open_retriever
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TESTED = ["ndcg@10", "recall@5", "recall@100", "mrr@10"]


def windows(index_dir: Path, size: int) -> dict[str, Any]:
    index = Index(index_dir)
    embedder = load_embedder(index.manifest.get("embedder_spec", index.embedder))
    data = load_dataset(ROOT / "eval/qa/corpus_qa.jsonl")
    by_doc: dict[str, list[Any]] = {}
    for c in index.iter_chunks():
        by_doc.setdefault(c.source, []).append(c)
    langs = index.document_languages()
    wins = []  # (source, chunks, text)
    for source, chunks in by_doc.items():
        chunks.sort(key=lambda c: c.start)
        text = index.document_text(source) or ""
        for i in range(0, max(1, len(chunks) - size + 1), max(1, size // 2)):
            part = chunks[i : i + size]
            wins.append((source, part, text[part[0].start : part[-1].end]))
    whole = np.concatenate(
        [embedder.embed_documents([w[2] for w in wins[i : i + 8]]) for i in range(0, len(wins), 8)]
    )
    passages = [index.vectors([c.row for c in part]) for _, part, _ in wins]
    mean = np.array([v.mean(axis=0) / np.linalg.norm(v.mean(axis=0)) for v in passages])
    cosines: dict[str, list[float]] = {"whole": [], "mean": [], "best passage": []}
    ranks: dict[str, dict[str, list[float]]] = {}
    for q in data.queries:
        if not q.answerable or q.after or not q.evidence:
            continue
        v = embedder.embed_query(q.text)
        cosines["whole"].append(float((whole @ v).mean()))
        cosines["mean"].append(float((mean @ v).mean()))
        cosines["best passage"].append(float(np.mean([(p @ v).max() for p in passages])))
        good = [
            i
            for i, (s, _, t) in enumerate(wins)
            if any(Path(s).name == e.source and contains(t, e.text) for e in q.evidence)
        ]
        if not good:
            continue
        pair = f"{q.lang}->{langs[wins[good[0]][0]]}"
        for name, matrix in (("whole", whole), ("mean", mean)):
            scores = matrix @ v
            rank = 1 + int((scores > max(scores[good])).sum())
            ranks.setdefault(pair, {}).setdefault(name, []).append(1 / rank)
    every = {n: [r for d in ranks.values() for r in d[n]] for n in ("whole", "mean")}
    return {
        "windows": len(wins),
        "passages_per_window": size,
        "mean_cosine": {k: round(float(np.mean(x)), 4) for k, x in cosines.items()},
        "mrr": {k: round(float(np.mean(x)), 3) for k, x in every.items()},
        "mrr_by_pair": {
            pair: {k: round(float(np.mean(x)), 3) for k, x in d.items()} | {"n": len(d["whole"])}
            for pair, d in sorted(ranks.items())
        },
    }


def candidates(dataset: Path, index_dir: Path) -> dict[str, Any]:
    from scipy.stats import ttest_rel

    import qa.retrieval

    data = load_dataset(dataset)
    doc_of_file = (
        write_beir_corpus(data, index_dir / "eval-docs" / data.name) if data.fmt == "beir" else {}
    )
    retriever = open_retriever(Settings(index=index_dir))
    retriever.clear_cache = lambda: None  # type: ignore[method-assign]  # embed each once
    docs = retriever.documents()
    stored = retriever.index.document_vectors(docs.sources)
    ids = [d for d, s in enumerate(docs.sources) if stored.get(s) is not None]
    matrix = np.array([stored[docs.sources[d]] for d in ids])
    plain_best, plain_hybrid = qa.retrieval.Retriever._best_chunks, qa.retrieval.Retriever._hybrid
    state: dict[str, Any] = {"on": False, "vector": None}

    def best_chunks(self, documents, doc_bm25, scores, pool, allowed):  # type: ignore[no-untyped-def]
        out = plain_best(self, documents, doc_bm25, scores, pool, allowed)
        if state["on"] and len(ids) and documents.whole_ready(self.mean_up_to()):
            v = state["vector"]
            for j in np.argsort(-(matrix @ v))[:pool]:
                rows = documents.rows_of(ids[j])
                if allowed is not None:
                    rows = rows[np.isin(rows, allowed)]
                if len(rows):
                    out.append(int(rows[int(np.argmax(self.index.vectors(rows.tolist()) @ v))]))
        return out

    def hybrid(self, query, pool, allowed):  # type: ignore[no-untyped-def]
        state["vector"] = query.vector
        return plain_hybrid(self, query, pool, allowed)

    qa.retrieval.Retriever._best_chunks = best_chunks  # type: ignore[method-assign]
    qa.retrieval.Retriever._hybrid = hybrid  # type: ignore[method-assign]
    results, first = {}, None
    for name, on in (("kept: candidates from passages and document BM25", False),
                     ("also dense document candidates", True)):  # fmt: skip
        state["on"] = on
        mode = evaluate(retriever, data, ["hybrid"], doc_of_file).modes["hybrid"]
        first = first or mode
        qids = sorted(mode.per_query["ndcg@10"])
        p = {}
        for m in ("ndcg@10", "recall@5", "mrr@10"):
            a = [first.per_query[m][q] for q in qids]
            b = [mode.per_query[m][q] for q in qids]
            p[m] = round(float(ttest_rel(b, a).pvalue), 4) if a != b else 1.0
        results[name] = {m: round(mode.means[m], 4) for m in TESTED} | {"p": p}
        print(name, results[name], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="probe", required=True)
    w = sub.add_parser("windows")
    w.add_argument("--index", type=Path, required=True)
    w.add_argument("--size", type=int, default=6)
    c = sub.add_parser("candidates")
    c.add_argument("dataset", type=Path)
    c.add_argument("--index", type=Path, required=True)
    for p in (w, c):
        p.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    if args.probe == "windows":
        result = windows(args.index, args.size)
    else:
        result = candidates(args.dataset, args.index)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"document-vectors-{args.probe}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
