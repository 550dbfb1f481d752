"""Answerers behind one contract (picked by name in `qa.answerers`): each condenses a follow-up
into something to search for, writes its refusal, and composes an answer whose claims carry
[n] markers.

`extractive` (default, offline) quotes the passages' sentences that best answer the question;
`llm` (in `qa.llm`) asks a LangChain chat model. Neither retrieves, checks citations or
decides whether to abstain: `qa.service` does that around them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from embeddings.analysis import analyse
from embeddings.chunking import split_sentences
from embeddings.embedders import Embedder
from embeddings.store import ChunkRecord
from qa.answertypes import (
    CONSEQUENCE,
    REASON,
    REFERENCE,
    SAID,
    SOURCE_LINE,
    TYPED_FOLLOW_UPS,
)
from qa.citations import inert
from qa.query import Query, Turn

REFUSAL = {
    "nl": "De documenten beantwoorden deze vraag niet. De passages die er het dichtst bij "
    "komen staan hieronder als verwant, niet als bron.",
    "en": "The documents do not answer this question. The closest passages are listed "
    "below as related, not as sources.",
}
LANGUAGE_NAMES = {"nl": "Dutch", "en": "English"}
# "From the Dutch text: …": said in the question's language when the quote is in another
_SOURCE_LANGUAGE = {
    "en": {"nl": "From the Dutch text: ", "other": "From a text in another language: "},
    "nl": {"en": "Uit de Engelse tekst: ", "other": "Uit een tekst in een andere taal: "},
}


@dataclass(frozen=True)
class Candidate:
    n: int  # passage number, 1-based
    text: str
    score: float
    similarity: float
    typed: bool = True  # holds what the question asks for (or the question asks for nothing)
    named: float = 0.0  # the lift for naming the noun the question asks for ("de krant")
    reader: float | None = None  # the trained reader's probability that it answers
    span: tuple[int, int] | None = None  # the reader's short answer, offsets in `text`
    reader_margin: float | None = None  # its span head's lead over "no answer" (Judgement)


@dataclass(frozen=True)
class Reading:
    """Everything an answerer may use to compose one answer."""

    question: str  # as asked
    focus: str  # what the passages were scored against (a follow-up's standalone form)
    lang: str  # the question's language: the answer's language
    passages: Sequence[ChunkRecord]  # [n] refers to passages[n - 1]
    candidates: Sequence[Candidate] = ()  # the passages' sentences scored, best first
    history: Sequence[Turn] = field(default_factory=tuple)
    asked: Query | None = None  # `question` after `history`, analysed once per ask

    def query(self) -> Query:
        """The question as analysed for this ask (built here for a Reading made by hand)."""
        if self.asked is not None:
            return self.asked
        return Query(self.question, history=self.history)


class Answerer(Protocol):
    """Condense a follow-up, refuse, compose: the three things that differ by answerer."""

    name: str

    def condense(self, question: str | Query, history: Sequence[Turn]) -> str:
        """What to search for: the question made standalone with the conversation (a
        `Query` brings its own analysis and its history)."""
        ...

    def abstain(self, lang: str) -> str:
        """The refusal, in the question's language."""
        ...

    def compose(self, reading: Reading) -> Iterator[str]:
        """The answer, streamed; claims carry [n] markers."""
        ...


# a capitalised word that does not open a sentence: "… via UNOPS", "(UNOPS)"
_NAME = re.compile(r"(?:(?<=[\w,;:)] )|(?<=\())[A-ZÀ-ÖØ-Þ][\w'’-]{2,}")


def is_follow_up(question: str | Query, history: Sequence[Turn]) -> bool:
    """Whether `question` leans on the turn before (`Query.follow_up`; a `Query` brings
    its own history)."""
    asked = question if isinstance(question, Query) else Query(question, history=history)
    return asked.follow_up


def contextual_query(question: str | Query, history: Sequence[Turn]) -> str:
    """History-aware query without an LLM: a follow-up is searched with the question before."""
    asked = question if isinstance(question, Query) else Query(question, history=history)
    text = question.text if isinstance(question, Query) else question
    if not asked.follow_up:
        return text
    return f"{asked.history[-1][0]} {text}"


def bare(text: str) -> str:
    """An answer's text without its [n] markers and extra spaces; a document's own [n],
    escaped or not, goes too, so a sentence and its quote in an answer compare equal."""
    return " ".join(re.sub(r"\\?\[\d{1,3}\]", "", text).split())


class ExtractiveAnswerer:
    """The best supporting sentences of one passage, most direct first, each with [n].

    A sentence scores by its embedding similarity to the question, the rank of its passage,
    its share of the question's words, and whether it holds what the question asks for
    (a number for 'how many', a date for 'when'). A bare follow-up ("and why?") is answered
    about the previous turn's topic: sentences near the previous answer that hold what the
    follow-up asks for win, and the previous answer's own sentences are never repeated.
    """

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        max_sentences: int = 3,
        margin: float = 0.05,
        passages_considered: int = 4,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.margin = margin
        self.passages_considered = passages_considered

    def condense(self, question: str | Query, history: Sequence[Turn]) -> str:
        return contextual_query(question, history)

    def abstain(self, lang: str) -> str:
        return REFUSAL.get(lang, REFUSAL["en"])

    def candidates(
        self,
        question: str | Query,
        passages: Sequence[ChunkRecord],
        emphasis: str | Query | None = None,
        considered: int | None = None,
    ) -> list[Candidate]:
        """Sentences of the first `considered` passages (default `passages_considered`)
        scored against `question` (a `Query` brings its vector and terms, so the question
        is not embedded or analysed again); word overlap counts against `emphasis` when
        given (a follow-up's own words: "And to UNOPS?")."""
        if isinstance(question, str):
            question = Query(question, self.embedder.embed_query)
        if isinstance(emphasis, str):
            emphasis = Query(emphasis)
        sentences: list[tuple[int, str, int]] = []  # (passage number, sentence, passage rank)
        for rank, passage in enumerate(passages[: considered or self.passages_considered]):
            for s, e in split_sentences(passage.text):
                text = passage.text[s:e]
                # not a heading, and not a bare pointer elsewhere ("Zie ook Kamerbrief …")
                if (
                    len(text) >= 25
                    and len(text.split()) >= 4
                    and not REFERENCE.match(text)
                    and not SOURCE_LINE.match(text)  # "Source: [2] …": looks like a citation
                ):
                    sentences.append((rank + 1, text, rank))
        if not sentences:
            return []
        q = question.vector
        vectors = self.embedder.embed_documents([t for _, t, _ in sentences])
        sims = vectors @ q
        lead = emphasis if emphasis is not None and emphasis.text else question
        query_terms = set(lead.terms)
        expects = lead.answer_type or question.answer_type
        focus = lead.focus_terms
        out = []
        # Weights measured on the bundled QA set (bench/abstention.py): the question's words
        # in the sentence help, a lower passage rank costs a little, and the wrong kind of
        # answer (no number for "how many") costs as much as a clearly worse match.
        for (n, text, rank), sim in zip(sentences, sims, strict=True):
            terms = set(analyse(text, "nl")) | set(analyse(text, "en"))
            overlap = len(query_terms & terms) / max(1, len(query_terms))
            typed = 0.0 if expects is None else (0.03 if expects.search(text) else -0.03)
            named = 0.03 if focus & terms else 0.0  # names what is asked for ("de krant")
            score = float(sim) + 0.15 * overlap - 0.01 * rank + typed + named
            out.append(Candidate(n, text, score, float(sim), typed >= 0, named))
        out.sort(key=lambda c: -c.score)
        return out

    def follow_up(self, reading: Reading) -> list[Candidate]:
        """Candidates re-ranked for a bare follow-up of the previous turn."""
        previous_q, previous_a = reading.history[-1]
        previous = bare(previous_a)
        asked = reading.query()
        intent = asked.intent
        why = intent is REASON
        names = asked.speakers or {n.lower() for n in _NAME.findall(previous_q)}
        # where the previous answer was quoted from: the reason, the date or the rest of
        # what was said is usually a sentence or two away from it, in reading order
        order = reading_order(reading.passages)
        anchors: dict[str, set[int]] = {}  # document -> the previous answer's positions
        said_at: dict[tuple[str, int], str] = {}
        for (doc_id, text), at in order.items():
            said_at[(doc_id, at)] = text
            if bare(text) in previous:
                anchors.setdefault(doc_id, set()).add(at)
        # the previous turn's topic: the documents its answer was quoted from, when they
        # were retrieved again; a sentence from another document is another topic
        topic = set(anchors)
        # an answer that already holds the amount or date asked for is the answer again
        # ("Hoeveel geeft Nederland?" then "En hoeveel was dat?"); otherwise never repeat it
        repeat_ok = intent in TYPED_FOLLOW_UPS and bool(intent and intent.search(previous))
        # the previous answer's subject ("via UNOPS"): a follow-up stays with it. Its rare
        # words carry it: "UNOPS" says more than "Nederland", which most sentences share
        subject = _names(previous)
        weight = _rarity([_names(c.text) for c in reading.candidates])
        out = []
        for c in reading.candidates:
            if topic and reading.passages[c.n - 1].doc_id not in topic:
                continue
            if not repeat_ok and (
                bare(c.text) in previous
                or any(_similar(c.text, p) for p in re.split(r"(?<=[.!?])\s+", previous) if p)
            ):
                continue
            bonus = 0.0
            # large next to the similarity spread of on-topic sentences: what the follow-up
            # asks for and where it stands decide, similarity breaks ties
            if intent is not None and intent.search(c.text):
                bonus += 0.25
            if intent is SAID and any(
                re.search(rf"\b{re.escape(n)}\b", c.text.lower()) for n in names
            ):
                bonus += 0.2  # the same person, named again: their words, not another's
            if subject:
                shared = sum(weight.get(t, 0.0) for t in subject & _names(c.text))
                bonus += 0.1 * shared / max(sum(weight.get(t, 0.0) for t in subject), 1e-9)
            doc_id = reading.passages[c.n - 1].doc_id
            position = order.get((doc_id, c.text))
            if position is not None and doc_id in anchors:
                distance = min(abs(position - a) for a in anchors[doc_id])
                if ANOTHER_POINT.match(c.text) and position - 1 in anchors[doc_id]:
                    distance += 1  # "Daarnaast …" right after the answer: another item
                bonus += {1: 0.15, 2: 0.05}.get(distance, 0.0)
                if why and any(
                    a - position == 1 and CONSEQUENCE.search(said_at.get((doc_id, a), ""))
                    for a in anchors[doc_id]
                ):
                    bonus += 0.25  # the previous answer says "therefore": this is why
            # a follow-up asking "when" or "how much" is answered by a date or an amount; one
            # asking "why" or "what else" asks for no type, whatever the question before did
            # ("How many were refused?" then "And why?"); a bare "And to UNOPS?" keeps it
            typed = c.typed if intent is None else True
            if intent in TYPED_FOLLOW_UPS:
                typed = bool(intent.search(c.text))
            out.append(Candidate(c.n, c.text, c.score + bonus, c.similarity, typed))
        out.sort(key=lambda c: -c.score)
        return out

    def compose(self, reading: Reading) -> Iterator[str]:
        """The answer from the scored candidates (best first), one sentence at a time."""
        candidates: Sequence[Candidate] = reading.candidates
        follow_up = bool(reading.history) and reading.query().follow_up
        if follow_up:
            candidates = self.follow_up(reading)
        chosen: list[Candidate] = []
        for candidate in candidates:
            if len(chosen) == (1 if follow_up else self.max_sentences):
                break
            if chosen and candidate.score < chosen[0].score - self.margin:
                break
            # More sentences only from the best sentence's own passage: measured, sentences
            # from other passages added as many wrong citations as right answers
            # (bench/abstention.py; README, "Answers").
            if chosen and candidate.n != chosen[0].n:
                continue
            if any(_similar(candidate.text, c.text) for c in chosen):
                continue
            chosen.append(candidate)
        if not chosen:
            return
        source_lang = reading.passages[chosen[0].n - 1].lang
        notice = ""
        if source_lang != reading.lang:
            notices = _SOURCE_LANGUAGE.get(reading.lang, _SOURCE_LANGUAGE["en"])
            notice = notices.get(source_lang, notices["other"])
        for i, c in enumerate(chosen):
            quote = inert(c.text)  # the document's own "[2]" stays text, never a marker
            yield ("" if i == 0 else " ") + (notice if i == 0 else "") + f"{quote} [{c.n}]"


def _terms(text: str) -> set[str]:
    return set(analyse(text, "nl")) | set(analyse(text, "en"))


def _names(text: str) -> set[str]:
    return {n.lower() for n in _NAME.findall(text)}


def _rarity(sentences: Sequence[set[str]]) -> dict[str, float]:
    """Each term's weight by its rarity among `sentences`: 1 + log(n / df)."""
    n = len(sentences)
    df: dict[str, int] = {}
    for terms in sentences:
        for t in terms:
            df[t] = df.get(t, 0) + 1
    return {t: 1.0 + math.log(n / f) for t, f in df.items()}


# a sentence opening with these adds another point to the one before it, on another subject
ANOTHER_POINT = re.compile(
    r"\W*(daarnaast|bovendien|verder|tevens|in addition|additionally|furthermore|moreover|"
    r"besides)\b",
    re.I,
)
GAP = 10  # text between two passages that none of them holds: sentences far apart


def reading_order(passages: Sequence[ChunkRecord]) -> dict[tuple[str, str], int]:
    """Each sentence's position in its document, (doc_id, sentence) -> position, counted
    over the sentences the passages hold. Chunks overlap and end mid-paragraph, so the
    sentence next to one in a chunk may sit in the chunk before it; a stretch of the
    document that no passage covers counts as `GAP` sentences."""
    spans: dict[str, dict[str, tuple[int, int]]] = {}
    for p in passages:
        for s, e in split_sentences(p.text):
            spans.setdefault(p.doc_id, {}).setdefault(p.text[s:e], (p.start + s, p.start + e))
    order = {}
    for doc_id, found in spans.items():
        position, end = 0, -1
        for text, (start, stop) in sorted(found.items(), key=lambda kv: kv[1]):
            if end >= 0 and start >= end:  # a piece inside the one before keeps its place
                position += 1 if start - end <= 4 else GAP
            order[(doc_id, text)] = position
            end = max(end, stop)
    return order


def _similar(a: str, b: str) -> bool:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return len(wa & wb) / max(1, len(wa | wb)) > 0.6
