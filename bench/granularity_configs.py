"""Retriever settings side by side on one set, with paired t-tests against main's settings.

Runs `citeqa eval`'s code (eval.retrieval.evaluate, hybrid mode) once per variant of
RetrievalConfig below, embedding each question once for all of them, and tests each
variant's per-query nDCG@10, Recall@5 and MRR@10 against the first (main before issue 17:
chunks only, questions stemmed in Dutch and English; with --sweep, the kept design). Writes
bench/results/granularity-configs-NAME.json. Usage:
  python bench/granularity_configs.py eval/qa/corpus_qa.jsonl --index INDEX_OF_corpus/
  python bench/granularity_configs.py ../shared/datasets/cisi --index DATA/index
  add --adaptive for passages alone / the document level / the level per document (issue 25),
  --sweep for the document-vector-by-length and document-weight sweep (p vs its first row)
  or --parent for the kept design (in a collection of mostly short documents, a short one
  is scored by its whole-document vector, stored at indexing time) against the mean of its
  passage vectors (the design before; what an index built without document vectors gets)
  and against the whole vector in every collection; --index must hold document vectors.
  The --sweep's "mean up to N" rows use the stored vector where the index has one
(for a BEIR set, --index is the one `citeqa eval` was given: its index is DATA/eval/NAME/index)
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from scipy.stats import ttest_rel

from eval.datasets import load_dataset, write_beir_corpus
from eval.retrieval import evaluate
from qa.factory import open_retriever
from qa.retrieval import Retriever
from qa.settings import RetrievalConfig, Settings

ROOT = Path(__file__).resolve().parent.parent
VARIANTS: dict[str, dict[str, Any]] = {
    "main: chunks, nl+en stems": {"granularity": "chunk", "query_stemming": "both"},
    "chunks, passage's language": {"granularity": "chunk"},
    "documents (mean vector), nl+en stems": {
        "query_stemming": "both",
        "document_vector": "mean",
    },
    "documents (mean vector), passage's language": {"document_vector": "mean"},
    "documents (best passage), nl+en stems": {"query_stemming": "both", "document_vector": "best"},
    "documents (best passage), passage's language": {"document_vector": "best"},
    "kept: documents (mean up to the embedder's window, else best), passage's language": {},
}
# --sweep: the document vector chosen by the document's length, and the weight of the
# document level, each against the design before (the first row)
SWEEP: dict[str, dict[str, Any]] = {
    "best passage (the design before), weight 1": {"document_vector": "best"},
    "mean vector, weight 1": {"document_vector": "mean"},
    **{f"length: mean up to {n} passages": {"mean_up_to": n} for n in (2, 3, 4, 6, 10)},
    "kept: length, mean up to the embedder's window": {},
    **{
        f"best passage, document weight {w}": {"document_vector": "best", "document_weight": w}
        for w in (0.5, 1.5, 2.0)
    },
}
# --adaptive (issue 25): the document level per document, against passages alone
ADAPTIVE: dict[str, dict[str, Any]] = {
    "passages alone (granularity=chunk)": {"granularity": "chunk"},
    "document level for every document (granularity=document)": {"granularity": "document"},
    "document level where the document fits the window (granularity=adaptive)": {
        "granularity": "adaptive"
    },
}
BEFORE = "length, mean passage vector (an index without document vectors)"
WHOLE = "kept: length, whole-document vector where most documents are short"
ALWAYS = "length, whole-document vector in every collection"
TESTED = ["ndcg@10", "recall@5", "mrr@10"]


def whole_vectors(retriever: Retriever, name: str) -> None:
    """--parent: score short documents by their stored whole-document vectors as the kept
    design does (only in a collection of mostly short documents), in every collection, or
    as an index built before them is scored, by the mean of their passage vectors."""
    docs = retriever.documents()
    docs.__dict__.pop("whole_vectors", None)
    docs.__dict__.pop("mostly_short", None)
    docs._whole_ready.clear()
    if name == BEFORE:
        docs.whole_vectors = lambda ds: {}  # type: ignore[method-assign]
    elif name == ALWAYS:
        docs.mostly_short = lambda n: True  # type: ignore[method-assign]


def _p(a: list[float], b: list[float]) -> float:
    p = float(ttest_rel(b, a).pvalue) if a != b else 1.0
    return p if p == p else 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    parser.add_argument("--sweep", action="store_true", help="the SWEEP variants instead")
    parser.add_argument(
        "--parent",
        action="store_true",
        help="stored whole-document vectors (kept) against the mean passage vector",
    )
    parser.add_argument(
        "--adaptive", action="store_true", help="passages alone, document level, adaptive"
    )
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    data = load_dataset(args.dataset)
    settings, doc_of_file = Settings(index=args.index), {}
    if data.fmt == "beir" and (args.index / "eval-docs" / data.name).is_dir():
        # `citeqa eval DATA --index X`'s layout: documents in X/eval-docs/NAME
        doc_of_file = write_beir_corpus(data, args.index / "eval-docs" / data.name)
    elif data.fmt == "beir":  # `citeqa eval DATA` beside the index DATA/index
        home = args.index.parent / "eval" / data.name
        doc_of_file = write_beir_corpus(data, home / "docs")
        settings = settings.model_copy(update={"index": home / "index"})
    retriever = open_retriever(settings)
    retriever.clear_cache = lambda: None  # type: ignore[method-assign]  # embed each once
    results, first, second = {}, None, None
    variants = SWEEP if args.sweep else VARIANTS
    if args.parent:
        variants = {BEFORE: {}, WHOLE: {}, ALWAYS: {}}
    if args.adaptive:
        variants = ADAPTIVE
    for name, config in variants.items():
        retriever.config = RetrievalConfig(**config)
        whole_vectors(retriever, name)
        mode = evaluate(retriever, data, ["hybrid"], doc_of_file).modes["hybrid"]
        if first is not None and second is None:
            second = mode
        first = first or mode
        qids = sorted(mode.per_query["ndcg@10"])
        p_values = {}
        for m in TESTED:
            a = [first.per_query[m][q] for q in qids]
            b = [mode.per_query[m][q] for q in qids]
            p = float(ttest_rel(b, a).pvalue) if a != b else 1.0
            p_values[m] = round(p if p == p else 1.0, 4)
        if args.adaptive and second is not None and second is not mode:
            p_values["vs the second row"] = {
                m: round(
                    _p(
                        [second.per_query[m][q] for q in qids], [mode.per_query[m][q] for q in qids]
                    ),
                    4,
                )
                for m in TESTED
            }
        results[name] = {
            "config": config,
            **{m: round(v, 4) for m, v in mode.means.items()},
            "p_vs_main": p_values,
            "by_language_pair": {
                pair: {m: round(v[m], 4) for m in ("recall@5", "mrr@10")}
                for pair, v in mode.by_pair.items()
            },
        }
        print(name, {m: results[name][m] for m in TESTED}, p_values, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    kind = (
        "adaptive"
        if args.adaptive
        else "parent"
        if args.parent
        else "sweep"
        if args.sweep
        else "configs"
    )
    out = args.out / f"granularity-{kind}-{data.name}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
