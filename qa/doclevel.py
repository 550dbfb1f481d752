"""Document-level signals beside the chunk ones: BM25 over a whole document, and the cosine
of a document's mean chunk vector.

Both come from what a generation already holds, so the store is unchanged: the document's
term counts are the sum of its chunks' counts (bm25's per-chunk counts, kept for
incremental updates), and its vector is the normalised mean of its chunks' stored vectors.
They are built on first use (one vectorised pass over the counts; vectors per document, on
demand) and only re-rank chunks: a hit is still a chunk with exact offsets.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from embeddings.lexical import LexicalIndex, TermCounts
from embeddings.store import LEXICAL, Index


def document_counts(counts: TermCounts, doc_of_row: np.ndarray, n_docs: int) -> TermCounts:
    """Per-document term counts: the sum of the counts of each document's chunks.

    `doc_of_row[i]` is the document number (0..n_docs-1) of the chunk in `counts.rows[i]`.
    Overlapping chunks count their shared sentences twice; BM25's term saturation and
    length norm absorb most of that (measured: docs/retrieval.md).
    """
    n = len(counts.rows)
    chunks = sp.csr_matrix(
        (counts.tf.astype(np.int64), counts.terms, counts.indptr), shape=(n, len(counts.vocab))
    )
    assign = sp.csr_matrix(
        (np.ones(n, dtype=np.int64), (doc_of_row, np.arange(n))), shape=(n_docs, n)
    )
    docs = (assign @ chunks).tocsr()
    docs.sort_indices()
    return TermCounts(
        rows=np.arange(n_docs, dtype=np.int64),
        indptr=docs.indptr.astype(np.int64),
        terms=docs.indices.astype(np.int32),
        tf=np.minimum(docs.data, 65535).astype(np.uint16),
        vocab=list(counts.vocab),
    )


class DocumentLevel:
    """BM25 and dense scores of whole documents (numbered 0..n-1) of one loaded index."""

    def __init__(self, index: Index) -> None:
        self.index = index
        rows_sources = index.row_sources()
        self.sources = sorted({s for _, s in rows_sources})
        number = {s: i for i, s in enumerate(self.sources)}
        row_ids = np.asarray([r for r, _ in rows_sources], dtype=np.int64)
        self.doc_of_row = np.asarray([number[s] for _, s in rows_sources], dtype=np.int64)
        self._row_ids = row_ids  # ascending, like the lexical index's rows
        order = np.argsort(self.doc_of_row, kind="stable")
        self._rows_by_doc = row_ids[order]
        self._doc_starts = np.searchsorted(self.doc_of_row[order], np.arange(len(self.sources) + 1))
        counts = TermCounts.load(index.generation / LEXICAL)
        if counts is None or not np.array_equal(counts.rows, row_ids):
            terms = index.row_terms()
            counts = TermCounts.from_terms(row_ids, [terms[int(r)] for r in row_ids])
        langs = index.document_languages()
        self.dutch = np.asarray([langs.get(s) == "nl" for s in self.sources], dtype=bool)
        self.lexical = LexicalIndex.from_counts(
            document_counts(counts, self.doc_of_row, len(self.sources))
        )
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()  # doc -> chunk vectors
        self._cached_rows = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.sources)

    def docs_of(self, rows: Iterable[int]) -> dict[int, int]:
        """Chunk row id -> document number."""
        wanted = np.asarray(list(rows), dtype=np.int64)
        if not len(wanted):
            return {}
        pos = np.clip(np.searchsorted(self._row_ids, wanted), 0, len(self._row_ids) - 1)
        return {
            int(r): int(self.doc_of_row[p])
            for r, p in zip(wanted, pos, strict=True)
            if self._row_ids[p] == r
        }

    def rows_of(self, doc: int) -> np.ndarray:
        return self._rows_by_doc[self._doc_starts[doc] : self._doc_starts[doc + 1]]

    def bm25(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for these query terms."""
        return self.lexical.scores(terms)

    def _vectors(self, doc: int) -> np.ndarray:
        with self._lock:
            if doc in self._cache:
                self._cache.move_to_end(doc)
                return self._cache[doc]
        vectors = self.index.vectors(self.rows_of(doc).tolist())
        with self._lock:
            self._cache[doc] = vectors
            self._cached_rows += len(vectors)
            while self._cached_rows > 200_000 and len(self._cache) > 1:
                self._cached_rows -= len(self._cache.popitem(last=False)[1])
        return vectors

    def dense(self, vector: np.ndarray, docs: Iterable[int], how: str = "best") -> dict[int, float]:
        """Each document's similarity to the query: its best chunk's cosine ("best"), or the
        cosine with its normalised mean chunk vector ("mean")."""
        out = {}
        for d in docs:
            vectors = self._vectors(d)
            if how == "mean":
                mean = vectors.mean(axis=0)
                out[d] = float(mean @ vector) / max(float(np.linalg.norm(mean)), 1e-12)
            else:
                out[d] = float((vectors @ vector).max())
        return out
