"""Which granularity ranks documents best? Every alternative of docs/retrieval.md on one index.

Scores every chunk and every document of a BEIR set's index (the one `citeqa eval` built)
for each query, aggregates to documents in each way listed in VARIANTS, and scores the
document rankings with ranx. Full rankings, no candidate pool: it compares signals, not
`Retriever` (whose figures come from `citeqa eval`).
Writes bench/results/granularity-NAME.{json,md}.
Usage: python bench/granularity.py ../shared/datasets/cisi --index DATA/eval/cisi/index
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embeddings.analysis import analyse, analyse_query
from embeddings.chunking import passages_per_window
from embeddings.embedders import load_embedder
from embeddings.lexical import LexicalIndex
from embeddings.store import Index
from eval.datasets import load_dataset, safe_file_name
from qa.doclevel import DocumentLevel

ROOT = Path(__file__).resolve().parent.parent
METRICS = ["ndcg@10", "recall@10", "mrr@10", "map@100"]


def ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores))
    out[order] = np.arange(1, len(scores) + 1)
    return out


def rrf(*rank_lists: np.ndarray, c: int = 60) -> np.ndarray:
    return sum(1.0 / (c + r) for r in rank_lists)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index", type=Path, required=True, help="the index citeqa eval built")
    parser.add_argument("--embedder", default=None, help="default: the index's own")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    from ranx import Qrels, Run, evaluate

    data = load_dataset(args.dataset)
    index = Index(args.index)
    embedder = load_embedder(args.embedder or index.manifest.get("embedder_spec", index.embedder))
    docs = DocumentLevel(index)
    doc_of_file = {safe_file_name(d): d for d in data.corpus}
    names = [doc_of_file[Path(s).name] for s in docs.sources]
    n_docs, doc_of = len(docs), docs.doc_of_row
    vectors = index.vectors(index.lexical.rows.tolist())
    means = np.zeros((n_docs, vectors.shape[1]), np.float32)
    np.add.at(means, doc_of, vectors)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    # the kept document vector: stored whole-document vectors (documents the embedder reads
    # in one window), the passage's for one-passage documents, the best passage beyond
    chunking = index.manifest["chunking"]
    per_window = passages_per_window(
        embedder.max_tokens, chunking["max_tokens"], chunking["overlap_tokens"]
    )
    stored = index.document_vectors(docs.sources)
    wholes = means.copy()
    longer = np.bincount(doc_of, minlength=n_docs) > per_window
    for d, source in enumerate(docs.sources):
        if source in stored:
            vector = stored[source]
            if vector is None:  # its whole text does not fit the window after all
                longer[d] = True
            else:
                wholes[d] = vector
    texts = dict(index._query("SELECT source, text FROM documents"))
    langs = dict(index._query("SELECT source, lang FROM documents"))
    whole = LexicalIndex.build(
        np.arange(n_docs), [" ".join(analyse(texts[s], langs[s])) for s in docs.sources]
    )

    def best(chunk: np.ndarray) -> np.ndarray:  # a document's best chunk
        out = np.full(n_docs, -np.inf)
        np.maximum.at(out, doc_of, chunk)
        return out

    def top2(chunk: np.ndarray) -> np.ndarray:  # the sum of a document's two best chunks
        order = np.lexsort((-chunk, doc_of))
        first = np.r_[True, doc_of[order][1:] != doc_of[order][:-1]]
        second = np.r_[False, first[:-1]] & ~first
        out = np.zeros(n_docs)
        np.add.at(out, doc_of[order][first | second], chunk[order][first | second])
        return out

    def softmax(chunk: np.ndarray, t: float = 0.02) -> np.ndarray:
        out = np.zeros(n_docs)
        np.add.at(out, doc_of, np.exp((chunk - chunk.max()) / t))
        return t * np.log(out + 1e-30)

    nl_rows = [r for (r,) in index._query("SELECT id FROM chunks WHERE lang = 'nl'")]
    dutch_rows = np.isin(index.lexical.rows, nl_rows)

    def own(lexical: LexicalIndex, dutch: np.ndarray, terms: tuple[list[str], ...]) -> np.ndarray:
        # each passage or document meets the question stemmed in its own language
        return np.where(dutch, lexical.scores(terms[0]), lexical.scores(terms[1]))

    signals = []
    for q in data.queries:
        vector = embedder.embed_query(q.text)
        both, terms = analyse_query(q.text), (analyse(q.text, "nl"), analyse(q.text, "en"))
        once = tuple(list(dict.fromkeys(t)) for t in terms)  # each query term counted once
        chunk_dense = vectors @ vector
        signals.append(
            {
                "cd": chunk_dense,
                "cb_both": index.lexical.scores(both),
                "cb": own(index.lexical, dutch_rows, terms),
                "cb_once": own(index.lexical, dutch_rows, once),
                "cb_both_repeats": index.lexical.scores(analyse_query(q.text, repeats=True)),
                "db_once": own(docs.lexical, docs.dutch, once),
                "db_both": docs.bm25(both),
                "db": own(docs.lexical, docs.dutch, terms),
                "db_text": own(whole, docs.dutch, terms),
                "dd_mean": means @ vector,
                "dd_best": best(chunk_dense),
                "dd_softmax": softmax(chunk_dense),
                "dd_whole": np.where(longer, best(chunk_dense), wholes @ vector),
            }
        )

    def fused(s: dict[str, np.ndarray], doc_vector: str, weight: float = 1.0) -> np.ndarray:
        chunk = rrf(ranks(s["cd"]), ranks(s["cb"]))
        doc = rrf(ranks(s[doc_vector]), ranks(s["db"]))
        return best(chunk + weight * doc[doc_of])

    variants: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = {
        "chunk BM25, best chunk (question stemmed nl+en: main)": lambda s: best(s["cb_both"]),
        "chunk BM25, best chunk, each query term once": lambda s: best(s["cb_once"]),
        "chunk BM25, best chunk (nl+en stems, repeated words kept)": lambda s: best(
            s["cb_both_repeats"]
        ),
        "chunk BM25, best chunk": lambda s: best(s["cb"]),
        "document BM25, summed chunk counts, each query term once": lambda s: s["db_once"],
        "document BM25, summed chunk counts (nl+en stems)": lambda s: s["db_both"],
        "document BM25, summed chunk counts": lambda s: s["db"],
        "document BM25, whole text re-analysed": lambda s: s["db_text"],
        "document BM25, sum of its two best chunks' BM25": lambda s: top2(s["cb"]),
        "chunk dense, best chunk": lambda s: s["dd_best"],
        "document dense, mean chunk vector": lambda s: s["dd_mean"],
        "document dense, softmax of chunk cosines (T=0.02)": lambda s: s["dd_softmax"],
        "hybrid chunk RRF, best chunk (nl+en stems: main)": lambda s: best(
            rrf(ranks(s["cd"]), ranks(s["cb_both"]))
        ),
        "hybrid chunk RRF, best chunk": lambda s: best(rrf(ranks(s["cd"]), ranks(s["cb"]))),
        "RRF of document BM25 and document mean vector": lambda s: rrf(
            ranks(s["db"]), ranks(s["dd_mean"])
        ),
        "RRF of document BM25 and best-passage vector": lambda s: rrf(
            ranks(s["db"]), ranks(s["dd_best"])
        ),
        "RRF of document BM25 and whole-document vector": lambda s: rrf(
            ranks(s["db"]), ranks(s["dd_whole"])
        ),
        "document dense, whole-document vector (best passage beyond a window)": lambda s: s[
            "dd_whole"
        ],
        "chunk RRF + document RRF (whole-document vector: kept)": lambda s: fused(s, "dd_whole"),
        "chunk RRF + document RRF (best chunk vector)": lambda s: fused(s, "dd_best"),
        "chunk RRF + document RRF (mean vector)": lambda s: fused(s, "dd_mean"),
        "chunk RRF + 2 x document RRF (best chunk vector)": lambda s: fused(s, "dd_best", 2.0),
        "chunk RRF + 2 x document RRF (mean vector)": lambda s: fused(s, "dd_mean", 2.0),
    }
    qrels = Qrels({q.qid: data.qrels[q.qid] for q in data.queries})
    results = {}
    for name, score in variants.items():
        run = {}
        for q, s in zip(data.queries, signals, strict=True):
            top = np.argsort(-score(s), kind="stable")[:100]
            run[q.qid] = {names[d]: float(100 - i) for i, d in enumerate(top)}
        results[name] = {
            m: round(float(v), 4) for m, v in evaluate(qrels, Run(run), METRICS).items()
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"granularity-{data.name}.json").write_text(json.dumps(results, indent=2))
    lines = ["| document ranking | " + " | ".join(METRICS) + " |", "|---" * 5 + "|"]
    lines += [
        f"| {name} | " + " | ".join(f"{v[m]:.3f}" for m in METRICS) + " |"
        for name, v in results.items()
    ]
    (args.out / f"granularity-{data.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
