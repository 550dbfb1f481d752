"""The chat page's events without a page (frontends/web/handlers.py): each `ChatHandlers`
method called as Gradio would call it, on the small index with the fake embedder, and what
it gives each component checked. The page itself is tests/test_browser.py's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from citeqa.errors import LLMUnavailable
from embeddings.embedders import FakeEmbedder
from embeddings.store import Index
from frontends.web.backend import Backend
from frontends.web.conversations import current_title, current_turns
from frontends.web.handlers import ChatHandlers, hidden
from qa.answering import ExtractiveAnswerer
from qa.citations import CitationChecker
from qa.retrieval import Retriever
from qa.service import QAService

QUESTION = "How much does the Netherlands give to the Red Cross?"
SETTINGS = ("hybrid", 3, "any")  # mode, k, lang as the page sends them


@pytest.fixture
def on(small_index: Path, fake_embedder: FakeEmbedder) -> ChatHandlers:
    retriever = Retriever(Index(small_index), fake_embedder)
    service = QAService(
        retriever, ExtractiveAnswerer(fake_embedder), CitationChecker(fake_embedder)
    )
    return ChatHandlers(service, Backend(service, "fake:64"))


class Unreachable:
    """A service whose LLM is down: every answer fails the way a real one does."""

    def stream(self, question: str, history: Any, **options: Any) -> Iterator[Any]:
        raise LLMUnavailable("the LLM server at http://127.0.0.1:9/v1 is not reachable.")
        yield  # a generator, as the real one is


def interactive(update: Any) -> Any:
    return update.get("interactive")


def test_asking_locks_the_conversation_until_the_checked_answer(on: ChatHandlers) -> None:
    states = list(on.respond(QUESTION, {}, *SETTINGS))
    assert len(states) >= 2
    chat, saved, _passages, box, ask, stop, so_far, *side = states[0]
    assert "citeqa-pending" in chat and saved == gr.update()  # nothing saved mid-answer
    assert box == {"__type__": "update", "value": "", "interactive": False}
    assert not interactive(ask) and interactive(stop) and so_far["question"] == QUESTION
    assert [interactive(s) for s in side] == [False] * 5
    chat, saved, passages, box, ask, stop, so_far, *side = states[-1]
    [turn] = current_turns(saved)
    assert turn["question"] == QUESTION and turn["text"]
    assert QUESTION in chat and "citeqa-pending" not in chat and "passage" in passages.lower()
    assert interactive(box) and interactive(ask) and not interactive(stop) and so_far is None
    assert [interactive(s) for s in side] == [True] * 5


def test_an_empty_question_changes_nothing(on: ChatHandlers) -> None:
    [(chat, saved, passages, box, ask, stop, so_far, *_)] = on.respond("  ", {}, *SETTINGS)
    assert saved == passages == gr.update() and so_far is None
    assert interactive(box) and interactive(ask) and not interactive(stop)
    assert "citeqa-empty" in chat


def test_a_failing_answer_is_a_turn_with_its_message(on: ChatHandlers) -> None:
    failing = ChatHandlers(Unreachable(), on.backend)  # type: ignore[arg-type]
    *_, (chat, saved, *_) = failing.respond(QUESTION, {}, *SETTINGS)
    [turn] = current_turns(saved)
    assert "not reachable" in chat and turn["question"] == QUESTION


def test_bad_settings_are_said_in_the_chat_and_through_the_api(on: ChatHandlers) -> None:
    [(chat, *_)] = on.respond(QUESTION, {}, "fuzzy", 3, "any")
    assert "mode must be one of hybrid, dense, bm25" in chat
    with pytest.raises(gr.Error, match="k must be a whole number"):
        on.api_ask(QUESTION, [], "hybrid", 99, "any")


def test_stop_keeps_the_question_and_a_retry_takes_its_place(on: ChatHandlers) -> None:
    so_far = {"question": QUESTION, "text": "Het Rode"}
    chat, saved, ask, box, stop, kept, *_ = on.stopped({}, so_far)
    [turn] = current_turns(saved)
    assert turn["stopped"] and turn["text"] == "Het Rode" and "Stopped" in chat
    assert box["value"] == QUESTION and interactive(ask) and not interactive(stop)
    assert kept is None
    *_, (_, again, *_) = on.respond(QUESTION, saved, *SETTINGS)
    [retried] = current_turns(again)
    assert not retried.get("stopped") and retried["question"] == QUESTION


def test_new_rename_open_and_delete_a_conversation(on: ChatHandlers) -> None:
    *_, (_, first, *_) = on.respond(QUESTION, {}, *SETTINGS)
    store, chat, passages, radio, title, *_, confirm = on.started_new(first)
    assert current_turns(store) == [] and passages == "" and confirm == hidden()
    assert len(radio["choices"]) == 2 and title["value"] == current_title(store)
    store, *_ = on.renamed(store, "  Sluizen  ")
    assert current_title(store) == "Sluizen"
    question, panel = on.confirm_delete(store)
    assert "Sluizen" in question and panel["visible"]
    store, *_ = on.deleted(store)
    assert [c["title"] for c in store["chats"]] != ["Sluizen"] and len(store["chats"]) == 1
    store, chat, *_ = on.opened(store, store["chats"][0]["id"])
    assert QUESTION in chat


def test_restore_checks_what_the_browser_kept(on: ChatHandlers) -> None:
    store, chat, rows, remove_choices, *side = on.restore({"chats": "<script>"})
    [chat_kept] = store["chats"]
    assert chat_kept["turns"] == [] and "citeqa-empty" in chat
    assert rows and all(len(row) == 4 for row in rows)
    assert len(remove_choices["choices"]) == len(rows) and remove_choices["value"] is None
    assert len(side) == 5


def test_the_viewer_opens_indexed_documents_only(on: ChatHandlers) -> None:
    source = str(on.documents()[0]["source"])
    shown, panel = on.open_document(f'{{"source": "{source}", "start": 0, "end": 5}}')
    assert "citeqa-cited" in shown and panel["visible"]
    for request in ("not json", '{"source": "/etc/passwd", "start": 0, "end": 1}', None):
        shown, panel = on.open_document(request)
        assert shown.startswith("<p>That ") and panel["visible"]


def test_uploads_and_removals_say_what_is_missing(on: ChatHandlers) -> None:
    status, rows, choice, files = on.add_ui(None)
    assert "Choose one or more files first." in status and files is None
    assert len(rows) == len(choice["choices"]) and choice["value"] is None
    status, text, confirm = on.confirm_ui(None)
    assert "Pick a document" in status and text == "" and confirm == hidden()
    status, text, confirm = on.confirm_ui("/nowhere.txt")
    assert "no longer in the index" in status
    status, *_, panel = on.remove_ui(None)
    assert "Pick a document" in status and panel == hidden()


def test_remove_asks_first_then_removes(on: ChatHandlers, small_index: Path) -> None:
    doc = on.documents()[0]
    status, text, confirm = on.confirm_ui(str(doc["source"]))
    assert status == "" and "Remove <b>" in text and confirm["visible"]
    status, rows, choice, panel = on.remove_ui(str(doc["source"]))
    assert doc["name"] not in [row[0] for row in rows] and panel == hidden()
    assert str(doc["source"]) not in [value for _, value in choice["choices"]]


def test_status_messages_are_inert_html(on: ChatHandlers) -> None:
    status, *_ = on.after_change("added <img src=x onerror=alert(1)>.txt\nsecond line")
    assert status == "<p>added &lt;img src=x onerror=alert(1)&gt;.txt<br>second line</p>"


def test_the_api_ask_gives_html_and_the_structured_answer(on: ChatHandlers) -> None:
    html, answer = on.api_ask(QUESTION, [["Earlier?", "Yes."]], *SETTINGS)
    assert answer["question"] == QUESTION and "citeqa-text" in html
    with pytest.raises(gr.Error, match="history must be a list"):
        on.api_ask(QUESTION, "not a history", *SETTINGS)
