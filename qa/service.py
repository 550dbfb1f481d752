"""Ask a question: resolve follow-ups, retrieve, decide whether the evidence suffices,
stream the answer, then check its citations. The CLI, the chat UI and eval all use this.

Events come in order: one `Retrieved`, zero or more `Delta`, one `Done`. A service is
shared by concurrent questions; when another process publishes a new index generation,
the next question loads it (see `current_retriever`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from embeddings.chunking import split_sentences
from embeddings.errors import BadInput, CiteqaError
from embeddings.store import ChunkRecord, Index, live_generation
from qa.answerability import Background, Model, signals
from qa.answering import (
    SAID,
    Answerer,
    Candidate,
    ExtractiveAnswerer,
    Reading,
    Turn,
    bare,
    contextual_query,
    follow_up_intent,
    is_follow_up,
    speakers,
)
from qa.citations import Citation, CitationChecker, Claim, MarkerStream, inert
from qa.query import Query, clean_text
from qa.reader import Pair, Reader
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
    evidence: float = 0.0  # the answerability model's probability that the index answers it
    signals: dict[str, float] = field(default_factory=dict)
    # on abstention: the closest passages, offered as related reading, never as citations
    related: list[Hit] = field(default_factory=list)
    # the reader's short answer inside the answer text: (start, end) character offsets
    answer_span: tuple[int, int] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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
        if self.answer_span is not None:
            start, end = self.answer_span
            out["answer_span"] = {"start": start, "end": end, "text": self.text[start:end]}
        if self.abstained:
            out["related"] = [h.as_json() for h in self.related]
        return out


@dataclass(frozen=True)
class Assessment:
    """What retrieval found for a question and how likely it is to hold the answer."""

    standalone: str  # what was searched for
    focus: str  # what the sentences were scored against
    hits: list[Hit]
    candidates: list[Candidate]
    signals: dict[str, float]
    probability: float


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Retrieved | Delta | Done


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
            out.append(replace(c, score=c.score + weight * p, reader=p, span=span))
    out.sort(key=lambda c: -c.score)
    return out


def reader_signals(candidates: Sequence[Candidate]) -> dict[str, float]:
    """The reader's part of the answerability model's input: its probability that the
    sentence the answer would quote answers (also as a logit, the model's feature), its best
    over all candidates, and whether the quoted sentence holds the kind of thing asked for."""
    best = candidates[0].reader or 0.0
    clipped = min(max(best, 1e-4), 1.0 - 1e-4)
    return {
        "reader": best,
        "reader_logit": math.log(clipped / (1.0 - clipped)),
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


def has_markers(answer: str) -> bool:
    """Whether an answer cites passages (a refusal cites none)."""
    return re.search(r"(?<!\\)\[\d{1,3}\]", answer) is not None  # "\\[2]": a document's


SPEAKER_WINDOW = 12  # chunks either side of the previous answer's searched for its speaker
FOLLOW_UP_PASSAGES = 8  # at most this many chunks around the previous answer are read


def previous_answer_region(
    index: Index, hits: list[Hit], previous_answer: str, names: Collection[str] = ()
) -> list[Hit]:
    """Where a follow-up is answered: the chunks that hold the previous answer's sentences
    (one answer may span two chunks), then the document's chunks nearby that name `names`
    (the speaker of "what else did he say?"), then the anchors' neighbours. The reason,
    date or amount a follow-up asks for is usually a sentence or two from the previous
    answer, often across a chunk boundary, and the follow-up's own words need not retrieve
    that chunk. Empty when no hit holds a sentence of the previous answer."""
    previous = bare(previous_answer)
    anchors = [
        h
        for h in hits
        if any(bare(h.chunk.text[s:e]) in previous for s, e in split_sentences(h.chunk.text))
    ]
    if not anchors:
        return []
    doc_id = anchors[0].chunk.doc_id  # the best one's document: the previous turn's topic
    anchors = [h for h in anchors if h.chunk.doc_id == doc_id]
    rows = {h.chunk.row for h in anchors}
    ordinals = {h.chunk.ordinal for h in anchors}
    # rows follow a document's chunks in order; the doc_id and ordinal checks make sure
    reach = SPEAKER_WINDOW if names else 1
    near = index.chunks(range(min(rows) - reach, max(rows) + reach + 1))
    same = sorted(
        (n for n in near.values() if n.doc_id == doc_id and n.row not in rows),
        key=lambda n: n.ordinal,
    )
    neighbours = [n for n in same if min(abs(n.ordinal - o) for o in ordinals) == 1]
    speaking = [
        n
        for n in same
        if n not in neighbours
        and any(re.search(rf"\b{re.escape(name)}\b", n.text, re.I) for name in names)
    ]
    return [*anchors, *(Hit(n, 0.0, 0) for n in speaking + neighbours)]


def around_previous_answer(
    index: Index, hits: list[Hit], previous_answer: str, names: Collection[str] = ()
) -> list[Hit]:
    """A follow-up's hits with `previous_answer_region` first, then the other hits;
    unchanged when no hit holds a sentence of the previous answer."""
    return _region_first(previous_answer_region(index, hits, previous_answer, names), hits)


def _region_first(region: list[Hit], hits: list[Hit]) -> list[Hit]:
    if not region:
        return hits
    taken = {h.chunk.row for h in region}
    ordered = region + [h for h in hits if h.chunk.row not in taken]
    return [replace(h, rank=i) for i, h in enumerate(ordered, start=1)]


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
        asked = self.retriever.query(question)  # analysed and embedded once, passed down
        answer_lang = asked.lang or "en"
        a = self.assess(asked, history, k, mode, lang, answerer)
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
        reading = Reading(question, a.focus, answer_lang, passages, a.candidates, tuple(history))
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
        if (
            not abstained
            and answerer.name != "extractive"
            and self.reader_gates
            and not is_follow_up(question, history)  # the reader judged only the first turn
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
        answer; passages the extractive scoring did not consider are read now."""
        assert self.reader is not None and self.model.reader_threshold is not None
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
        for n, judged in zip(unread, self.reader.judge(pairs) if pairs else [], strict=True):
            best[n] = max((j.probability for j in judged if j is not None), default=0.0)
        cited = [best.get(c.n, 0.0) for c in citations if c.supported]
        return max(cited, default=0.0) >= self.model.reader_threshold

    def assess(
        self,
        question: str | Query,
        history: Sequence[Turn] = (),
        k: int | None = None,
        mode: Mode | None = None,
        lang: str | None = None,
        answerer: Answerer | None = None,
    ) -> Assessment:
        """Retrieve for `question` and judge whether the passages answer it."""
        answerer = answerer or self.answerer
        # one retriever for the whole question, even if a newer generation arrives meanwhile
        retriever = self.current_retriever()
        asked = retriever.query(question) if isinstance(question, str) else question
        question = asked.text
        standalone = answerer.condense(question, history) if history else question
        # a follow-up made standalone is another text: its own Query
        query = asked if standalone == question else retriever.query(standalone)
        retrieved = retriever.search(query, k=k, mode=mode, lang=lang)
        follow_up = is_follow_up(question, history)
        hits = retrieved
        considered = None  # the scorer's default: the best few passages
        if follow_up and hits:
            said = follow_up_intent(question) is SAID
            names = speakers(history[-1][0]) if said else set()
            region = previous_answer_region(retriever.index, hits, history[-1][1], names)
            hits = _region_first(region, hits)
            if region:  # all of the region is read, up to a bound on what is embedded
                considered = min(len(region), FOLLOW_UP_PASSAGES)
        # a follow-up is judged and scored as the conversation asks it (the question before
        # it and its own words), with its own words as the emphasis: alone, "And why?" or
        # "How much?" name no topic, and would be refused for covering none
        focus = standalone
        emphasis = question if focus != question else None
        passages = [h.chunk for h in hits]
        # scored once: the answerability gate and the extractive answer use the same ones
        candidates = self.scorer.candidates(query, passages, emphasis, considered) if hits else []
        # a follow-up is answered by what the previous answer leads to (its re-ranking), so
        # the answer-type check reads that sentence: "How much?" needs an amount there, not
        # in the sentence that best matches the earlier question
        judged = candidates
        if follow_up and candidates:
            reading = Reading(question, focus, "", passages, candidates, tuple(history))
            judged = self.scorer.follow_up(reading) or candidates
        vector = query.vector
        pool = [s for _, s in retriever.index.search(vector, BACKGROUND_POOL, None)]
        features = signals(
            focus,
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
            earlier = self.assess(history[-1][0], history[:-1], k, mode, lang, answerer)
            probability = max(probability, earlier.probability)
        return Assessment(standalone, focus, hits, candidates, features, probability)

    def ask(self, question: str, history: Sequence[Turn] = (), **options: Any) -> Answer:
        for event in self.stream(question, history, **options):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("the answer stream ended without a result")


__all__ = [
    "Answer",
    "Delta",
    "Done",
    "QAService",
    "Retrieved",
    "contextual_query",
    "is_follow_up",
    "refuses",
]
