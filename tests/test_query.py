"""A question is analysed and embedded once per ask (`qa.query.Query`), and the index answers
row questions through public methods."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings.embedders import FakeEmbedder
from embeddings.store import Index
from qa.factory import open_service
from qa.query import Query
from qa.settings import Settings

QUESTION = "How much extra money does the Netherlands give to the Red Cross?"


class CountingEmbedder(FakeEmbedder):
    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.queries: Counter[str] = Counter()

    def embed_query(self, text: str) -> np.ndarray:
        self.queries[text] += 1
        return super().embed_query(text)


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str, calls: Counter[tuple]) -> None:
    """Count calls of `name`, by its arguments, wherever a qa/ module imported it."""
    for module in [m for key, m in sys.modules.items() if key.startswith("qa.")]:
        original = getattr(module, name, None)
        if callable(original):

            def counted(
                text: str,
                *args: Any,
                _f: Callable[..., Any] = original,
                name: str = name,
                **kwargs: Any,
            ) -> Any:
                calls[(name, text, *args, *sorted(kwargs.items()))] += 1
                return _f(text, *args, **kwargs)

            monkeypatch.setattr(module, name, counted)


def service_over(index: Path, embedder: FakeEmbedder):  # type: ignore[no-untyped-def]
    from qa.factory import open_retriever

    settings = Settings(index=index)
    return open_service(settings, open_retriever(settings, embedder))


def test_one_hybrid_ask_embeds_and_analyses_the_question_once(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = CountingEmbedder()
    service = service_over(small_index, embedder)
    assert service.retriever.config.mode == "hybrid"
    calls: Counter[tuple] = Counter()
    for name in ("analyse", "analyse_query", "language_of_question"):
        count_calls(monkeypatch, name, calls)
    answer = service.ask(QUESTION)
    assert not answer.abstained and answer.citations  # the whole way: search, scoring, gate
    assert embedder.queries[QUESTION] == 1  # (the citation check embeds answer sentences)
    assert {key: n for key, n in calls.items() if key[1] == QUESTION} == {
        ("language_of_question", QUESTION): 1,
        ("analyse_query", QUESTION): 1,  # both stemmings: the extractive scorer's terms
        ("analyse", QUESTION, "en"): 1,  # BM25 of English passages and documents
        ("analyse", QUESTION, "nl"): 1,  # of Dutch ones
    }


def test_a_follow_up_embeds_only_its_standalone_form(small_index: Path) -> None:
    embedder = CountingEmbedder()
    service = service_over(small_index, embedder)
    first = service.ask(QUESTION)
    embedder.queries.clear()
    answer = service.ask("And why?", [(QUESTION, first.text)])
    assert answer.standalone != "And why?"
    assert embedder.queries[answer.standalone] == 1
    assert embedder.queries["And why?"] == embedder.queries[QUESTION] == 0


ANALYSES = (
    "analyse",
    "analyse_query",
    "tokens",
    "fold",
    "language_of_question",
    "expected_answer_type",
    "focus_words",
    "neutral_words",
    "follow_up_intent",
    "speakers",
)


def count_ask(
    monkeypatch: pytest.MonkeyPatch, service: Any, question: str, history: list
) -> tuple[Any, Counter[tuple], Counter[str]]:
    """Ask once, counting every analysis (an `embeddings.analysis` function or a question
    reading of `qa`) of a text from the question or its standalone form, by its arguments,
    and the retrievals: `Retriever.search` calls, dense searches, and CURRENT reads."""
    from qa import service as service_module
    from qa.retrieval import Retriever

    calls: Counter[tuple] = Counter()
    for name in ANALYSES:
        count_calls(monkeypatch, name, calls)
    reads: Counter[str] = Counter()

    def counting(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            reads[name] += 1
            return f(*args, **kwargs)

        return counted

    monkeypatch.setattr(Retriever, "search", counting("search", Retriever.search))
    live = service_module.live_generation
    monkeypatch.setattr(service_module, "live_generation", counting("CURRENT", live))
    answer = service.ask(question, history)
    said = (question + " " + answer.standalone).lower()
    derived = Counter(
        {k: n for k, n in calls.items() if isinstance(k[1], str) and k[1].lower() in said}
    )
    return answer, derived, reads


def test_one_ask_and_one_follow_up_analyse_and_retrieve_once(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = CountingEmbedder()
    service = service_over(small_index, embedder)
    with monkeypatch.context() as patched:
        first, calls, reads = count_ask(patched, service, QUESTION, [])
    assert not first.abstained and first.citations
    assert embedder.queries[QUESTION] == 1  # (the citation check embeds answer sentences)
    assert calls and {key: n for key, n in calls.items() if n != 1} == {}, calls
    assert reads == {"search": 1, "CURRENT": 1}
    embedder.queries.clear()
    history = [(QUESTION, first.text)]
    with monkeypatch.context() as patched:
        answer, calls, reads = count_ask(patched, service, "And why?", history)
    assert answer.standalone == f"{QUESTION} And why?"
    assert embedder.queries[answer.standalone] == 1
    assert embedder.queries[QUESTION] == embedder.queries["And why?"] == 0
    # the previous turn is neither analysed nor retrieved again (its answerability is carried);
    # only its speakers are read, once, for the follow-up's re-ranking
    assert {key: n for key, n in calls.items() if key[1] == QUESTION} == {("speakers", QUESTION): 1}
    assert calls[("follow_up_intent", "And why?")] == 1
    assert calls and {key: n for key, n in calls.items() if n != 1} == {}, calls
    assert reads == {"search": 1, "CURRENT": 1}


def test_a_follow_up_judged_afresh_is_judged_as_one_whose_first_turn_was_carried(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = service_over(small_index, CountingEmbedder())
    first = warm.ask(QUESTION)
    history = [(QUESTION, first.text)]
    carried = warm.ask("And why?", history)
    cold = service_over(small_index, CountingEmbedder())  # never saw the first turn
    afresh, _, reads = count_ask(monkeypatch, cold, "And why?", history)
    assert reads["search"] == 2  # it retrieved the first turn again, to judge it
    assert (afresh.text, afresh.evidence, afresh.signals) == (
        carried.text,
        carried.evidence,
        carried.signals,
    )


def test_a_query_works_each_thing_out_once_and_only_when_asked() -> None:
    embedded: list[str] = []

    def embed(text: str) -> np.ndarray:
        embedded.append(text)
        return np.ones(4, dtype=np.float32)

    q = Query("Hoeveel fietsen zijn er in Nederland?", embed)
    assert q.terms_in("nl") is q.terms_in("nl") and q.terms_in("other") == q.terms_in("en")
    assert q.lang == "nl" and "fiets" in q.terms
    assert embedded == []  # BM25 needs no vector
    assert q.vector is q.vector and embedded == [q.text]


def test_index_rows_by_language_and_source(small_index: Path) -> None:
    index = Index(small_index)
    every = index.rows_where()
    assert every.tolist() == sorted(c.row for c in index.iter_chunks())
    langs = index.languages_of(every.tolist())
    dutch = index.rows_where(lang="nl")
    assert dutch.tolist() == [r for r in every.tolist() if langs[r] == "nl"] and len(dutch)
    sub = index.rows_where(source="/sub/")
    assert {index.chunks(sub.tolist())[r].source.rsplit("/", 2)[-2] for r in sub.tolist()} == {
        "sub"
    }
    assert index.rows_where(source="%").tolist() == []  # a literal, not a LIKE pattern
    fiets = index.rows_where(lang="nl", source="fiets").tolist()
    assert fiets and fiets == [r for r in dutch.tolist() if "fiets" in index.chunks([r])[r].source]
    sources = [c.source for c in index.iter_chunks()]
    assert [s for _, s in index.row_sources()] == sources
    assert {index.document_languages()[s] for s in sources if s.endswith("nl_fiets.txt")} == {"nl"}
    assert set(index.row_terms()) == set(every.tolist())
    assert index.document_pages(sources[0]) == [] and index.document_pages("nope") == []
    index.close()


def test_a_judged_turn_is_read_back_only_as_it_was_judged(small_index: Path) -> None:
    from qa.answering import ExtractiveAnswerer
    from qa.judged import Judged

    index = Index(small_index)
    one, two = ExtractiveAnswerer(FakeEmbedder()), ExtractiveAnswerer(FakeEmbedder())
    judged = Judged(size=2)
    key = judged.key(index, "Q?", [("a", "b")], (None, None, None), one)
    judged.put(key, one, 0.7)
    assert judged.get(key, one) == 0.7
    assert judged.get(key, two) is None  # another answerer (an LLM condenses its own way)
    assert judged.get(judged.key(index, "Q?", [], (None, None, None), one), one) is None
    assert judged.get(judged.key(index, "Q?", [("a", "b")], (3, None, None), one), one) is None
    for n in range(2):
        judged.put(judged.key(index, f"other {n}", [], (None, None, None), one), one, 0.1)
    assert judged.get(key, one) is None  # the least recently used went first
    index.close()
