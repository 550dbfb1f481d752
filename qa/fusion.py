"""Reciprocal rank fusion made language-aware, shared by the embedded ranking
(`qa.retrieval`) and a store that ranks BM25 itself (`qa.storesearch`).

BM25 speaks for a candidate only when the candidate is in the question's language; for one in
another language, the names and numbers the two share speak instead, else its dense rank
stands in. On one-language data this is plain RRF; on purely cross-lingual data it is dense.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def neutral_words(question: str) -> list[str]:
    """Words of a question that read the same in Dutch and English: names and numbers.

    A name is a capitalised word that does not open a sentence; a number has a digit.
    """
    words = re.findall(r"[\w'’-]+|[.?!]", question)
    out, opening = [], True
    for word in words:
        if word in ".?!":
            opening = True
            continue
        if any(ch.isdigit() for ch in word) or (word[0].isupper() and not opening):
            out.append(word)
        opening = False
    return out


def _ranks(candidates: Sequence[int], scores: dict[int, float]) -> dict[int, int]:
    order = sorted(candidates, key=lambda r: -scores.get(r, float("-inf")))
    return {r: i + 1 for i, r in enumerate(order)}


def language_rrf(
    items: Sequence[int],
    dense: dict[int, float],
    bm25: dict[int, float],
    neutral: dict[int, float],
    same_language: dict[int, bool],
    c: int,
) -> dict[int, float]:
    """Language-aware RRF of dense and BM25 ranks among `items` (passages or documents)."""
    dense_rank, bm25_rank = _ranks(items, dense), _ranks(items, bm25)
    neutral_rank = _ranks(items, neutral)
    fused = {}
    for r in items:
        dense_part = 1.0 / (c + dense_rank[r])
        if same_language[r]:
            lexical_part = 1.0 / (c + bm25_rank[r]) if bm25.get(r, 0.0) > 0 else 0.0
        elif neutral.get(r, 0.0) > 0:
            # another language, but it shares the question's names or numbers
            lexical_part = max(dense_part, 1.0 / (c + neutral_rank[r]))
        else:
            # Another language and no name or number in common: BM25 says nothing about
            # this passage, so let the dense rank stand in for it.
            lexical_part = dense_part
        fused[r] = dense_part + lexical_part
    return fused


__all__ = ["language_rrf", "neutral_words"]
