"""What the service reads off candidate sentences besides their scores: the trained
reader's judgement of each (`read_candidates`), its signals for the answerability model, the
sentence the gate reads, where the short answer stands in the answer text, and whether a
model's answer is written well enough to stand (`well_written`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from embeddings.chunking import split_sentences
from embeddings.language import detect_language
from embeddings.store import ChunkRecord
from qa.answering import Candidate
from qa.citations import MARKER, Citation, inert
from qa.reader import Pair, Reader

LANGUAGE_CHECK_CHARS = 40  # shorter answers (a name, a figure) are not told apart reliably


def well_written(text: str, citations: Sequence[Citation], lang: str | None) -> bool:
    """Whether a model's checked answer may stand: at least half of its citations are
    supported, and, when the question's language is known and the answer is long enough to
    tell, the answer (markers left out) is in that language."""
    if 2 * sum(c.supported for c in citations) < len(citations):
        return False
    plain = MARKER.sub("", text).strip()
    if lang is None or len(plain) < LANGUAGE_CHECK_CHARS:
        return True
    return detect_language(plain) == lang


def gate_sentence(candidates: Sequence[Candidate]) -> float | None:
    """The similarity of the best sentence as the answerability model was fitted on it:
    ranked without the lift for naming the asked-for noun, which breaks ties between
    answer sentences and is no evidence that the passages answer."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: c.score - c.named).similarity


def read_candidates(
    reader: Reader,
    question: str,
    passages: Sequence[ChunkRecord],
    candidates: Sequence[Candidate],
    weight: float = 0.0,
) -> list[Candidate]:
    """The candidates read by the trained reader: each passage is read once with the
    question, and every candidate sentence gets its probability of answering and its short
    answer. The ranking is the hand-tuned score plus `weight` times that probability (0:
    the reader only marks the short answer; see `AnswerConfig.reader_weight`)."""
    by_passage: dict[int, list[Candidate]] = {}
    for c in candidates:
        by_passage.setdefault(c.n, []).append(c)
    pairs, groups, spans = [], [], []
    for n, group in by_passage.items():
        text = passages[n - 1].text
        at = [text.find(c.text) for c in group]
        spans.append(at)
        groups.append(group)
        pairs.append(
            Pair(
                question,
                text,
                [(a, a + len(c.text)) for a, c in zip(at, group, strict=True)],
                passages[n - 1].title,
            )
        )
    out = []
    for group, at, judged in zip(groups, spans, reader.judge(pairs), strict=True):
        for c, start, j in zip(group, at, judged, strict=True):
            p = j.probability if j is not None else 0.0
            span = None
            if j is not None and j.span is not None and start >= 0:
                span = (j.span[0] - start, j.span[1] - start)
            margin = j.margin if j is not None else None
            out.append(
                replace(c, score=c.score + weight * p, reader=p, span=span, reader_margin=margin)
            )
    out.sort(key=lambda c: -c.score)
    return out


def reader_signals(candidates: Sequence[Candidate]) -> dict[str, float]:
    """The reader's part of the answerability model's input: its probability that the
    sentence the answer would quote answers (also as a logit, the model's feature), its span
    head's lead over "no answer" there, its best probability over all
    candidates, and whether the quoted sentence holds the kind of thing asked for."""
    best = candidates[0].reader or 0.0
    clipped = min(max(best, 1e-4), 1.0 - 1e-4)
    return {
        "reader": best,
        "reader_logit": math.log(clipped / (1.0 - clipped)),
        "reader_margin": candidates[0].reader_margin or 0.0,
        "reader_max": max(c.reader or 0.0 for c in candidates),
        "typed": 1.0 if candidates[0].typed else 0.0,
    }


def answer_span(text: str, candidates: Sequence[Candidate]) -> tuple[int, int] | None:
    """Where the best candidate's short answer stands in the answer text, if it is quoted."""
    if not candidates or candidates[0].span is None:
        return None
    if inert(candidates[0].text) != candidates[0].text:
        return None  # quoted with its own "[n]" escaped: the reader's offsets do not hold
    at = text.find(candidates[0].text)
    if at < 0:
        return None
    start, end = candidates[0].span
    return at + start, at + end


def cited_reading(
    reader: Reader,
    question: str,
    passages: Sequence[ChunkRecord],
    candidates: Sequence[Candidate],
    citations: Sequence[Citation],
) -> float:
    """The reader's best probability of answering, over the sentences of the passages that
    an answer's supported citations name; passages the extractive scoring did not consider
    are read now."""
    best: dict[int, float] = {}
    for c in candidates:
        if c.reader is not None:
            best[c.n] = max(best.get(c.n, 0.0), c.reader)
    unread = sorted({c.n for c in citations if c.supported and c.n not in best})
    pairs = [
        Pair(
            question,
            passages[n - 1].text,
            split_sentences(passages[n - 1].text),
            passages[n - 1].title,
        )
        for n in unread
    ]
    for n, judged in zip(unread, reader.judge(pairs) if pairs else [], strict=True):
        best[n] = max((j.probability for j in judged if j is not None), default=0.0)
    return max((best.get(c.n, 0.0) for c in citations if c.supported), default=0.0)


__all__ = [
    "LANGUAGE_CHECK_CHARS",
    "answer_span",
    "cited_reading",
    "gate_sentence",
    "read_candidates",
    "reader_signals",
    "well_written",
]
