"""The BM25 side of an index (bm25s), stored in each generation as npy + json, no pickle.

Terms are analysed once per chunk at indexing time and kept in SQLite, so a new generation
re-derives the BM25 matrix from stored terms without re-reading or re-analysing documents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

K1, B = 1.2, 0.75  # measured on CISI (see ../shared/datasets/cisi/SOURCE.txt): beats 0.9/0.4


class LexicalIndex:
    """BM25 scores of chunks (by FAISS row id) for a list of query terms."""

    def __init__(self, model: object | None, rows: np.ndarray) -> None:
        self._model = model
        self.rows = rows
        vocab = getattr(model, "vocab_dict", None) or {}
        self._vocab: dict[str, int] = {t: i for t, i in vocab.items() if t != ""}

    @classmethod
    def build(cls, rows: Sequence[int] | np.ndarray, terms: Sequence[str]) -> LexicalIndex:
        import bm25s

        row_array = np.asarray(rows, dtype=np.int64)
        if not len(row_array):
            return cls(None, row_array)
        model = bm25s.BM25(k1=K1, b=B, method="lucene")
        model.index([t.split() for t in terms], show_progress=False)
        return cls(model, row_array)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "rows.npy", self.rows, allow_pickle=False)
        if self._model is not None:
            self._model.save(str(folder))  # type: ignore[attr-defined]
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
