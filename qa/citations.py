"""Citation markers: parse [n], drop markers to passages that were not given, and check each
cited sentence against the passage it cites.

A sentence is *supported* when it is close to some sentence of the cited passage (embedding
cosine) and the numbers and names it states occur in that passage. The quote shown to the
reader is that closest sentence, as exact character offsets into the source document.
This module checks; it neither retrieves nor writes answers.

A document's own "[2]" is not a marker: answerers pass document text through `inert`, which
writes it "\\[2]" (markdown's escape, shown as "[2]" where markdown is rendered), and no
pattern here takes an escaped bracket for a marker (issue 26: a document forged a citation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embeddings.analysis import fold
from embeddings.chunking import split_sentences
from embeddings.embedders import Embedder
from embeddings.store import ChunkRecord

MARKER = re.compile(r"\s?(?<!\\)\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*(?<!\\)\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+")
# "[2]" or "[1, 3]" in a document's text, not yet escaped
_LITERAL = re.compile(r"(?<!\\)\[(?=\d{1,3}(?:\s*,\s*\d{1,3})*\])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A capitalised word that does not start its sentence: a name, mostly.
_NAME = re.compile(r"(?<=[\w,;:] )[A-ZÀ-ÖØ-Þ][\w'’-]{2,}")


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    source: str
    title: str
    chunk_id: str
    lang: str
    quote: str
    start: int  # offsets of `quote` in the document's text
    end: int
    supported: bool
    passage: str
    passage_start: int
    spans: tuple[tuple[int, int], ...] = ()  # document offsets of every quoted sentence of
    # this passage in the answer; empty means just (start, end).


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer with the passages it cites."""

    text: str
    markers: tuple[int, ...]
    supported: bool


def inert(text: str) -> str:
    """Document text as it may stand in an answer: its "[n]" escaped ("\\[n]"), so that it
    never becomes, or is renumbered as, a citation marker."""
    return _LITERAL.sub(r"\\[", text)


def parse_markers(text: str) -> list[int]:
    return [int(n) for group in MARKER.findall(text) for n in re.split(r"\s*,\s*", group)]


def clean_markers(text: str, valid: set[int]) -> str:
    """Remove markers that point at no given passage; keep the valid ones as [n]."""

    def keep(match: re.Match[str]) -> str:
        numbers = [n for n in re.split(r"\s*,\s*", match.group(1)) if int(n) in valid]
        return "".join(f" [{n}]" if i == 0 else f"[{n}]" for i, n in enumerate(numbers))

    return MARKER.sub(keep, text)


def renumber(text: str) -> tuple[str, list[int]]:
    """Markers renumbered 1..n in the order the text first cites them; also the old number
    of each new one (`old[new - 1]`)."""
    old: list[int] = []
    for n in parse_markers(text):
        if n not in old:
            old.append(n)
    new = {n: i for i, n in enumerate(old, start=1)}

    def swap(match: re.Match[str]) -> str:
        numbers = [str(new[int(n)]) for n in re.split(r"\s*,\s*", match.group(1))]
        lead = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        return lead + "".join(f"[{n}]" for n in numbers)

    return MARKER.sub(swap, text), old


class MarkerStream:
    """Renumbers [n] markers while an answer streams, as `renumber` does on the whole text:
    valid passages 1..n in the order first cited, markers to no given passage dropped. A
    marker cut between two pieces ("[1" + "]") is held back until it is complete."""

    _OPEN = re.compile(r"(?:\s|\\)?\[[\d,\s]{0,12}$|\\$")  # "\\" too: "\\" + "[2]" is no marker

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.order: dict[int, int] = {}
        self.held = ""

    def _swap(self, match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1)) if int(n) in self.valid]
        for n in numbers:
            self.order.setdefault(n, len(self.order) + 1)
        lead = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        return (lead if numbers else "") + "".join(f"[{self.order[n]}]" for n in numbers)

    def feed(self, piece: str) -> str:
        text = self.held + piece
        cut = self._OPEN.search(text)
        self.held = text[cut.start() :] if cut else ""
        return MARKER.sub(self._swap, text[: cut.start()] if cut else text)

    def flush(self) -> str:
        text, self.held = self.held, ""
        return MARKER.sub(self._swap, text)


def split_claims(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences of an answer, each with the markers that follow it."""
    claims: list[tuple[str, tuple[int, ...]]] = []
    for s, e in split_sentences(answer):
        sentence = answer[s:e]
        # "…Kruis. [1] Next sentence": a marker after the full stop belongs to the sentence
        # before it, though the splitter puts it at the start of the next one
        lead = _LEADING_MARKERS.match(sentence)
        if lead and claims:
            prev_text, prev_markers = claims[-1]
            claims[-1] = (prev_text, prev_markers + tuple(parse_markers(lead.group(0))))
            sentence = sentence[lead.end() :]
        markers = tuple(parse_markers(sentence))
        text = MARKER.sub("", sentence).strip()
        if text:
            claims.append((text, markers))
        elif markers and claims:  # a marker that landed after the sentence's full stop
            prev_text, prev_markers = claims[-1]
            claims[-1] = (prev_text, prev_markers + markers)
    return claims


def _facts_agree(claim: str, passage: str) -> bool:
    """Numbers and names stated in the claim must occur in the passage."""
    folded = fold(passage)
    passage_numbers = {n.replace(",", ".") for n in _NUMBER.findall(passage)}
    for number in _NUMBER.findall(claim):
        if number.replace(",", ".") not in passage_numbers:
            return False
    names = _NAME.findall(claim)
    if names:
        found = sum(1 for name in names if fold(name) in folded)
        return found / len(names) >= 0.5
    return True


class CitationChecker:
    def __init__(self, embedder: Embedder, min_similarity: float = 0.80) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity

    def best_sentence(
        self, claim: str, passage: ChunkRecord, claim_vector: np.ndarray | None
    ) -> tuple[int, int, float]:
        """Document offsets of the passage sentence closest to the claim, and its cosine."""
        spans = split_sentences(passage.text) or [(0, len(passage.text))]
        texts = [passage.text[s:e] for s, e in spans]
        if claim_vector is None:
            return passage.start + spans[0][0], passage.start + spans[0][1], 0.0
        # exact quotes need no model: an extractive answer repeats the source sentence
        # (perhaps after a notice such as "From the Dutch text: ")
        squashed = " ".join(claim.split())
        for (s, e), text in zip(spans, texts, strict=True):
            sentence = " ".join(inert(text).split())  # as the answer quotes it
            if sentence == squashed or (len(sentence) >= 25 and squashed.endswith(sentence)):
                return passage.start + s, passage.start + e, 1.0
        vectors = self.embedder.embed_documents(texts)
        sims = vectors @ claim_vector
        i = int(np.argmax(sims))
        return passage.start + spans[i][0], passage.start + spans[i][1], float(sims[i])

    def check(
        self, answer: str, passages: Sequence[ChunkRecord]
    ) -> tuple[str, list[Claim], list[Citation]]:
        """Clean markers, number the cited passages 1..n in the order the answer cites
        them, check every cited sentence, and list only the cited passages."""
        valid = set(range(1, len(passages) + 1))
        answer, order = renumber(clean_markers(answer, valid))
        passages = [passages[n - 1] for n in order]
        claims: list[Claim] = []
        best: dict[int, tuple[float, int, int, bool]] = {}
        quoted: dict[int, list[tuple[int, int]]] = {}
        for text, markers in split_claims(answer):
            if not markers:
                claims.append(Claim(text, (), False))
                continue
            vector = self.embedder.embed_query(text) if self.embedder else None
            supported_any = False
            for n in markers:
                passage = passages[n - 1]
                start, end, sim = self.best_sentence(text, passage, vector)
                ok = sim >= self.min_similarity and _facts_agree(text, passage.text)
                supported_any |= ok
                if ok and (start, end) not in quoted.setdefault(n, []):
                    quoted[n].append((start, end))
                if n not in best or (ok, sim) > (best[n][3], best[n][0]):
                    best[n] = (sim, start, end, ok)
            claims.append(Claim(text, markers, supported_any))
        citations = []
        for n in sorted(best):
            sim, start, end, ok = best[n]
            p = passages[n - 1]
            quote = p.text[start - p.start : end - p.start]
            citations.append(
                Citation(
                    n,
                    p.doc_id,
                    p.source,
                    p.title,
                    p.chunk_id,
                    p.lang,
                    quote,
                    start,
                    end,
                    ok,
                    p.text,
                    p.start,
                    tuple(sorted(quoted.get(n, []))) if len(quoted.get(n, [])) > 1 else (),
                )
            )
        return answer, claims, citations
