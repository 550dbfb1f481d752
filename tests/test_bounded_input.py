"""Text that is not text, and conversations of any size (qa/query.py, qa/service.py): lone
surrogates and control characters never reach the tokenizer, an earlier turn of any length
is cut before it is embedded, and no string makes an ask fail other than with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citeqa.errors import BadInput
from embeddings.store import Index
from qa.answering import ExtractiveAnswerer
from qa.citations import CitationChecker
from qa.query import clean_text
from qa.retrieval import Retriever
from qa.service import MAX_HISTORY_TURNS, MAX_TURN_CHARS, QAService, bounded
from tests.conftest import ROOT


def service(index: Path, embedder) -> QAService:  # type: ignore[no-untyped-def]
    retriever = Retriever(Index(index), embedder)
    return QAService(retriever, ExtractiveAnswerer(embedder), CitationChecker(embedder))


def test_what_is_not_text_is_dropped() -> None:
    assert clean_text("\udcff Gaza?\x00\x1b[31m ok\tnl\n") == " Gaza?[31m ok\tnl\n"
    assert clean_text("Rode Kruis 🇳🇱 café") == "Rode Kruis 🇳🇱 café"  # pairs stay


def test_an_earlier_turn_of_any_length_is_cut_before_it_is_embedded(
    small_index: Path, fake_embedder
) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    embed = fake_embedder.embed_query

    def spy(text: str):  # type: ignore[no-untyped-def]
        seen.append(text)
        return embed(text)

    fake_embedder.embed_query = spy
    qa = service(small_index, fake_embedder)
    huge = "Nederland geeft geld aan het Rode Kruis. " * 25_000  # 1 MB
    history = [(huge, huge)] * (MAX_HISTORY_TURNS + 30)
    qa.ask("En waarom?", history)
    assert seen and max(len(t) for t in seen) <= 3 * MAX_TURN_CHARS
    kept = bounded(history)
    assert len(kept) == MAX_HISTORY_TURNS
    assert all(len(q) <= MAX_TURN_CHARS and len(a) <= MAX_TURN_CHARS for q, a in kept)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(max_size=60),
    st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), max_size=3),
)
def test_no_string_breaks_an_ask(small_index: Path, fake_embedder, question: str, history) -> None:  # type: ignore[no-untyped-def]
    qa = service(small_index, fake_embedder)
    try:
        answer = qa.ask(question, history)
    except BadInput as exc:
        assert "\n" not in str(exc)
        return
    answer.as_json()  # serialisable
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in answer.question + answer.text)


@pytest.mark.slow
def test_a_question_of_invalid_utf8_is_answered_not_a_traceback(e5_index: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "frontends.cli",
            "ask",
            "\udcff Rode Kruis?",
            "--index",
            str(e5_index),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=300,
        check=False,
    )
    assert "Traceback" not in done.stderr and done.returncode == 0, done.stderr[-800:]
