"""Ranking over a store that does its own BM25 (`embeddings.stores.LexicalStore`, Milvus).

The store gives candidates: dense top-k, BM25 top-k in each language's field (the question
analysed as that field is: `query_stemming=language`), and the exact scores of given rows.
The ranking is the embedded path's: the same language-aware RRF (`qa.fusion`), the same
names-and-numbers pass across languages. What such a store cannot give cheaply is the
document-level BM25 (the embedded store sums per-chunk term counts): hybrid here fuses
passages only (the effect, measured: docs/scale.md). This module ranks; it stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from embeddings.milvus_schema import LANGUAGE_FIELD
from embeddings.stores import LexicalStore
from qa.fusion import language_rrf

if TYPE_CHECKING:
    from qa.query import Query
    from qa.settings import RetrievalConfig

Ranked = list[tuple[int, float, float | None, float | None, float | None]]


def _bm25_top(
    store: LexicalStore, text: str, k: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """The best `k` of every language field's BM25 top-k, by score."""
    found = [hit for lang in LANGUAGE_FIELD for hit in store.bm25(text, lang, k, allowed)]
    return sorted(found, key=lambda h: -h[1])[:k]


def _bm25_at(store: LexicalStore, text: str, rows: Sequence[int]) -> dict[int, float]:
    """Exact BM25 of these rows, each in its own language's field (0 where no term matches)."""
    if not rows or not text.strip():
        return {}
    allowed = np.asarray(rows, dtype=np.int64)
    return {r: s for lang in LANGUAGE_FIELD for r, s in store.bm25(text, lang, len(rows), allowed)}


def ranked(
    store: object,
    config: RetrievalConfig,
    query: Query,
    mode: str,
    pool: int,
    allowed: np.ndarray | None,
) -> Ranked:
    """(row, score, dense, bm25, fused) best first, for `mode` (dense, bm25, hybrid); the
    question built once (`qa.query.Query`): its text, vector and language."""
    if not isinstance(store, LexicalStore):
        raise TypeError(f"{type(store).__name__} does not rank BM25 itself")
    if mode == "bm25":
        return [(r, s, None, s, None) for r, s in _bm25_top(store, query.text, pool, allowed)]
    vector = query.vector
    dense = store.search(vector, pool, allowed)
    if mode == "dense":
        return [(r, s, s, None, None) for r, s in dense]
    lexical = _bm25_top(store, query.text, pool, allowed)
    candidates = list(dict.fromkeys([r for r, _ in dense] + [r for r, _ in lexical]))
    if not candidates:
        return []
    dense_scores = dict(dense)
    missing = [r for r in candidates if r not in dense_scores]
    if missing:
        for r, v in zip(missing, store.vectors(missing), strict=True):
            dense_scores[r] = float(v @ vector)
    bm25_scores = dict(lexical)
    unscored = [r for r in candidates if r not in bm25_scores]
    bm25_scores.update(_bm25_at(store, query.text, unscored))
    records = store.chunks(candidates)
    langs = {r: rec.lang for r, rec in records.items()}
    question_lang = query.lang if config.fusion != "rrf" else None
    crossing = question_lang and any(langs.get(r) != question_lang for r in candidates)
    neutral = query.neutral if crossing else ""
    neutral_scores = _bm25_at(store, neutral, candidates) if neutral else {}
    same = {r: question_lang is None or langs.get(r) == question_lang for r in candidates}
    fused = language_rrf(candidates, dense_scores, bm25_scores, neutral_scores, same, config.rrf_k)
    out: Ranked = [
        (r, fused[r], dense_scores[r], bm25_scores.get(r, 0.0), fused[r]) for r in candidates
    ]
    out.sort(key=lambda t: -t[1])
    return out
