"""The BM25 side of an index (bm25s), stored in each generation as npy + json, no pickle.

Terms are analysed once per chunk at indexing time. Each generation keeps, next to bm25s's
score matrix, the term counts of every chunk (`TermCounts`), so the next generation drops the
removed chunks, appends the new ones and recomputes the scores with a few vectorised passes:
an update costs seconds at a million chunks instead of re-tokenising every chunk. The score
matrix is the one bm25s builds (Lucene's BM25; checked against bm25s in the tests), and
bm25s scores queries and persists it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

K1, B = 1.2, 0.75  # measured on CISI (see ../shared/datasets/cisi/SOURCE.txt): beats 0.9/0.4
_COUNT_FILES = ("counts_indptr.npy", "counts_terms.npy", "counts_tf.npy", "counts_vocab.json")


@dataclass
class TermCounts:
    """How often each term occurs in each chunk: chunk-major sparse rows, sorted by row id."""

    rows: np.ndarray  # int64 row ids (FAISS ids), ascending
    indptr: np.ndarray  # int64, len(rows) + 1
    terms: np.ndarray  # int32 term ids
    tf: np.ndarray  # uint16 counts
    vocab: list[str]  # term id -> term

    @classmethod
    def empty(cls) -> TermCounts:
        return cls(
            np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int32),
            np.zeros(0, np.uint16), [],
        )  # fmt: skip

    @classmethod
    def from_terms(cls, rows: Iterable[int], terms: Iterable[str]) -> TermCounts:
        return cls.empty().updated((), list(zip(rows, terms, strict=True)))

    def updated(self, removed: Iterable[int], added: Sequence[tuple[int, str]]) -> TermCounts:
        """Drop the `removed` rows, then add (row, space-separated terms) pairs."""
        gone = np.asarray(sorted(set(removed)), dtype=np.int64)
        keep = ~np.isin(self.rows, gone) if len(gone) else np.ones(len(self.rows), bool)
        lengths = np.diff(self.indptr)
        entry_keep = np.repeat(keep, lengths)
        vocab = list(self.vocab)
        ids = {t: i for i, t in enumerate(vocab)}
        new_rows, new_lengths, new_terms, new_tf = [], [], [], []
        for row, text in sorted(added):
            counts = Counter(text.split())
            new_rows.append(row)
            new_lengths.append(len(counts))
            for term, n in counts.items():
                if term not in ids:
                    ids[term] = len(vocab)
                    vocab.append(term)
                new_terms.append(ids[term])
                new_tf.append(min(n, 65535))
        rows = np.concatenate([self.rows[keep], np.asarray(new_rows, dtype=np.int64)])
        lengths = np.concatenate([lengths[keep], np.asarray(new_lengths, dtype=np.int64)])
        terms = np.concatenate([self.terms[entry_keep], np.asarray(new_terms, dtype=np.int32)])
        tf = np.concatenate([self.tf[entry_keep], np.asarray(new_tf, dtype=np.uint16)])
        order = np.argsort(rows, kind="stable")
        if len(rows) and np.any(np.diff(rows[order]) == 0):
            raise ValueError("a chunk row appears twice in the term counts")
        if not np.array_equal(order, np.arange(len(rows))):  # new rows below old ones: reorder
            starts = np.concatenate([[0], np.cumsum(lengths)])[:-1]
            pick = np.concatenate(
                [np.arange(starts[i], starts[i] + lengths[i]) for i in order]
                or [np.zeros(0, np.int64)]
            )
            rows, lengths, terms, tf = rows[order], lengths[order], terms[pick], tf[pick]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return TermCounts(rows, indptr, terms, tf, vocab)

    def save(self, folder: Path) -> None:
        np.save(folder / "counts_indptr.npy", self.indptr, allow_pickle=False)
        np.save(folder / "counts_terms.npy", self.terms, allow_pickle=False)
        np.save(folder / "counts_tf.npy", self.tf, allow_pickle=False)
        (folder / "counts_vocab.json").write_text(json.dumps(self.vocab), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TermCounts | None:
        """The counts saved in `folder`, or None when it has none (an older generation)."""
        if not all((folder / name).is_file() for name in _COUNT_FILES):
            return None
        return cls(
            rows=np.load(folder / "rows.npy", allow_pickle=False),
            indptr=np.load(folder / "counts_indptr.npy", allow_pickle=False),
            terms=np.load(folder / "counts_terms.npy", allow_pickle=False),
            tf=np.load(folder / "counts_tf.npy", allow_pickle=False),
            vocab=json.loads((folder / "counts_vocab.json").read_text(encoding="utf-8")),
        )

    def bm25_matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """bm25s's term-major (CSC) score matrix: data, doc indices, indptr (Lucene BM25)."""
        n, vocab = len(self.rows), len(self.vocab)
        doc_of_entry = np.repeat(np.arange(n, dtype=np.int32), np.diff(self.indptr))
        tf = self.tf.astype(np.float32)
        doc_len = np.bincount(doc_of_entry, weights=tf, minlength=n).astype(np.float32)
        avg_len = float(doc_len.mean()) if n else 1.0
        df = np.bincount(self.terms, minlength=vocab).astype(np.float64)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = K1 * ((1 - B) + B * doc_len / avg_len)
        scores = idf[self.terms] * (tf / (norm[doc_of_entry] + tf))
        # chunk-major to term-major in one O(entries) pass; documents stay ascending per term
        matrix = sp.csr_matrix((scores, self.terms, self.indptr), shape=(n, vocab)).tocsc()
        return (
            matrix.data.astype(np.float32),
            matrix.indices.astype(np.int32),
            matrix.indptr.astype(np.int64),
        )


class LexicalIndex:
    """BM25 scores of chunks (by FAISS row id) for a list of query terms."""

    def __init__(self, model: object | None, rows: np.ndarray) -> None:
        self._model = model
        self.rows = rows
        vocab = getattr(model, "vocab_dict", None) or {}
        self._vocab: dict[str, int] = {t: i for t, i in vocab.items() if t != ""}

    @classmethod
    def build(cls, rows: Sequence[int] | np.ndarray, terms: Sequence[str]) -> LexicalIndex:
        return cls.from_counts(TermCounts.from_terms(np.asarray(rows, dtype=np.int64), terms))

    @classmethod
    def from_counts(cls, counts: TermCounts) -> LexicalIndex:
        import bm25s

        if not len(counts.rows):
            return cls(None, counts.rows)
        data, indices, indptr = counts.bm25_matrix()
        model = bm25s.BM25(k1=K1, b=B, method="lucene")
        model.scores = {
            "data": data,
            "indices": indices,
            "indptr": indptr,
            "num_docs": len(counts.rows),
        }
        model.vocab_dict = {t: i for i, t in enumerate(counts.vocab)}
        model.unique_token_ids_set = set(model.vocab_dict.values())
        model.nonoccurrence_array = None  # Lucene's BM25 has none
        return cls(model, counts.rows)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "rows.npy", self.rows, allow_pickle=False)
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        (folder / "lexical.json").write_text(
            json.dumps({"k1": K1, "b": B, "empty": self._model is None})
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        meta = json.loads((folder / "lexical.json").read_text())
        rows = np.load(folder / "rows.npy", allow_pickle=False)
        if meta.get("empty"):
            return cls(None, rows)
        model = bm25s.BM25.load(str(folder), allow_pickle=False, mmap=False)
        return cls(model, rows)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk, aligned with `self.rows`."""
        ids = [self._vocab[t] for t in terms if t in self._vocab]
        if self._model is None or not ids:
            return np.zeros(len(self.rows), dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float32)  # type: ignore[attr-defined]

    def top(
        self, scores: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(row id, score) of the `k` best chunks with a positive score, best first."""
        if allowed is not None:
            scores = np.where(np.isin(self.rows, allowed), scores, 0.0)
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return []
        part = np.argpartition(-scores, k - 1)[:k]
        best = part[np.argsort(-scores[part], kind="stable")]
        return [(int(self.rows[i]), float(scores[i])) for i in best]

    def at(self, scores: np.ndarray, rows: Sequence[int]) -> dict[int, float]:
        """Scores of the given row ids (rows are stored sorted, so this is a binary search)."""
        wanted = np.asarray(rows, dtype=np.int64)
        if not len(wanted) or not len(self.rows):
            return {}
        pos = np.clip(np.searchsorted(self.rows, wanted), 0, len(self.rows) - 1)
        found = self.rows[pos] == wanted
        return {int(r): float(scores[p]) for r, p, f in zip(wanted, pos, found, strict=True) if f}
