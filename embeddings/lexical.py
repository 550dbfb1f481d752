"""The BM25 side of an index, stored in each generation as .npy + .json, no pickle.

Terms are analysed once per chunk at indexing time. Each generation keeps, next to bm25s's
score matrix, the term counts of every chunk (`TermCounts`), so the next generation drops the
removed chunks, appends the new ones and recomputes the scores with a few vectorised passes:
an update costs seconds at a million chunks instead of re-tokenising every chunk. The score
matrix is the one bm25s builds (Lucene's BM25; checked against bm25s in the tests); a query
is scored the way bm25s scores it. Loading checks every array (dtype, shape, pointers, ids in
range) before any computation sees it. This module reads and writes files; checksums are the
store's.
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

K1, B = 1.2, 0.75  # on CISI (a BEIR set, not shipped: `citeqa eval DIR`) these beat 0.9/0.4
_COUNT_FILES = (
    "rows.npy",
    "counts_indptr.npy",
    "counts_terms.npy",
    "counts_tf.npy",
    "counts_vocab.json",
)


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
        """Write the counts as `load` reads them back: `load(save(c)) == c`, arrays, dtypes
        and vocabulary (unused terms too) alike."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "rows.npy", self.rows, allow_pickle=False)
        np.save(folder / "counts_indptr.npy", self.indptr, allow_pickle=False)
        np.save(folder / "counts_terms.npy", self.terms, allow_pickle=False)
        np.save(folder / "counts_tf.npy", self.tf, allow_pickle=False)
        (folder / "counts_vocab.json").write_text(json.dumps(self.vocab), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TermCounts | None:
        """The counts saved in `folder`, checked (ValueError when damaged); None when it has
        none at all."""
        if not all((folder / name).is_file() for name in _COUNT_FILES):
            return None
        rows = _rows(folder)
        indptr = _array(folder / "counts_indptr.npy", np.int64)
        terms = _array(folder / "counts_terms.npy", np.int32)
        tf = _array(folder / "counts_tf.npy", np.uint16)
        vocab = _vocab(folder / "counts_vocab.json")
        _check_pointers(indptr, len(rows), len(terms), "counts_indptr")
        if len(tf) != len(terms):
            raise ValueError("counts_tf and counts_terms differ in length")
        if len(terms) and (int(terms.min()) < 0 or int(terms.max()) >= len(vocab)):
            raise ValueError("a term id in counts_terms is outside the vocabulary")
        return cls(rows, indptr, terms, tf, vocab)

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


def _array(path: Path, dtype: type, ndim: int = 1) -> np.ndarray:
    """A .npy file of exactly this dtype and rank (no pickle), else ValueError."""
    array = np.load(path, allow_pickle=False)
    if array.dtype != np.dtype(dtype) or array.ndim != ndim:
        raise ValueError(f"{path.name}: expected {np.dtype(dtype)} of rank {ndim}")
    return array


def _rows(folder: Path) -> np.ndarray:
    rows = _array(folder / "rows.npy", np.int64)
    if len(rows) and (int(rows[0]) < 0 or np.any(np.diff(rows) <= 0)):
        raise ValueError("rows.npy: row ids must be ascending and unique")
    return rows


def _vocab(path: Path) -> list[str]:
    vocab = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise ValueError(f"{path.name}: expected a list of terms")
    if len(set(vocab)) != len(vocab):
        raise ValueError(f"{path.name}: a term appears twice")
    return vocab


def _check_pointers(indptr: np.ndarray, n: int, entries: int, name: str) -> None:
    """A CSR/CSC pointer array: n + 1 entries from 0 up to `entries`, never decreasing."""
    if len(indptr) != n + 1 or indptr[0] != 0 or indptr[-1] != entries:
        raise ValueError(f"{name}: {len(indptr)} pointers do not fit {n} rows, {entries} entries")
    if np.any(np.diff(indptr) < 0):
        raise ValueError(f"{name}: pointers decrease")


class LexicalIndex:
    """BM25 scores of chunks (by FAISS row id) for a list of query terms.

    Holds bm25s's term-major score matrix (CSC: for each term, the chunks it occurs in and
    their score) and scores a query the way bm25s does: the sum of its terms' columns.
    """

    def __init__(
        self,
        rows: np.ndarray,
        vocab: Sequence[str] = (),
        matrix: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.rows = rows
        self.vocab = list(vocab)
        self._vocab: dict[str, int] = {t: i for i, t in enumerate(vocab) if t != ""}
        empty = (np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64))
        self._data: np.ndarray
        self._indices: np.ndarray
        self._indptr: np.ndarray
        self._data, self._indices, self._indptr = matrix or empty

    @classmethod
    def build(cls, rows: Sequence[int] | np.ndarray, terms: Sequence[str]) -> LexicalIndex:
        return cls.from_counts(TermCounts.from_terms(np.asarray(rows, dtype=np.int64), terms))

    @classmethod
    def from_counts(cls, counts: TermCounts) -> LexicalIndex:
        if not len(counts.rows):
            return cls(counts.rows)
        return cls(counts.rows, counts.vocab, counts.bm25_matrix())

    def save(self, folder: Path) -> None:
        """The score matrix, its rows and vocabulary (the same files as `TermCounts.save`)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "rows.npy", self.rows, allow_pickle=False)
        (folder / "counts_vocab.json").write_text(json.dumps(self.vocab), encoding="utf-8")
        np.save(folder / "bm25_data.npy", self._data, allow_pickle=False)
        np.save(folder / "bm25_indices.npy", self._indices, allow_pickle=False)
        np.save(folder / "bm25_indptr.npy", self._indptr, allow_pickle=False)
        (folder / "lexical.json").write_text(json.dumps({"k1": K1, "b": B}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Load and check every array before use: shapes, pointers, ids in range (ValueError
        otherwise), so damaged files never reach an index computation."""
        rows = _rows(folder)
        vocab = _vocab(folder / "counts_vocab.json")
        data = _array(folder / "bm25_data.npy", np.float32)
        indices = _array(folder / "bm25_indices.npy", np.int32)
        indptr = _array(folder / "bm25_indptr.npy", np.int64)
        params = json.loads((folder / "lexical.json").read_text(encoding="utf-8"))
        if not isinstance(params, dict) or set(params) != {"k1", "b"}:
            raise ValueError("lexical.json: expected k1 and b")
        if not len(rows):
            if len(data) or len(indices):
                raise ValueError("BM25 scores for an empty index")
            return cls(rows)
        _check_pointers(indptr, len(vocab), len(data), "bm25_indptr")
        if len(indices) != len(data):
            raise ValueError("bm25_indices and bm25_data differ in length")
        if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= len(rows)):
            raise ValueError("bm25_indices: a chunk index is out of range")
        if not np.all(np.isfinite(data)):
            raise ValueError("bm25_data: scores must be finite")
        return cls(rows, vocab, (data, indices, indptr))

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk, aligned with `self.rows`."""
        n = len(self.rows)
        scores = np.zeros(n, dtype=np.float32)
        for t in terms:
            i = self._vocab.get(t)
            if i is not None:
                start, end = self._indptr[i], self._indptr[i + 1]
                scores += np.bincount(
                    self._indices[start:end], weights=self._data[start:end], minlength=n
                ).astype(np.float32)
        return scores

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
