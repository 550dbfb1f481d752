"""Ask a question: resolve follow-ups, retrieve, decide whether the evidence suffices,
stream the answer, then check its citations. The CLI, the chat UI and eval all use this.

Events come in order (`qa.answer`): one `Retrieved`, zero or more `Delta`, one `Done`. A service is
shared by concurrent questions; when another process publishes a new index generation,
the next question loads it (see `current_retriever`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from embeddings.errors import BadInput, CiteqaError
from embeddings.generations import live_generation
from embeddings.store import ChunkRecord, Index
from qa.answer import Answer, Delta, Done, Event, Retrieved
from qa.answerability import Background, Model, signals
from qa.answering import SAID, Answerer, Candidate, ExtractiveAnswerer, Reading, Turn
from qa.citations import Citation, CitationChecker, MarkerStream
from qa.evidence import (
    answer_span,
    cited_reading,
    gate_sentence,
    read_candidates,
    reader_signals,
    well_written,
)
from qa.followups import (
    FOLLOW_UP_PASSAGES,
    has_markers,
    previous_answer_region,
    region_first,
)
from qa.judged import Judged
from qa.query import Query, clean_text
from qa.reader import Reader
from qa.retrieval import Hit, Retriever
from qa.settings import AnswerConfig, Mode

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
# what of a conversation a follow-up reads: its last turns, each cut to a length (an earlier
# message of any size would otherwise be embedded whole, for every later question)
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 4000
BACKGROUND_POOL = 100  # dense candidates whose cosines are the question's own background


@dataclass(frozen=True)
class Assessment:
    """What retrieval found for a question and how likely it is to hold the answer."""

    standalone: str  # what was searched for
    focus: str  # what the sentences were scored against
    hits: list[Hit]
    candidates: list[Candidate]
    signals: dict[str, float]
    probability: float


def refuses(probability: float, signals: dict[str, float], threshold: float) -> bool:
    """Whether the passages do not answer: the answerability model's probability is below
    the threshold, or no passage sentence holds the number or date the question asks for
    ("Hoeveel patiënten…?"). The answer-type check stays a rule of its own: the fitted model
    gives it no weight, since its training questions nearly always matched. A threshold of
    -inf (`min_evidence`, for measuring) answers everything."""
    if threshold == float("-inf"):
        return False
    return probability < threshold or signals.get("typed", 1.0) < 1.0


def bounded(history: Sequence[Turn]) -> list[Turn]:
    """The conversation as a follow-up reads it: the last MAX_HISTORY_TURNS turns, each text
    cleaned and cut to MAX_TURN_CHARS."""
    return [
        (clean_text(q)[:MAX_TURN_CHARS], clean_text(a)[:MAX_TURN_CHARS])
        for q, a in list(history)[-MAX_HISTORY_TURNS:]
    ]


class QAService:
    def __init__(
        self,
        retriever: Retriever,
        answerer: Answerer,
        checker: CitationChecker,
        config: AnswerConfig | None = None,
        model: Model | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.retriever = retriever
        self.reader = reader  # None: sentences ranked and gated by the hand-tuned signals
        self.answerer = answerer
        self.checker = checker
        self.config = config or AnswerConfig()
        # the answerability gate always scores with the extractive method: same scale for all
        self.scorer = ExtractiveAnswerer(retriever.embedder, self.config.max_sentences)
        self.model = model or Model.load()
        self.background = Background(retriever.embedder)
        self._reload = threading.Lock()
        self._unloadable: str | None = None  # a generation that failed to load; not retried
        self.judged = Judged()  # the answerability of the turns asked, for their follow-ups

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

    @property
    def threshold(self) -> float:
        """Answer when the answerability probability reaches this."""
        chosen = self.config.min_evidence
        return self.model.threshold if chosen is None else chosen

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        k: int | None = None,
        mode: Mode | None = None,
        lang: str | None = None,
        answerer: Answerer | None = None,
        abstain: bool = True,
    ) -> Iterator[Event]:
        """Answer `question`; `answerer` overrides the service's own for this call;
        `abstain=False` answers even below the threshold (eval measures the whole curve)."""
        answerer = answerer or self.answerer
        question = clean_text(question).strip()
        history = bounded(history)
        if not question:
            raise BadInput("The question is empty.")
        if len(question) > MAX_QUESTION_CHARS:
            raise BadInput(
                f"The question is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}."
            )
        # one retriever for the whole question, even if a newer generation arrives meanwhile
        retriever = self.current_retriever()
        asked = retriever.query(question, history)  # analysed and embedded once, passed down
        answer_lang = asked.lang or "en"
        a = self.assess(asked, history, k, mode, lang, answerer, retriever)
        yield Retrieved(question, a.standalone, a.hits)
        if not a.hits or (abstain and refuses(a.probability, a.signals, self.threshold)):
            text = answerer.abstain(answer_lang)
            yield Delta(text)
            yield Done(
                Answer(
                    question,
                    a.standalone,
                    answer_lang,
                    text,
                    True,
                    hits=a.hits,
                    evidence=a.probability,
                    signals=a.signals,
                    related=a.hits,
                )
            )
            return
        hits, standalone, evidence, features = a.hits, a.standalone, a.probability, a.signals
        passages = [h.chunk for h in hits]
        reading = Reading(
            question, a.focus, answer_lang, passages, a.candidates, tuple(history), asked
        )
        pieces = []
        # the reader sees the markers numbered as the checked answer will number them
        markers = MarkerStream(set(range(1, len(passages) + 1)))
        for piece in answerer.compose(reading):
            pieces.append(piece)
            shown = markers.feed(piece)
            if shown:
                yield Delta(shown)
        rest = markers.flush()
        if rest:
            yield Delta(rest)
        raw = "".join(pieces).strip()
        text, claims, citations = self.checker.check(raw, passages)
        # nothing it could cite, or no cited sentence its passage supports (a model that
        # echoes its prompt, or invents): refuse the same way rather than lend it sources
        abstained = not any(c.supported for c in citations)
        if not abstained and answerer.name != "extractive":
            # a model's text stands only if most of what it cites holds and it is written in
            # the question's language (SmolLM2's Dutch word salad had 3 of 5 supported)
            abstained = not well_written(text, citations, asked.lang)
        if (
            not abstained
            and answerer.name != "extractive"
            and self.reader_gates
            and not asked.follow_up  # the reader judged only the first turn
        ):
            # a model's answer stands only if the reader finds an answer in a passage it cites
            abstained = not self.reader_confirms(asked.text, passages, a.candidates, citations)
        span = None
        if abstained:
            text = answerer.abstain(answer_lang)
        elif answerer.name == "extractive":
            span = answer_span(text, a.candidates)
        yield Done(
            Answer(
                question,
                standalone,
                answer_lang,
                text,
                abstained,
                [] if abstained else citations,
                claims,
                hits,
                evidence,
                features,
                related=hits if abstained else [],
                answer_span=span,
            )
        )

    @property
    def reader_gates(self) -> bool:
        """Whether the reader takes part in refusing (it has an operating point)."""
        return self.reader is not None and self.model.reader_threshold is not None

    def reader_confirms(
        self,
        question: str,
        passages: Sequence[ChunkRecord],
        candidates: Sequence[Candidate],
        citations: Sequence[Citation],
    ) -> bool:
        """Whether some passage an answer cites holds a sentence the reader takes for an
        answer (`qa.evidence.cited_reading`)."""
        assert self.reader is not None and self.model.reader_threshold is not None
        best = cited_reading(self.reader, question, passages, candidates, citations)
        return best >= self.model.reader_threshold

    def assess(
        self,
        question: str | Query,
        history: Sequence[Turn] = (),
        k: int | None = None,
        mode: Mode | None = None,
        lang: str | None = None,
        answerer: Answerer | None = None,
        retriever: Retriever | None = None,
    ) -> Assessment:
        """Retrieve for `question` and judge whether the passages answer it. A `Query`
        brings its own history (`retriever.query(text, history)`), and `retriever` is the
        one it was built on (default: the live generation's)."""
        answerer = answerer or self.answerer
        retriever = retriever or self.current_retriever()
        asked = retriever.query(question, history) if isinstance(question, str) else question
        question, history = asked.text, asked.history
        standalone = clean_text(answerer.condense(asked, history)) if history else question
        # a follow-up made standalone is another text: its own Query
        query = asked if standalone == question else retriever.query(standalone)
        retrieved = retriever.search(query, k=k, mode=mode, lang=lang)
        follow_up = asked.follow_up
        hits = retrieved
        considered = None  # the scorer's default: the best few passages
        if follow_up and hits:
            names = asked.speakers if asked.intent is SAID else set()
            region = previous_answer_region(retriever.index, hits, history[-1][1], names)
            hits = region_first(region, hits)
            if region:  # all of the region is read, up to a bound on what is embedded
                considered = min(len(region), FOLLOW_UP_PASSAGES)
        # a follow-up is judged and scored as the conversation asks it (the question before
        # it and its own words), with its own words as the emphasis: alone, "And why?" or
        # "How much?" name no topic, and would be refused for covering none
        focus = standalone
        emphasis = asked if focus != question else None
        passages = [h.chunk for h in hits]
        # scored once: the answerability gate and the extractive answer use the same ones
        candidates = self.scorer.candidates(query, passages, emphasis, considered) if hits else []
        # a follow-up is answered by what the previous answer leads to (its re-ranking), so
        # the answer-type check reads that sentence: "How much?" needs an amount there, not
        # in the sentence that best matches the earlier question
        judged = candidates
        if follow_up and candidates:
            reading = Reading(question, focus, "", passages, candidates, history, asked)
            judged = self.scorer.follow_up(reading) or candidates
        vector = query.vector
        pool = [s for _, s in retriever.index.search(vector, BACKGROUND_POOL, None)]
        features = signals(
            query,  # the focus, analysed once
            vector,
            pool,
            [h.chunk for h in retrieved],  # coverage as retrieved, before any reordering
            gate_sentence(candidates),
            bool(judged) and judged[0].typed,
            self.background,
        )
        if self.reader is not None and candidates and not follow_up:
            weight = self.config.reader_weight
            candidates = read_candidates(self.reader, query.text, passages, candidates, weight)
            features.update(reader_signals(candidates))
        # without the reader (a follow-up, or no engine for it) its signal counts as neutral
        probability = self.model.probability(features)
        # a follow-up on an answered turn, read from the passage that turn quoted, is as
        # answerable as that turn: the conversation is judged, not its last few words
        # (the answer-type check still applies to the sentence it would quote)
        if follow_up and hits is not retrieved and has_markers(history[-1][1]):
            earlier = self.earlier(asked, (k, mode, lang), answerer, retriever)
            probability = max(probability, earlier)
        key = self.judged.key(retriever.index, question, history, (k, mode, lang), answerer)
        self.judged.put(key, answerer, probability)
        return Assessment(standalone, focus, hits, candidates, features, probability)

    def earlier(
        self,
        asked: Query,
        options: tuple[int | None, Mode | None, str | None],
        answerer: Answerer,
        retriever: Retriever,
    ) -> float:
        """The answerability of the turn before `asked`, as it was judged when it was asked
        here; judged again (retrieved, scored) only when this service did not see it."""
        previous, before = clean_text(asked.history[-1][0]), asked.history[:-1]
        key = self.judged.key(retriever.index, previous, before, options, answerer)
        found = self.judged.get(key, answerer)
        if found is not None:
            return found
        k, mode, lang = options
        return self.assess(previous, before, k, mode, lang, answerer, retriever).probability

    def ask(self, question: str, history: Sequence[Turn] = (), **options: Any) -> Answer:
        for event in self.stream(question, history, **options):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("the answer stream ended without a result")


__all__ = [
    "MAX_HISTORY_TURNS",
    "MAX_QUESTION_CHARS",
    "MAX_TURN_CHARS",
    "QAService",
    "bounded",
    "refuses",
]
