"""What the chat page's events and its four API endpoints do: `ChatHandlers`, one method per
event, over a `QAService` (answers) and a `Backend` (uploads, removals). Each method takes
the components' values and returns theirs (Gradio updates), so it can be called, and tested,
without a page or a browser. Which component feeds which method is app.py's layout.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from embeddings.errors import CiteqaError
from frontends.web.backend import Backend, UploadReport
from frontends.web.chat_ui import (
    render_answer,
    render_conversation,
    render_document,
    render_hits,
    render_pending,
)
from frontends.web.conversations import (
    Store,
    choices,
    current_title,
    current_turns,
    delete,
    load_store,
    new_chat,
    open_chat,
    rename,
    with_turns,
)
from frontends.web.requests import file_payload, history_pairs, search_options, text_of
from frontends.web.views import (
    MAX_TURNS,
    answer_view,
    error_view,
    history_of,
    stopped_view,
    stream_to_chat,
)
from qa.service import QAService


def as_html(message: str) -> str:
    """A status message as inert HTML: file names are the user's, so never markup."""
    return "<p>" + "<br>".join(html.escape(line) for line in message.splitlines()) + "</p>"


def document_choices(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Remove's choices: what people recognise (name and file), the source as the value."""
    labels = []
    for d in docs:
        label = d["name"] if d["file"] in d["name"] else f"{d['name']} — {d['file']}"
        labels.append((label, str(d["source"])))
    return labels


def document_rows(docs: list[dict[str, Any]]) -> list[list[Any]]:
    return [[d["name"], d["file"], d["lang"], d["passages"]] for d in docs]


def hidden() -> Any:
    """Closes a panel (a confirmation, the viewer)."""
    return gr.update(visible=False)


class ChatHandlers:
    """The page's events and API endpoints over one service and its upload backend."""

    def __init__(self, service: QAService, backend: Backend) -> None:
        self.service = service
        self.backend = backend

    def documents(self) -> list[dict[str, Any]]:
        return self.backend.documents()

    def add(self, payload: Any) -> UploadReport:
        return self.backend.add_files(file_payload(payload))

    # --- API endpoints (public) -------------------------------------------------------------

    def api_ask(
        self, question: str, history: Any, mode: str, k: float, lang: str
    ) -> tuple[str, dict[str, Any]]:
        try:
            options = search_options(mode, k, lang)
            answer = self.service.ask(question or "", history_pairs(history), **options)
        except CiteqaError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        view = answer_view(question, answer, self.backend.page_of)
        return render_answer(view), answer.as_json()

    def api_upload(self, files: Any) -> tuple[str, list[dict[str, Any]]]:
        try:
            message = self.add(files).message
        except CiteqaError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return message, self.documents()

    def api_remove(self, source: str) -> tuple[str, list[dict[str, Any]]]:
        try:
            message = self.backend.remove(source or "")
        except CiteqaError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return message, self.documents()

    # --- UI events (private) ----------------------------------------------------------------

    def sidebar(self, store: Store) -> tuple[Any, ...]:
        """The conversation list (the open one chosen), its title and the buttons, usable."""
        on = gr.update(interactive=True)
        return (
            gr.update(choices=choices(store), value=store["current"], interactive=True),
            gr.update(value=current_title(store), interactive=True),
            on,
            on,
            on,
        )

    def respond(
        self, message: str, saved: Any, mode: str, k: float, lang: str
    ) -> Iterator[tuple[Any, ...]]:
        """Outputs: chat, saved conversations, debugger, question box, Ask, Stop, the answer
        in progress, then the sidebar's. While answering, the box, Ask and the sidebar are
        disabled (Enter cannot start a second answer) and Stop is enabled; Stop frees them.
        A follow-up is read against the open conversation's turns only."""
        store = load_store(saved)
        turns = current_turns(store)
        question = (message or "").strip()
        keep, idle, off = gr.update(), gr.update(interactive=True), gr.update(interactive=False)
        if not question:
            empty = render_conversation(turns)
            yield empty, keep, keep, idle, idle, off, None, *self.sidebar(store)
            return
        if turns and turns[-1].get("stopped") and turns[-1]["question"] == question:
            turns = turns[:-1]  # asked again: the retry takes the stopped turn's place
        busy_box = gr.update(value="", interactive=False)
        # while answering, the conversation cannot change under the answer (Stop frees it)
        locked = tuple(gr.update(interactive=False) for _ in range(5))
        try:
            options = search_options(mode, k, lang)
            events = self.service.stream(question, history_of(turns), **options)
            for state in stream_to_chat(question, events, self.backend.page_of):
                if state.view is None:
                    pending = render_pending(question, state.status, state.text)
                    so_far = {"question": question, "text": state.text}
                    busy = (busy_box, off, idle, so_far, *locked)
                    yield render_conversation(turns, pending), keep, keep, *busy
                else:
                    turns = [*turns, state.view][-MAX_TURNS:]
                    store = with_turns(store, turns)
                    hits = render_hits(state.hits or [], state.searched)
                    done = (idle, idle, off, None, *self.sidebar(store))
                    yield render_conversation(turns), store, hits, *done
        except CiteqaError as exc:
            turns = [*turns, error_view(question, str(exc))][-MAX_TURNS:]
            store = with_turns(store, turns)
            done = (idle, idle, off, None, *self.sidebar(store))
            yield render_conversation(turns), store, keep, *done

    def restore(self, saved: Any) -> tuple[Any, ...]:
        store = load_store(saved)  # checked, and an earlier version's one chat carried over
        docs = self.documents()
        return (
            store,
            render_conversation(current_turns(store)),
            document_rows(docs),
            gr.update(choices=document_choices(docs), value=None),
            *self.sidebar(store),
        )

    def stopped(self, saved: Any, so_far: Any) -> tuple[Any, ...]:
        """Stop keeps the question (marked stopped, with a retry; back in the box too) and
        whatever partial text had arrived."""
        store = load_store(saved)
        turns = current_turns(store)
        question = text_of(so_far, "question")
        if question:
            turns = [*turns, stopped_view(question, text_of(so_far, "text"))][-MAX_TURNS:]
            store = with_turns(store, turns)
        idle = gr.update(interactive=True)
        box = gr.update(value=question, interactive=True) if question else idle
        off = gr.update(interactive=False)
        return render_conversation(turns), store, idle, box, off, None, *self.sidebar(store)

    def shown(self, store: Store) -> tuple[Any, ...]:
        """Another conversation opened: its turns, an empty debugger, the sidebar, no
        confirmation left open."""
        turns = current_turns(store)
        return store, render_conversation(turns), "", *self.sidebar(store), hidden()

    def started_new(self, saved: Any) -> tuple[Any, ...]:
        return self.shown(new_chat(load_store(saved)))

    def opened(self, saved: Any, chosen: Any) -> tuple[Any, ...]:
        return self.shown(open_chat(load_store(saved), chosen))

    def renamed(self, saved: Any, title: Any) -> tuple[Any, ...]:
        store = rename(load_store(saved), title)
        return store, *self.sidebar(store)

    def confirm_delete(self, saved: Any) -> tuple[Any, ...]:
        title = current_title(load_store(saved))
        return (
            f"<p>Delete the conversation “<b>{html.escape(title)}</b>”? Its questions and "
            "answers are removed from this browser.</p>",
            gr.update(visible=True),
        )

    def deleted(self, saved: Any) -> tuple[Any, ...]:
        return self.shown(delete(load_store(saved)))

    def open_document(self, request: Any) -> tuple[Any, ...]:
        """The viewer: an indexed document (by its source, never a path read from disk) with
        the cited span marked; anything else is a one-line message."""
        try:
            asked = json.loads(request) if isinstance(request, str) else {}
            source, start, end = asked["source"], int(asked["start"]), int(asked["end"])
        except (ValueError, TypeError, KeyError):
            return "<p>That source cannot be opened.</p>", gr.update(visible=True)
        index = self.backend.index
        text = index.document_text(source) if isinstance(source, str) else None
        if text is None:
            return "<p>That document is no longer in the index.</p>", gr.update(visible=True)
        names = {str(d["source"]): str(d["name"]) for d in self.documents()}
        page = self.backend.page_of(source, start)
        view = render_document(names.get(source, Path(source).name), text, start, end, page)
        return view, gr.update(visible=True)

    def after_change(self, message: str) -> tuple[Any, ...]:
        """The message, then both document lists refreshed (nothing preselected)."""
        docs = self.documents()
        return (
            as_html(message),
            document_rows(docs),
            gr.update(choices=document_choices(docs), value=None),
        )

    def add_ui(self, payload: Any) -> tuple[Any, ...]:
        if not payload:
            message = "Choose one or more files first."
        else:
            try:
                message = self.add(payload).message
            except CiteqaError as exc:
                message = f"⚠️ {exc}"
        return (*self.after_change(message), None)

    def confirm_ui(self, source: str | None) -> tuple[Any, ...]:
        if not source:
            return as_html("Pick a document to remove first."), "", hidden()
        names = {v: label for label, v in document_choices(self.documents())}
        if source not in names:
            return as_html("That document is no longer in the index."), "", hidden()
        return (
            "",
            f"<p>Remove <b>{html.escape(names[source])}</b> from the index? Its passages are "
            "deleted, and an uploaded file is deleted too.</p>",
            gr.update(visible=True),
        )

    def remove_ui(self, source: str | None) -> tuple[Any, ...]:
        message = "Pick a document to remove first."
        if source:
            try:
                message = self.backend.remove(source)
            except CiteqaError as exc:
                message = f"⚠️ {exc}"
        return (*self.after_change(message), hidden())


__all__ = ["ChatHandlers", "as_html", "document_choices", "document_rows", "hidden"]
