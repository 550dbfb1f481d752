"""The Gradio chat UI's layout: the components, and which event calls which
`ChatHandlers` method (frontends/web/handlers.py, where what each event does is, with its
tests). `create_app(...)` builds it; `citeqa serve` (frontends/server/serving.py) serves it.

Programs use four named endpoints: `ask`, `upload`, `remove` and `documents`; the UI's own
events are not part of the API. Nothing from a document or a model is rendered as markup
(see frontends/web/chat_ui.py), and a Content-Security-Policy keeps the page from loading
remote images.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

try:
    import gradio as gr
except ImportError:
    from citeqa.errors import MissingExtra

    raise MissingExtra("the chat UI (gradio) is not installed: pip install 'citeqa[ui]'") from None

from citeqa.settings import IndexingConfig
from embeddings.documents import SUPPORTED_SUFFIXES
from frontends.web.backend import MAX_UPLOAD_BYTES, Backend
from frontends.web.chat_page import page_assets
from frontends.web.chat_ui import render_conversation
from frontends.web.handlers import ChatHandlers, hidden
from frontends.web.requests import LANGS, MODES
from qa.service import QAService

# Questions answered at once, over both ways of asking (button, Enter). Gradio's default is 1
# per event listener, which would make the 20th user wait for 19 answers. Extractive answers
# are CPU-bound, so on 2 cores more at once only interleaves them (each streams as it goes);
# LLM answers wait on the server, where concurrency pays. Index changes run one at a time.
# Gradio's thread pool (launch's max_threads, 40) is larger than this.
CHAT_CONCURRENCY = 20
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


def create_app(
    service: QAService,
    embedder_spec: str,
    indexing: IndexingConfig | None = None,
    read_only: bool = False,
    signed_in: bool = False,
) -> gr.Blocks:
    """The chat UI over `service`. Uploads go to the index's own `<index>/uploads/` (sibling
    indexes must not share uploads), and are indexed with the `indexing` settings given.
    `read_only`: no upload or remove, in the page or the API; `signed_in`: the server has a
    key, so the page offers sign-out."""
    from gradio.utils import get_upload_folder

    # files uploaded but never added (a page left mid-way) leave Gradio's folder within hours
    demo = _Blocks(title="citeqa", delete_cache=(3600, 3600))
    retrieval = service.retriever.config
    assets = page_assets()
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n<style>{assets.css}</style>'
    )

    def uploaded_here(path: Path) -> bool:
        # only files Gradio's /upload route wrote in this server's run, in its upload folder
        real = os.path.realpath(path)
        return any(os.path.realpath(p) == real for p in list(demo.upload_file_set))

    backend = Backend(
        service,
        embedder_spec,
        Path(get_upload_folder()),
        uploaded_here,
        indexing,
    )
    on = ChatHandlers(service, backend)

    with demo:
        signout = " <a href='/logout' id='sign-out'>sign out</a>" if signed_in else ""
        gr.HTML(
            "<h2 style='margin:0'>citeqa — answers with checked citations</h2>" + signout,
            head=head,
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
                    js_on_load=assets.chat_js,
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
                    viewer = gr.HTML(elem_id="viewer", js_on_load=assets.viewer_js)
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
            on.respond,
            [box, saved, mode, k, lang],
            [chat, saved, passages, box, send, stop, so_far, *side],
            trigger_mode="multiple",  # "once" ignores every Ask after a Stop (Gradio 6.31)
            show_progress="hidden",
            **chats,
            **private,
        )
        stop.click(
            on.stopped,
            [saved, so_far],
            [chat, saved, send, box, stop, so_far, *side],
            cancels=[asking],
            queue=False,
            **private,
        )
        switch = [saved, chat, passages, *side, delete_confirm]
        quick: dict[str, Any] = {"queue": False, "show_progress": "hidden", **private}
        new.click(on.started_new, [saved], switch, **quick)
        conversations.input(on.opened, [saved, conversations], switch, **quick)
        gr.on(
            [rename_button.click, title.submit], on.renamed, [saved, title], [saved, *side], **quick
        )
        delete_button.click(on.confirm_delete, [saved], [delete_text, delete_confirm], **quick)
        delete_no.click(hidden, None, [delete_confirm], **quick)
        delete_yes.click(on.deleted, [saved], switch, **quick)
        viewer_open.click(on.open_document, [viewer_request], [viewer, viewer_panel], **quick)
        viewer_close.click(hidden, None, [viewer_panel], **quick)
        demo.load(on.restore, [saved], [saved, chat, table, choice, *side], **private)
        api_trigger.click(
            on.api_ask,
            [api_question, api_history, api_mode, api_k, api_lang],
            [api_html, api_answer],
            api_name="ask",
            **chats,
        )
        api_trigger.click(on.documents, None, [api_documents], api_name="documents")
        if read_only:  # no write at all: not in the page, not in the API
            return demo
        add_button.click(
            on.add_ui,
            [files],
            [status, table, choice, files],
            preprocess=False,
            **writes,
            **private,
        )
        drop.click(on.confirm_ui, [choice], [status, confirm_text, confirm], queue=False, **private)
        no.click(hidden, None, [confirm], queue=False, **private)
        yes.click(on.remove_ui, [choice], [status, table, choice, confirm], **writes, **private)

        api_trigger.click(
            on.api_upload,
            [api_files],
            [api_message, api_documents],
            api_name="upload",
            preprocess=False,
            **writes,
        )
        api_trigger.click(
            on.api_remove, [api_source], [api_message, api_documents], api_name="remove", **writes
        )
    return demo


if __name__ == "__main__":  # one way to serve: the CLI (frontends/server/serving.py)
    raise SystemExit("app.py is the layout only; serve the chat with: citeqa serve [--index DIR]")
