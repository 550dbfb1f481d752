"""Ask a question: resolve follow-ups, retrieve, decide whether the evidence suffices,
stream the answer, then check its citations. The CLI, the chat UI and eval all use this.

Events come in order: one `Retrieved`, zero or more `Delta`, one `Done`. A service is
shared by concurrent questions; when another process publishes a new index generation,
the next question loads it (see `current_retriever`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from embeddings.analysis import analyse_query
from embeddings.documents import language_of_question
from embeddings.errors import BadInput, CiteqaError
from embeddings.store import Index, live_generation
from qa.answering import Answerer, Candidate, ExtractiveAnswerer, Turn
from qa.citations import Citation, CitationChecker, Claim
from qa.llm import ABSTAIN, LLMAnswerer
from qa.retrieval import Hit, Retriever
from qa.settings import AnswerConfig, Mode

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
# Words that make a question lean on the one before it ("And how much...", "Hoeveel was dat?")
_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|what about|how about|en|maar|ook|en hoe|hoe zit|wat dan)\b|"
    r"\b(that|this|those|these|it|they|them|he|she|him|her|there|dat|dit|die|deze|daar|"
    r"daarvan|hij|zij|ze|hem|haar|hen|hun|ervan)\b",
    re.I,
)


@dataclass(frozen=True)
class Retrieved:
    question: str  # as asked
    standalone: str  # what was searched for
    hits: list[Hit]


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass
class Answer:
    question: str
    standalone: str
    lang: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    evidence: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [
                {
                    "n": c.n,
                    "doc_id": c.doc_id,
                    "source": c.source,
                    "title": c.title,
                    "chunk_id": c.chunk_id,
                    "quote": c.quote,
                    "start": c.start,
                    "end": c.end,
                    "supported": c.supported,
                }
                for c in self.citations
            ],
        }


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Retrieved | Delta | Done


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    if not history:
        return False
    return len(analyse_query(question)) <= 4 or bool(_FOLLOW_UP.search(question))


def contextual_query(question: str, history: Sequence[Turn]) -> str:
    """History-aware query without an LLM: a follow-up is searched with the question before."""
    if not is_follow_up(question, history):
        return question
    return f"{history[-1][0]} {question}"


class QAService:
    def __init__(
        self,
        retriever: Retriever,
        answerer: Answerer,
        checker: CitationChecker,
        config: AnswerConfig | None = None,
    ) -> None:
        self.retriever = retriever
        self.answerer = answerer
        self.checker = checker
        self.config = config or AnswerConfig()
        # the evidence gate always scores with the extractive method: same scale for both
        self.scorer = ExtractiveAnswerer(retriever.embedder, self.config.max_sentences)
        self._reload = threading.Lock()
        self._unloadable: str | None = None  # a generation that failed to load; not retried

    def current_retriever(self, wait: bool = False) -> Retriever:
        """The retriever over the index's live generation.

        Each call compares CURRENT's generation name with the loaded one (a small file read).
        When another writer (`citeqa index`, an upload) has published a new generation, one
        caller loads it while the others carry on with the last complete index, unless
        `wait`; questions already running keep the retriever they started with. A new
        generation that cannot be loaded is logged and the loaded one kept (with `wait`,
        the error is raised).
        """
        retriever = self.retriever
        try:
            live = live_generation(retriever.index.root).name
        except CiteqaError:
            return retriever  # no readable CURRENT now: keep serving the loaded generation
        if live == retriever.index.generation.name or (live == self._unloadable and not wait):
            return retriever
        if not self._reload.acquire(blocking=wait):
            return retriever
        try:
            if self.retriever.index.generation.name != live:
                try:
                    index = Index(retriever.index.root, expect_embedder=retriever.embedder.id)
                except CiteqaError as exc:
                    if wait:
                        raise
                    log.warning("keeping index generation %s: %s", retriever.index.generation, exc)
                    self._unloadable = live
                    return self.retriever
                self.retriever = Retriever(index, retriever.embedder, retriever.config)
        finally:
            self._reload.release()
        return self.retriever

    @staticmethod
    def evidence(candidates: Sequence[Candidate]) -> float:
        """How well the best sentence of the passages answers the question (cosine-like)."""
        if not candidates or not candidates[0].typed:
            return 0.0  # no sentence holds the number or date the question asks for
        return candidates[0].score

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        k: int | None = None,
        mode: Mode | None = None,
        lang: str | None = None,
        answerer: Answerer | None = None,
    ) -> Iterator[Event]:
        """Answer `question`; `answerer` overrides the service's own for this call."""
        answerer = answerer or self.answerer
        question = question.strip()
        if not question:
            raise BadInput("The question is empty.")
        if len(question) > MAX_QUESTION_CHARS:
            raise BadInput(
                f"The question is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}."
            )
        answer_lang = language_of_question(question) or "en"
        if isinstance(answerer, LLMAnswerer) and history:
            standalone = answerer.condense(question, history)
        else:
            standalone = contextual_query(question, history)
        # one retriever for the whole question, even if a newer generation arrives meanwhile
        hits = self.current_retriever().search(standalone, k=k, mode=mode, lang=lang)
        yield Retrieved(question, standalone, hits)
        # the LLM gets its own standalone rewrite; the extractive scorer gets the question
        # itself unless it is too bare to score ("Hoeveel was dat?")
        if isinstance(answerer, LLMAnswerer) or len(analyse_query(question)) < 2:
            focus = standalone
        else:
            focus = question
        emphasis = question if focus != question else None
        passages = [h.chunk for h in hits]
        # scored once: the evidence gate and the extractive answer use the same candidates
        candidates = self.scorer.candidates(focus, passages, emphasis) if hits else []
        evidence = self.evidence(candidates)
        if evidence < self.config.min_evidence:
            text = ABSTAIN.get(answer_lang, ABSTAIN["en"])
            yield Delta(text)
            yield Done(
                Answer(question, standalone, answer_lang, text, True, hits=hits, evidence=evidence)
            )
            return
        pieces = []
        stream = (
            answerer.compose(candidates)
            if isinstance(answerer, ExtractiveAnswerer)
            else answerer.stream(focus, passages, answer_lang)
        )
        for piece in stream:
            pieces.append(piece)
            yield Delta(piece)
        raw = "".join(pieces).strip()
        text, claims, citations = self.checker.check(raw, passages)
        abstained = not citations
        yield Done(
            Answer(
                question,
                standalone,
                answer_lang,
                text,
                abstained,
                citations,
                claims,
                hits,
                evidence,
            )
        )

    def ask(self, question: str, history: Sequence[Turn] = (), **options: Any) -> Answer:
        for event in self.stream(question, history, **options):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("the answer stream ended without a result")


__all__ = ["Answer", "Delta", "Done", "QAService", "Retrieved"]
