"""Answerers behind one contract: given a question and numbered passages, stream an answer
whose claims carry [n] markers.

`ExtractiveAnswerer` (default, offline) picks the passages' sentences that best answer the
question; `LLMAnswerer` (in `qa.llm`) asks a LangChain chat model. Neither retrieves, checks
citations or decides to abstain: `qa.service` does that around them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from embeddings.analysis import analyse, analyse_query
from embeddings.chunking import split_sentences
from embeddings.embedders import Embedder
from embeddings.store import ChunkRecord

Turn = tuple[str, str]  # (user question, assistant answer)


class Answerer(Protocol):
    """Streams the answer text; markers [n] refer to `passages[n - 1]`."""

    name: str

    def stream(
        self, question: str, passages: Sequence[ChunkRecord], lang: str = "en"
    ) -> Iterator[str]: ...


@dataclass(frozen=True)
class Candidate:
    n: int  # passage number, 1-based
    text: str
    score: float
    similarity: float
    typed: bool = True  # holds what the question asks for (or the question asks for nothing)


# What a question asks for, by its opening words; an answer sentence should contain such a
# thing. Anchored at the start (or after "According to X,") so "... when he said" is no date.
_LEAD = r"(?:^|[,:]\s*)"
_NUMBER_WORDS = (
    r"\d|\b(twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|twintig|"
    r"dertig|veertig|vijftig|honderd|duizend|miljoen|miljard|two|three|four|five|"
    r"six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozens?|tientallen|honderden|duizenden)\b"
)
_DATE_WORDS = (
    r"\d|\b(maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|gisteren|"
    r"vandaag|morgen|gisteravond|vannacht|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|yesterday|today|tomorrow|tonight|januari|februari|maart|april|"
    r"mei|juni|juli|augustus|september|oktober|november|december|january|february|"
    r"march|may|june|july|august|october)\b"
)
_EXPECTS = [
    (
        re.compile(
            _LEAD + r"(hoeveel|how (much|many)|welk (bedrag|aantal)|what (amount|number|"
            r"percentage))\b",
            re.I,
        ),
        re.compile(_NUMBER_WORDS, re.I),
    ),
    (
        re.compile(
            _LEAD + r"(wanneer|(op )?welke (datum|dag)|in welk jaar|when|(on )?what "
            r"(date|day|year)|(on )?which (date|day))\b",
            re.I,
        ),
        re.compile(_DATE_WORDS, re.I),
    ),
]


def expected_answer_type(question: str) -> re.Pattern[str] | None:
    for asks, answer in _EXPECTS:
        if asks.search(question):
            return answer
    return None


class ExtractiveAnswerer:
    """The best supporting sentences of one passage, most direct first, each with [n].

    A sentence scores by its embedding similarity to the question, the rank of its passage,
    its share of the question's words, and whether it holds what the question asks for
    (a number for 'how many', a date for 'when').
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

    def candidates(
        self, question: str, passages: Sequence[ChunkRecord], emphasis: str | None = None
    ) -> list[Candidate]:
        """Sentences scored against `question`; word overlap counts against `emphasis`
        when given (a follow-up's own words: "And to UNOPS?")."""
        sentences: list[tuple[int, str, int]] = []  # (passage number, sentence, passage rank)
        for rank, passage in enumerate(passages[: self.passages_considered]):
            for s, e in split_sentences(passage.text):
                text = passage.text[s:e]
                if len(text) >= 25 and len(text.split()) >= 4:  # not a heading
                    sentences.append((rank + 1, text, rank))
        if not sentences:
            return []
        q = self.embedder.embed_query(question)
        vectors = self.embedder.embed_documents([t for _, t, _ in sentences])
        sims = vectors @ q
        query_terms = set(analyse_query(emphasis or question))
        expects = expected_answer_type(emphasis or question) or expected_answer_type(question)
        out = []
        # Weights measured on the bundled QA set (bench/abstention.py): the question's words
        # in the sentence help, a lower passage rank costs a little, and the wrong kind of
        # answer (no number for "how many") costs as much as a clearly worse match.
        for (n, text, rank), sim in zip(sentences, sims, strict=True):
            terms = set(analyse(text, "nl")) | set(analyse(text, "en"))
            overlap = len(query_terms & terms) / max(1, len(query_terms))
            typed = 0.0 if expects is None else (0.03 if expects.search(text) else -0.03)
            score = float(sim) + 0.15 * overlap - 0.01 * rank + typed
            out.append(Candidate(n, text, score, float(sim), typed >= 0))
        out.sort(key=lambda c: -c.score)
        return out

    def stream(
        self,
        question: str,
        passages: Sequence[ChunkRecord],
        lang: str = "en",
        emphasis: str | None = None,
    ) -> Iterator[str]:
        yield from self.compose(self.candidates(question, passages, emphasis))

    def compose(self, candidates: Sequence[Candidate]) -> Iterator[str]:
        """The answer from already scored candidates (best first), one sentence at a time."""
        chosen: list[Candidate] = []
        for candidate in candidates:
            if len(chosen) == self.max_sentences:
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
        for i, c in enumerate(chosen):
            yield ("" if i == 0 else " ") + f"{c.text} [{c.n}]"


def _similar(a: str, b: str) -> bool:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return len(wa & wb) / max(1, len(wa | wb)) > 0.6
