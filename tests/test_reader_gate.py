"""Where the reader takes part in answering (qa/service.py), with a scripted reader: its
judgement is a signal the answerability model can weigh (refused before any LLM is
called), an LLM answer stands only if a passage it cites holds what the reader takes for an
answer, and the short answer it marks is shown in bold (frontends/web/chat_ui.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embeddings.store import ChunkRecord, Index
from frontends.web.chat_ui import render_answer_text
from frontends.web.views import answer_view, load_turns
from qa.answerability import Model
from qa.answering import Candidate, ExtractiveAnswerer
from qa.citations import Citation, CitationChecker
from qa.llm import LLMAnswerer
from qa.reader import Judgement, Pair
from qa.retrieval import Retriever
from qa.service import QAService
from qa.settings import AnswerConfig
from tests.fakes import ScriptedChatModel

QUESTION = "Hoeveel geeft Nederland aan het Rode Kruis?"


class ScriptedReader:
    """Every sentence gets `probability`; the short answer is "3 miljoen" where it occurs."""

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.calls: list[list[Pair]] = []

    def judge(self, pairs: Sequence[Pair]) -> list[list[Judgement | None]]:
        self.calls.append(list(pairs))
        out = []
        for pair in pairs:
            at = pair.passage.find("3 miljoen")
            judged: list[Judgement | None] = []
            for s, e in pair.sentences:
                span = (at, at + 9) if s <= at < e else None
                judged.append(Judgement(self.probability, 0.0, span))
            out.append(judged)
        return out


def service(index: Path, embedder, reader, llm=None) -> QAService:  # type: ignore[no-untyped-def]
    # an answerability model that reads the reader alone, as a refit with its feature would
    model = Model(("reader_logit",), (0.0,), (1.0,), (5.0,), 0.0, 0.5, reader_threshold=0.5)
    retriever = Retriever(Index(index), embedder)
    answerer = LLMAnswerer(llm) if llm is not None else ExtractiveAnswerer(embedder)
    return QAService(
        retriever, answerer, CitationChecker(embedder, 0.8), AnswerConfig(), model, reader
    )


def test_a_reader_below_its_operating_point_refuses(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    doubtful = service(small_index, fake_embedder, ScriptedReader(0.1)).ask(QUESTION)
    assert doubtful.abstained and not doubtful.citations
    assert doubtful.signals["reader"] == 0.1 and doubtful.evidence < 0.01
    sure = service(small_index, fake_embedder, ScriptedReader(0.9)).ask(QUESTION)
    assert not sure.abstained and sure.citations
    assert sure.answer_span is not None
    start, end = sure.answer_span
    assert sure.text[start:end] == "3 miljoen"


def test_a_refused_llm_question_never_reaches_the_llm(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedChatModel.replying("Nederland geeft 3 miljoen euro aan het Rode Kruis. [1]")
    answer = service(small_index, fake_embedder, ScriptedReader(0.1), llm).ask(QUESTION)
    assert answer.abstained and llm.seen == []


def test_an_llm_answer_needs_a_cited_passage_the_reader_accepts(
    small_index: Path, fake_embedder
) -> None:  # type: ignore[no-untyped-def]
    reply = "Nederland geeft een extra bijdrage van 3 miljoen euro aan het Rode Kruis. [1]"
    accepted = service(
        small_index, fake_embedder, ScriptedReader(0.9), ScriptedChatModel.replying(reply)
    ).ask(QUESTION)
    assert not accepted.abstained and accepted.citations
    assert accepted.answer_span is None  # the span marks quotes, not a model's words
    qa = service(small_index, fake_embedder, ScriptedReader(0.9), ScriptedChatModel.replying(reply))
    qa.reader_confirms = lambda *args: False  # type: ignore[method-assign]
    assert qa.ask(QUESTION).abstained  # no cited passage the reader accepts


def test_the_reader_checks_the_passages_an_answer_cites(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    reader = ScriptedReader(0.9)
    qa = service(small_index, fake_embedder, reader)
    passages = [passage(f"Zin {n} over het Rode Kruis. Nog een zin.", n) for n in (1, 2, 3)]
    read = [
        Candidate(1, "Zin 1.", 1.0, 0.9, reader=0.2),
        Candidate(2, "Zin 2.", 0.5, 0.8, reader=0.8),
    ]

    def cites(*ns: int) -> list[Citation]:
        return [citation(n, supported=True) for n in ns] + [citation(2, supported=False)]

    assert not qa.reader_confirms(QUESTION, passages, read, cites(1))  # [2] unsupported
    assert qa.reader_confirms(QUESTION, passages, read, [citation(2, supported=True)])
    assert reader.calls == []  # all it needed was read for the gate
    assert qa.reader_confirms(QUESTION, passages, read, cites(1, 3))  # passage 3 read now
    assert [p.passage for p in reader.calls[0]] == [passages[2].text]
    reader.probability = 0.1
    assert not qa.reader_confirms(QUESTION, passages, read, cites(3))


def passage(text: str, n: int) -> ChunkRecord:
    return ChunkRecord(
        n, f"c{n}", f"d{n}", f"/docs/{n}.txt", 0, 0, len(text), text, "nl", 8, f"Doc {n}"
    )


def citation(n: int, supported: bool) -> Citation:
    return Citation(
        n, f"d{n}", f"/docs/{n}.txt", f"Doc {n}", f"c{n}", "nl", "Zin.", 0, 4, supported, "Zin.", 0
    )


def test_the_short_answer_is_bold_and_escaped() -> None:
    view = {
        "text": "Nederland geeft 3 <miljoen> euro. [1]",
        "span": [16, 27],
        "unsupported": [],
        "citations": [],
    }
    html = render_answer_text(view, "a")
    assert "<strong class='citeqa-span'>3 &lt;miljoen&gt;</strong>" in html
    stored = load_turns([{**view, "question": "q", "span": [30, 99]}])
    assert stored[0]["span"] is None  # offsets outside the text are dropped, not trusted
    assert load_turns([{**view, "question": "q"}])[0]["span"] == [16, 27]


def test_the_view_carries_the_span(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    answer = service(small_index, fake_embedder, ScriptedReader(0.9)).ask(QUESTION)
    view = answer_view(QUESTION, answer)
    assert view["span"] == list(answer.answer_span)
    assert "<strong class='citeqa-span'>3 miljoen</strong>" in render_answer_text(view, "a")
