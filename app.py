"""The Gradio chat UI: the layout and a thin adapter over `qa.service` (answers),
`frontends.web.backend` (uploads, removals) and `frontends.web.chat_ui` (what the chat
shows). `create_app(...)` builds it; `serve()` below runs it on loopback by default, never
with a share link.

Programs use four named endpoints: `ask`, `upload`, `remove` and `documents`; the UI's own
events are not part of the API. Nothing from a document or a model is rendered as markup
(see frontends/web/chat_ui.py), and a Content-Security-Policy keeps the page from loading
remote images.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import gradio as gr
except ImportError:
    from citeqa.errors import MissingExtra

    raise MissingExtra("the chat UI (gradio) is not installed: pip install 'citeqa[ui]'") from None

from citeqa.settings import MAX_FILE_SECONDS
from embeddings.documents import SUPPORTED_SUFFIXES
from embeddings.errors import BadInput, CiteqaError
from frontends.web.backend import MAX_UPLOAD_BYTES, Backend, Upload, UploadReport
from frontends.web.chat_page import CHAT_JS, CSS, VIEWER_JS
from frontends.web.chat_ui import (
    MAX_TURNS,
    answer_view,
    error_view,
    history_of,
    render_answer,
    render_conversation,
    render_document,
    render_hits,
    render_pending,
    stopped_view,
    stream_to_chat,
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
from qa.service import QAService

log = logging.getLogger(__name__)

# Questions answered at once, over both ways of asking (button, Enter). Gradio's default is 1
# per event listener, which would make the 20th user wait for 19 answers. Extractive answers
# are CPU-bound, so on 2 cores more at once only interleaves them (each streams as it goes);
# LLM answers wait on the server, where concurrency pays. Index changes run one at a time.
# Gradio's thread pool (launch's max_threads, 40) is larger than this.
CHAT_CONCURRENCY = 20
MODES = ["hybrid", "dense", "bm25"]
LANGS = ["any", "nl", "en"]
EXAMPLES = [
    "Which Israeli ministers did the Dutch government declare persona non grata?",
    "How much extra money does the Netherlands give to the Dutch Red Cross?",
    "Wat zei John Kirby over een herbezetting van Gaza?",
    "Hoeveel gijzelaars zouden aanvankelijk worden vrijgelaten?",
]
# No document or model text is rendered as an image or link, and this keeps it so even if
# some markup got through: images, media and fetches only from this server.
CSP = (
    "img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self' data:; object-src 'none'; frame-src 'none'; form-action 'self'"
)
HEAD = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n<style>{CSS}</style>'


class _Blocks(gr.Blocks):
    """Blocks whose upload limit stays at MAX_UPLOAD_BYTES however they are served: launch()
    and mount_gradio_app() both overwrite `max_file_size` (with "no limit" by default), and a
    bigger file should be refused before it is written to Gradio's upload folder at all."""

    @property
    def max_file_size(self) -> int:
        asked = getattr(self, "_max_file_size", None)
        return MAX_UPLOAD_BYTES if asked is None else min(int(asked), MAX_UPLOAD_BYTES)

    @max_file_size.setter
    def max_file_size(self, value: int | None) -> None:
        self._max_file_size = value


def _as_html(message: str) -> str:
    """A status message as inert HTML: file names are the user's, so never markup."""
    return "<p>" + "<br>".join(html.escape(line) for line in message.splitlines()) + "</p>"


def _document_choices(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Remove's choices: what people recognise (name and file), the source as the value."""
    labels = []
    for d in docs:
        label = d["name"] if d["file"] in d["name"] else f"{d['name']} — {d['file']}"
        labels.append((label, str(d["source"])))
    return labels


def _document_rows(docs: list[dict[str, Any]]) -> list[list[Any]]:
    return [[d["name"], d["file"], d["lang"], d["passages"]] for d in docs]


def _history_pairs(value: Any) -> list[tuple[str, str]]:
    """The API's `history`: earlier [question, answer] pairs."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list) or not all(
        isinstance(t, list | tuple) and len(t) == 2 and all(isinstance(x, str) for x in t)
        for t in value
    ):
        raise BadInput("history must be a list of [question, answer] pairs of strings.")
    return [(t[0], t[1]) for t in value][-MAX_TURNS:]


def _str_of(value: Any, key: str) -> str:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else ""


def _options(mode: Any, k: Any, lang: Any) -> dict[str, Any]:
    if mode not in MODES:
        raise BadInput(f"mode must be one of {', '.join(MODES)}.")
    if lang not in LANGS:
        raise BadInput(f"lang must be one of {', '.join(LANGS)}.")
    try:
        top = int(k)
    except (TypeError, ValueError):
        raise BadInput("k must be a whole number from 1 to 50.") from None
    if not 1 <= top <= 50:
        raise BadInput("k must be a whole number from 1 to 50.")
    return {"k": top, "mode": mode, "lang": None if lang == "any" else lang}


def _file_payload(payload: Any) -> list[Upload]:
    """Gradio's raw file data (the endpoint skips preprocessing so the original name survives:
    Gradio's own copy of `a<b.txt` is `ab.txt`). Only `path` and `orig_name` are read."""
    items = payload if isinstance(payload, list) else [payload] if payload else []
    uploads = []
    for item in items:
        path = item.get("path") if isinstance(item, dict) else item
        if not isinstance(path, str) or not path:
            raise BadInput("files must be uploaded files.")
        name = item.get("orig_name") if isinstance(item, dict) else None
        uploads.append(Upload(Path(path), name if isinstance(name, str) and name else path))
    return uploads


def create_app(
    service: QAService,
    embedder_spec: str,
    _data_dir: Path | None = None,
    document_vectors: bool = True,
    read_only: bool = False,
    signed_in: bool = False,
    max_file_seconds: float = MAX_FILE_SECONDS,
) -> gr.Blocks:
    """The chat UI over `service`. Uploads go to the index's own `<index>/uploads/` (the third
    argument, a data folder, is no longer used: sibling indexes must not share uploads), and
    are indexed with `indexing.document_vectors` as given. `read_only`: no upload or remove,
    in the page or the API; `signed_in`: the server has a key, so the page offers sign-out;
    `max_file_seconds`: `indexing.max_file_seconds`, how long reading one upload may take."""
    from gradio.utils import get_upload_folder

    # files uploaded but never added (a page left mid-way) leave Gradio's folder within hours
    demo = _Blocks(title="citeqa", delete_cache=(3600, 3600))
    retrieval = service.retriever.config

    def uploaded_here(path: Path) -> bool:
        # only files Gradio's /upload route wrote in this server's run, in its upload folder
        real = os.path.realpath(path)
        return any(os.path.realpath(p) == real for p in list(demo.upload_file_set))

    backend = Backend(
        service,
        embedder_spec,
        Path(get_upload_folder()),
        uploaded_here,
        document_vectors,
        max_file_seconds=max_file_seconds,
    )

    def documents() -> list[dict[str, Any]]:
        return backend.documents()

    def add(payload: Any) -> UploadReport:
        return backend.add_files(_file_payload(payload))

    # --- API endpoints (public) -------------------------------------------------------------

    def api_ask(
        question: str, history: Any, mode: str, k: float, lang: str
    ) -> tuple[str, dict[str, Any]]:
        try:
            answer = service.ask(question or "", _history_pairs(history), **_options(mode, k, lang))
        except CiteqaError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return render_answer(answer_view(question, answer, backend.page_of)), answer.as_json()

    def api_upload(files: Any) -> tuple[str, list[dict[str, Any]]]:
        try:
            message = add(files).message
        except CiteqaError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return message, documents()

    def api_remove(source: str) -> tuple[str, list[dict[str, Any]]]:
        try:
            message = backend.remove(source or "")
        except CiteqaError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return message, documents()

    # --- UI events (private) ----------------------------------------------------------------

    def sidebar(store: Store) -> tuple[Any, ...]:
        """The conversation list (the open one chosen), its title and the buttons, usable."""
        on = gr.update(interactive=True)
        return (
            gr.update(choices=choices(store), value=store["current"], interactive=True),
            gr.update(value=current_title(store), interactive=True),
            on,
            on,
            on,
        )

    # while answering, the conversation cannot change under the answer (Stop frees it)
    locked = tuple(gr.update(interactive=False) for _ in range(5))

    def respond(
        message: str, saved: Any, mode: str, k: float, lang: str
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
            yield render_conversation(turns), keep, keep, idle, idle, off, None, *sidebar(store)
            return
        if turns and turns[-1].get("stopped") and turns[-1]["question"] == question:
            turns = turns[:-1]  # asked again: the retry takes the stopped turn's place
        busy_box = gr.update(value="", interactive=False)
        try:
            events = service.stream(question, history_of(turns), **_options(mode, k, lang))
            for state in stream_to_chat(question, events, backend.page_of):
                if state.view is None:
                    pending = render_pending(question, state.status, state.text)
                    so_far = {"question": question, "text": state.text}
                    busy = (busy_box, off, idle, so_far, *locked)
                    yield render_conversation(turns, pending), keep, keep, *busy
                else:
                    turns = [*turns, state.view][-MAX_TURNS:]
                    store = with_turns(store, turns)
                    hits = render_hits(state.hits or [], state.searched)
                    done = (idle, idle, off, None, *sidebar(store))
                    yield render_conversation(turns), store, hits, *done
        except CiteqaError as exc:
            turns = [*turns, error_view(question, str(exc))][-MAX_TURNS:]
            store = with_turns(store, turns)
            done = (idle, idle, off, None, *sidebar(store))
            yield render_conversation(turns), store, keep, *done

    def restore(saved: Any) -> tuple[Any, ...]:
        store = load_store(saved)  # checked, and an earlier version's one chat carried over
        docs = documents()
        return (
            store,
            render_conversation(current_turns(store)),
            _document_rows(docs),
            gr.update(choices=_document_choices(docs), value=None),
            *sidebar(store),
        )

    def stopped(saved: Any, so_far: Any) -> tuple[Any, ...]:
        """Stop keeps the question (marked stopped, with a retry; back in the box too) and
        whatever partial text had arrived."""
        store = load_store(saved)
        turns = current_turns(store)
        question = _str_of(so_far, "question")
        if question:
            turns = [*turns, stopped_view(question, _str_of(so_far, "text"))][-MAX_TURNS:]
            store = with_turns(store, turns)
        idle = gr.update(interactive=True)
        box = gr.update(value=question, interactive=True) if question else idle
        off = gr.update(interactive=False)
        return render_conversation(turns), store, idle, box, off, None, *sidebar(store)

    def shown(store: Store) -> tuple[Any, ...]:
        """Another conversation opened: its turns, an empty debugger, the sidebar, no
        confirmation left open."""
        turns = current_turns(store)
        hidden = gr.update(visible=False)
        return store, render_conversation(turns), "", *sidebar(store), hidden

    def started_new(saved: Any) -> tuple[Any, ...]:
        return shown(new_chat(load_store(saved)))

    def opened(saved: Any, chosen: Any) -> tuple[Any, ...]:
        return shown(open_chat(load_store(saved), chosen))

    def renamed(saved: Any, title: Any) -> tuple[Any, ...]:
        store = rename(load_store(saved), title)
        return store, *sidebar(store)

    def confirm_delete(saved: Any) -> tuple[Any, ...]:
        title = current_title(load_store(saved))
        return (
            f"<p>Delete the conversation “<b>{html.escape(title)}</b>”? Its questions and "
            "answers are removed from this browser.</p>",
            gr.update(visible=True),
        )

    def deleted(saved: Any) -> tuple[Any, ...]:
        return shown(delete(load_store(saved)))

    def open_document(request: Any) -> tuple[Any, ...]:
        """The viewer: an indexed document (by its source, never a path read from disk) with
        the cited span marked; anything else is a one-line message."""
        try:
            asked = json.loads(request) if isinstance(request, str) else {}
            source, start, end = asked["source"], int(asked["start"]), int(asked["end"])
        except (ValueError, TypeError, KeyError):
            return "<p>That source cannot be opened.</p>", gr.update(visible=True)
        text = backend.index.document_text(source) if isinstance(source, str) else None
        if text is None:
            return "<p>That document is no longer in the index.</p>", gr.update(visible=True)
        names = {str(d["source"]): str(d["name"]) for d in documents()}
        page = backend.page_of(source, start)
        shown = render_document(names.get(source, Path(source).name), text, start, end, page)
        return shown, gr.update(visible=True)

    def after_change(message: str) -> tuple[Any, ...]:
        """The message, then both document lists refreshed (nothing preselected)."""
        docs = documents()
        return (
            _as_html(message),
            _document_rows(docs),
            gr.update(choices=_document_choices(docs), value=None),
        )

    def add_ui(payload: Any) -> tuple[Any, ...]:
        if not payload:
            message = "Choose one or more files first."
        else:
            try:
                message = add(payload).message
            except CiteqaError as exc:
                message = f"⚠️ {exc}"
        return (*after_change(message), None)

    def confirm_ui(source: str | None) -> tuple[Any, ...]:
        hidden = gr.update(visible=False)
        if not source:
            return _as_html("Pick a document to remove first."), "", hidden
        names = {v: label for label, v in _document_choices(documents())}
        if source not in names:
            return _as_html("That document is no longer in the index."), "", hidden
        return (
            "",
            f"<p>Remove <b>{html.escape(names[source])}</b> from the index? Its passages are "
            "deleted, and an uploaded file is deleted too.</p>",
            gr.update(visible=True),
        )

    def remove_ui(source: str | None) -> tuple[Any, ...]:
        message = "Pick a document to remove first."
        if source:
            try:
                message = backend.remove(source)
            except CiteqaError as exc:
                message = f"⚠️ {exc}"
        return (*after_change(message), gr.update(visible=False))

    with demo:
        signout = " <a href='/logout' id='sign-out'>sign out</a>" if signed_in else ""
        gr.HTML(
            "<h2 style='margin:0'>citeqa — answers with checked citations</h2>" + signout,
            head=HEAD,
            js_on_load=None,
        )
        # the conversations (frontends/web/conversations.py); the key is the one a single
        # conversation
        # was kept under, which load_store carries over
        saved = gr.BrowserState({}, storage_key="citeqa-conversation")
        so_far = gr.State(None)  # the answer in progress: what Stop keeps
        with gr.Tab("Chat"), gr.Row(elem_id="chat-layout"):
            with gr.Column(scale=4, min_width=300, elem_id="chat-main"):
                chat = gr.HTML(
                    render_conversation([]),
                    elem_id="chat",
                    js_on_load=CHAT_JS,
                    container=True,
                    padding=True,
                )
                with gr.Row(elem_id="ask-row", equal_height=True):
                    box = gr.Textbox(
                        placeholder="Ask a question…",
                        show_label=False,
                        scale=8,
                        min_width=240,
                        elem_id="question",
                        lines=1,  # no max_length: a longer question is refused aloud, not cut
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="ask")
                    stop = gr.Button(
                        "Stop", scale=1, min_width=70, elem_id="stop", interactive=False
                    )
                with gr.Group(visible=False, elem_id="viewer-panel") as viewer_panel:
                    viewer = gr.HTML(elem_id="viewer", js_on_load=VIEWER_JS)
                    viewer_close = gr.Button(
                        "Close the document", size="sm", elem_id="viewer-close"
                    )
                with gr.Column(elem_id="viewer-controls"):  # driven by the chat's script
                    viewer_request = gr.Textbox(elem_id="viewer-request", show_label=False)
                    viewer_open = gr.Button("open", elem_id="viewer-open")
                with gr.Accordion("All retrieved passages (retrieval debugger)", open=False):
                    passages = gr.HTML(elem_id="passages", js_on_load=None)
            with gr.Column(scale=1, min_width=220, elem_id="sidebar"):
                new = gr.Button("New chat", elem_id="new-chat", size="sm")
                conversations = gr.Radio(
                    [], label="Conversations", elem_id="conversations", interactive=True
                )
                with gr.Row(elem_id="chat-title-row", equal_height=True):
                    title = gr.Textbox(
                        label="Title", elem_id="chat-title", scale=3, min_width=120, max_lines=1
                    )
                    rename_button = gr.Button("Rename", elem_id="rename", size="sm", scale=1)
                delete_button = gr.Button(
                    "Delete chat…", variant="stop", size="sm", elem_id="delete-chat"
                )
                with gr.Group(visible=False, elem_id="delete-confirm") as delete_confirm:
                    delete_text = gr.HTML(elem_id="delete-text", js_on_load=None)
                    with gr.Row():
                        delete_yes = gr.Button(
                            "Yes, delete it", variant="stop", size="sm", elem_id="delete-yes"
                        )
                        delete_no = gr.Button("Cancel", size="sm", elem_id="delete-no")
                gr.Examples(EXAMPLES, inputs=box)
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    # the settings' values (CITEQA_RETRIEVAL__MODE, __K, a preset) as defaults
                    mode = gr.Radio(MODES, value=retrieval.mode, label="Search")
                    k = gr.Slider(
                        1, max(10, retrieval.k), value=retrieval.k, step=1, label="Passages (top-k)"
                    )
                    lang = gr.Dropdown(LANGS, value="any", label="Language")
        with gr.Tab("Documents"):
            files = gr.File(
                label=f"Add documents ({', '.join(s.lstrip('.') for s in SUPPORTED_SUFFIXES)}; "
                f"{MAX_UPLOAD_BYTES // 2**20} MiB each)",
                file_count="multiple",
                file_types=list(SUPPORTED_SUFFIXES),
                elem_id="upload",
                visible=not read_only,
            )
            add_button = gr.Button(
                "Add to index", variant="primary", elem_id="add", visible=not read_only
            )
            status = gr.HTML(elem_id="upload-status", js_on_load=None)
            table = gr.Dataframe(
                headers=["document", "file", "lang", "passages"],
                interactive=False,
                wrap=True,
                column_widths=["38%", "29%", "13%", "20%"],  # side by side on a phone too
                elem_id="documents-table",
            )
            choice = gr.Dropdown(
                choices=[],
                value=None,
                label="Document to remove",
                elem_id="remove-choice",
                visible=not read_only,
            )
            drop = gr.Button("Remove…", variant="stop", elem_id="remove", visible=not read_only)
            with gr.Group(visible=False, elem_id="confirm") as confirm:
                confirm_text = gr.HTML(elem_id="confirm-text", js_on_load=None)
                with gr.Row():
                    yes = gr.Button("Yes, remove it", variant="stop", elem_id="confirm-yes")
                    no = gr.Button("Cancel", elem_id="confirm-no")
        # The API's own inputs and outputs: never shown, named for gradio_client.
        with gr.Column(visible=False):
            api_question = gr.Textbox(label="question")
            api_history = gr.JSON([], label="history")
            api_mode = gr.Dropdown(MODES, value=retrieval.mode, label="mode")
            api_k = gr.Number(retrieval.k, precision=0, label="k")
            api_lang = gr.Dropdown(LANGS, value="any", label="lang")
            api_html = gr.HTML(label="answer_html", js_on_load=None)
            api_answer = gr.JSON(label="answer")
            api_files = gr.File(file_count="multiple", label="files")
            api_source = gr.Textbox(label="source")
            api_message = gr.Textbox(label="message")
            api_documents = gr.JSON(label="documents")
            api_trigger = gr.Button()

        private: dict[str, Any] = {"api_visibility": "private"}
        chats: dict[str, Any] = {"concurrency_id": "chat", "concurrency_limit": CHAT_CONCURRENCY}
        writes: dict[str, Any] = {"concurrency_id": "index", "concurrency_limit": 1}

        side = [conversations, title, new, rename_button, delete_button]
        asking = gr.on(
            [send.click, box.submit],
            respond,
            [box, saved, mode, k, lang],
            [chat, saved, passages, box, send, stop, so_far, *side],
            trigger_mode="multiple",  # "once" ignores every Ask after a Stop (Gradio 6.31)
            show_progress="hidden",
            **chats,
            **private,
        )
        stop.click(
            stopped,
            [saved, so_far],
            [chat, saved, send, box, stop, so_far, *side],
            cancels=[asking],
            queue=False,
            **private,
        )
        switch = [saved, chat, passages, *side, delete_confirm]
        quick: dict[str, Any] = {"queue": False, "show_progress": "hidden", **private}
        new.click(started_new, [saved], switch, **quick)
        conversations.input(opened, [saved, conversations], switch, **quick)
        gr.on([rename_button.click, title.submit], renamed, [saved, title], [saved, *side], **quick)
        delete_button.click(confirm_delete, [saved], [delete_text, delete_confirm], **quick)
        delete_no.click(lambda: gr.update(visible=False), None, [delete_confirm], **quick)
        delete_yes.click(deleted, [saved], switch, **quick)
        viewer_open.click(open_document, [viewer_request], [viewer, viewer_panel], **quick)
        viewer_close.click(lambda: gr.update(visible=False), None, [viewer_panel], **quick)
        demo.load(restore, [saved], [saved, chat, table, choice, *side], **private)
        api_trigger.click(
            api_ask,
            [api_question, api_history, api_mode, api_k, api_lang],
            [api_html, api_answer],
            api_name="ask",
            **chats,
        )
        api_trigger.click(documents, None, [api_documents], api_name="documents")
        if read_only:  # no write at all: not in the page, not in the API
            return demo
        add_button.click(
            add_ui, [files], [status, table, choice, files], preprocess=False, **writes, **private
        )
        drop.click(confirm_ui, [choice], [status, confirm_text, confirm], queue=False, **private)
        no.click(lambda: gr.update(visible=False), None, [confirm], queue=False, **private)
        yes.click(remove_ui, [choice], [status, table, choice, confirm], **writes, **private)

        api_trigger.click(
            api_upload,
            [api_files],
            [api_message, api_documents],
            api_name="upload",
            preprocess=False,
            **writes,
        )
        api_trigger.click(
            api_remove, [api_source], [api_message, api_documents], api_name="remove", **writes
        )
    return demo


if TYPE_CHECKING:
    import socket

    from qa.settings import Settings


def build_server(
    service: QAService,
    spec: str,
    settings: Settings,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    read_only: bool = False,
) -> Any:
    """The whole server as one ASGI app: the UI, Gradio's API, /v1 and /mcp, all behind one
    lock (frontends/server/lock.py: the key, when set, for every route; the body limit; no
    upload route when read-only)."""
    from frontends.server import api
    from frontends.server.lock import ServerLock

    demo = create_app(
        service,
        spec,
        settings.index.parent,
        settings.indexing.document_vectors,
        read_only=read_only,
        signed_in=api_key is not None,
        max_file_seconds=settings.indexing.max_file_seconds,
    )
    demo.queue(default_concurrency_limit=8)
    server = api.create_api(service, api_key)
    api.add_mcp(server, service, api_key, host)  # before the UI takes every other path
    server = gr.mount_gradio_app(server, demo, path="", css=CSS, show_error=False)
    return ServerLock(server, api_key, read_only, max_upload=MAX_UPLOAD_BYTES * 8)


def serve(
    index: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    api_key: str | None = None,
    settings: Settings | None = None,
    sock: socket.socket | None = None,
    read_only: bool = False,
) -> None:
    """Serve the chat UI and the OpenAI-compatible API (/v1) on one port; loopback by
    default, never a share link. `settings` (else the environment's, with `index`) say which
    index and answerer; requests cannot change them. `sock`: already bound to host:port."""
    import sys

    from frontends.server import api
    from qa.factory import embedder_spec, open_service
    from qa.settings import Settings

    settings = settings or Settings()
    if index is not None:
        settings = settings.model_copy(update={"index": index})
    # a busy port fails here, in one line, before any loading
    sock = sock or api.bind(host, port)
    try:
        spec = embedder_spec(settings)
        service = open_service(settings.model_copy(update={"embedder": spec}))
        # OpenVINO builds the embedder's graph on first use (about 3.5 s): now, not on the
        # first question, so "chat UI on ..." below means ready
        service.retriever.embedder.embed_query("warm-up")
        server = build_server(service, spec, settings, api_key, host, read_only)
        warning = api.exposure_warning(host, api_key)
        if warning:
            print(f"\n{'!' * 78}\n{warning}\n{'!' * 78}\n", file=sys.stderr, flush=True)
        shown = f"[{host}]" if ":" in host else host
        print(
            f"citeqa: chat UI on http://{shown}:{port}/ , OpenAI-compatible API on "
            f"http://{shown}:{port}/v1 , MCP on http://{shown}:{port}/mcp (Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        api.run(server, sock)
    finally:
        sock.close()


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description="Serve the citeqa chat UI and API.")
    parser.add_argument("--index", type=Path, default=None, help="index directory")
    parser.add_argument("--preset", default=None, help="named settings [default: $CITEQA_PRESET]")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("CITEQA_API_KEY") or None,
        help="Key that every route requires [default: $CITEQA_API_KEY]",
    )
    parser.add_argument("--read-only", action="store_true", help="no upload or remove")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        from qa.settings import Settings

        settings = Settings(preset=args.preset) if args.preset else None
        serve(args.index, args.host, args.port, args.api_key, settings, None, args.read_only)
    except CiteqaError as exc:
        raise SystemExit(f"citeqa: {exc}") from None


if __name__ == "__main__":
    main()
