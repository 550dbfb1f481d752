"""Document-level signals beside the chunk ones: BM25 over a whole document, and the cosine
of a document's vector.

The document's term counts are the sum of its chunks' counts (bm25's per-chunk counts, kept
for incremental updates). Its vector, for a document the embedder reads in one window, is
the embedding of the whole document stored at indexing time (`embeddings.indexer.
document_vectors`); where there is none (an index built before them), the normalised mean
of its chunks' vectors stands in; a longer document is scored by its best chunk. They are
built on first use (one vectorised pass over the counts; vectors per document, on demand)
and only re-rank chunks: a hit is still a chunk with exact offsets.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from embeddings.chunking import mostly_short
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
        # doc -> (has an entry, its whole-document vector or None: too long), LRU
        self._whole: OrderedDict[int, tuple[bool, np.ndarray | None]] = OrderedDict()
        self._passages = np.diff(self._doc_starts)  # passages per document
        self._whole_ready: dict[int, bool] = {}  # mean_up_to -> may whole vectors be used
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

    def passage_counts(self) -> np.ndarray:
        """Passages of each document, by document number."""
        return self._passages

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

    def mostly_short(self, mean_up_to: int) -> bool:
        """Whether at least half of the documents have at most `mean_up_to` passages
        (`embeddings.chunking.mostly_short`)."""
        return mostly_short(self._passages.tolist(), mean_up_to)

    def whole_ready(self, mean_up_to: int) -> bool:
        """Whether short documents may be scored by their whole-document vectors: the
        collection is mostly short and every document of 2 to `mean_up_to` passages has its
        entry for its current content. Otherwise (a run cut short, an index from before
        them, or a writer that did not know them) none is used, so all are scored alike."""
        with self._lock:
            if mean_up_to in self._whole_ready:
                return self._whole_ready[mean_up_to]
        ready = self.mostly_short(mean_up_to)
        if ready:
            have = self.index.document_vector_sources()
            wanted = np.flatnonzero((self._passages >= 2) & (self._passages <= mean_up_to))
            ready = all(self.sources[d] in have for d in wanted)
        with self._lock:
            self._whole_ready[mean_up_to] = ready
        return ready

    def whole_vectors(self, docs: Sequence[int]) -> dict[int, np.ndarray | None]:
        """The stored whole-document entries of these documents, where there is one: the
        vector, or None for a document too long for the embedder's window."""
        with self._lock:
            todo = [d for d in docs if d not in self._whole]
        found = self.index.document_vectors([self.sources[d] for d in todo]) if todo else {}
        out = {}
        with self._lock:
            for d in todo:
                self._whole[d] = (self.sources[d] in found, found.get(self.sources[d]))
            for d in docs:
                entry = self._whole.get(d)
                if entry is not None:
                    self._whole.move_to_end(d)
                    if entry[0]:
                        out[d] = entry[1]
            while len(self._whole) > 200_000:
                self._whole.popitem(last=False)
        return out

    def dense(
        self, vector: np.ndarray, docs: Iterable[int], how: str = "best", mean_up_to: int = 3
    ) -> dict[int, float]:
        """Each document's similarity to the query: its best chunk's cosine ("best"), the
        cosine with its normalised mean chunk vector ("mean"), or by the document's length
        ("length": for documents of at most `mean_up_to` chunks, the mean, or in a
        collection of such documents (`whole_ready`) the cosine with the document embedded
        whole, stored at indexing time; for longer ones, the best chunk).

        The mean weighs each of n chunks 1/n: on a short document (an abstract, a few
        chunks on one topic) it pools their evidence, on a long one the chunk that answers
        is drowned by the ones that do not. On a short document the embedding of the whole
        is the thing the mean stands in for, and where most documents are short it ranks
        them better (CISI: docs/retrieval.md). Where most are long, the document level is
        mostly best chunks, and the one such collection measured (the bundled corpus, one
        short document in five) did not gain from the whole vector, so the mean is kept
        there: the change is made only where it was measured to help."""
        wanted = list(docs)
        short = [d for d in wanted if self._passages[d] <= mean_up_to]
        use_whole = how == "length" and self.whole_ready(mean_up_to)
        whole = self.whole_vectors(short) if use_whole else {}
        out = {}
        for d in wanted:
            if whole.get(d) is not None:
                out[d] = float(whole[d] @ vector)
                continue
            vectors = self._vectors(d)
            too_long = d in whole  # an entry without a vector: more than one window
            if how == "mean" or (how == "length" and len(vectors) <= mean_up_to and not too_long):
                mean = vectors.mean(axis=0)
                out[d] = float(mean @ vector) / max(float(np.linalg.norm(mean)), 1e-12)
            else:
                out[d] = float((vectors @ vector).max())
        return out
