"""The Gradio chat UI: a thin adapter over `qa.service`. `create_app(...)` builds it (tests
call it), `__main__` serves it on 127.0.0.1:7860; never a public share link.

Everything shown from documents is HTML-escaped here, so a document cannot inject markup.
Uploads land only in the data directory's `uploads/` folder, with checked names and types.
"""

from __future__ import annotations

import argparse
import html
import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from embeddings.documents import SUPPORTED_SUFFIXES
from embeddings.embedders import Embedder
from embeddings.errors import BadInput, CiteqaError
from embeddings.store import Index
from qa.citations import Citation
from qa.llm import LLMAnswerer, load_chat_model
from qa.retrieval import Hit
from qa.service import Answer, Delta, Done, QAService

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
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
CSS = """
.citeqa-source { border-left: 3px solid #2563eb; padding: 4px 10px; margin: 6px 0; }
.citeqa-source mark { background: #fde68a; padding: 0 2px; }
.citeqa-unsupported { text-decoration: underline wavy #dc2626; }
.citeqa-meta { color: #6b7280; font-size: 0.85em; }
"""


# --- rendering (pure functions, unit-tested) ----------------------------------------------


def render_answer(answer: Answer) -> str:
    """The answer with its [n] markers, unsupported sentences marked, then the cited sources."""
    if answer.abstained and not answer.citations:
        return html.escape(answer.text)
    text = html.escape(answer.text)
    for claim in answer.claims:
        if claim.markers and not claim.supported:
            sentence = html.escape(claim.text.rstrip(".!?"))
            text = text.replace(
                sentence,
                f'<span class="citeqa-unsupported" title="not '
                f'supported by the cited passage">{sentence}</span> ⚠️',
                1,
            )
    sources = "".join(render_citation(c) for c in answer.citations)
    return f"{text}\n\n<div class='citeqa-sources'><b>Sources</b>{sources}</div>"


def render_citation(c: Citation) -> str:
    local_start, local_end = c.start - c.passage_start, c.end - c.passage_start
    before = html.escape(c.passage[:local_start])
    quote = html.escape(c.passage[local_start:local_end])
    after = html.escape(c.passage[local_end:])
    status = "" if c.supported else " · ⚠️ not supported"
    return (
        f"<div class='citeqa-source'><b>[{c.n}] {html.escape(c.title)}</b>"
        f"<div class='citeqa-meta'>{html.escape(Path(c.source).name)} · {c.lang} · "
        f"characters {c.start}–{c.end}{status}</div>"
        f"<blockquote><mark>{quote}</mark></blockquote>"
        f"<details><summary>whole passage</summary>{before}<mark>{quote}</mark>{after}"
        f"</details></div>"
    )


def render_hits(hits: list[Hit]) -> str:
    """The retrieval debugger: every passage with its dense, BM25 and fused scores."""
    if not hits:
        return "<p>No passages retrieved.</p>"
    rows = []
    for h in hits:

        def num(value: float | None) -> str:
            return "–" if value is None else f"{value:.4f}"

        rows.append(
            f"<tr><td>{h.rank}</td><td>{num(h.dense)}</td><td>{num(h.bm25)}</td>"
            f"<td>{num(h.fused)}</td><td>{html.escape(Path(h.chunk.source).name)}</td>"
            f"<td>{h.chunk.lang}</td><td>{html.escape(h.chunk.text[:400])}</td></tr>"
        )
    return (
        "<table><thead><tr><th>#</th><th>dense</th><th>BM25</th><th>fused</th>"
        "<th>source</th><th>lang</th><th>passage</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def safe_upload_name(name: str) -> str:
    """A plain file name for an upload; refuses paths, hidden names and unknown types."""
    base = Path(name.replace("\\", "/")).name
    if not base or base in (".", "..") or base.startswith("."):
        raise BadInput(f"Refused file name {name!r}.")
    cleaned = re.sub(r"[^\w.\- ]", "_", base)[:120]
    if Path(cleaned).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise BadInput(f"{base}: only {', '.join(SUPPORTED_SUFFIXES)} files can be added.")
    return cleaned


# --- the app -------------------------------------------------------------------------------


class Backend:
    """What the UI calls: the shared service, and index changes that swap in a new index."""

    def __init__(self, service: QAService, embedder_spec: str, data_dir: Path) -> None:
        self.service = service
        self.embedder_spec = embedder_spec
        self.uploads = data_dir / "uploads"
        self._write_lock = threading.Lock()

    @property
    def index(self) -> Index:
        return self.service.current_retriever().index

    @property
    def embedder(self) -> Embedder:
        return self.service.retriever.embedder

    def reload(self) -> None:
        """Load the generation this process just wrote; questions in flight keep theirs."""
        self.service.current_retriever(wait=True)

    def documents(self) -> list[list[Any]]:
        return [
            [Path(d.source).name, d.title[:80], d.lang, d.chunks, d.source]
            for d in self.index.documents()
        ]

    def add_files(self, paths: list[str], progress: bool = True) -> str:
        from embeddings.indexer import ChunkingSettings, index_paths

        self.uploads.mkdir(parents=True, exist_ok=True)
        for path in paths:
            source = Path(path)
            name = safe_upload_name(source.name)
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                raise BadInput(f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB.")
            target = (self.uploads / name).resolve()
            if target.parent != self.uploads.resolve():
                raise BadInput(f"Refused file name {name!r}.")
            shutil.copyfile(source, target)
        chunking = self.index.manifest["chunking"]
        with self._write_lock:
            report = index_paths(
                [self.uploads],
                self.index.root,
                lambda: self.embedder,
                self.embedder_spec,
                ChunkingSettings(chunking["max_tokens"], chunking["overlap_tokens"]),
                progress=progress,
            )
            self.reload()
        skipped = "".join(f"\nskipped {Path(p).name}: {why}" for p, why in report.skipped)
        return (
            f"Added {len(report.added)}, updated {len(report.updated)}; "
            f"{report.chunks_embedded} passages embedded.{skipped}"
        )

    def remove(self, source: str) -> str:
        from embeddings.indexer import remove_sources

        with self._write_lock:
            removed = remove_sources(self.index.root, [source])
            self.reload()
        path = Path(source)
        if removed and path.parent.resolve() == self.uploads.resolve() and path.is_file():
            path.unlink()  # an upload is gone for good; a folder's file would come back
        return f"Removed {Path(source).name}." if removed else "That document is not indexed."


def create_app(service: QAService, embedder_spec: str, data_dir: Path) -> gr.Blocks:
    backend = Backend(service, embedder_spec, data_dir)

    def respond(
        message: str,
        chat: list[dict[str, Any]],
        history: list[list[str]],
        mode: str,
        k: int,
        answerer_name: str,
        llm_url: str,
        llm_model: str,
        lang: str,
    ) -> Iterator[tuple[Any, ...]]:
        message = (message or "").strip()
        if not message:
            yield chat, history, gr.update(), ""
            return
        chat = [
            *chat,
            {"role": "user", "content": html.escape(message)},
            {"role": "assistant", "content": "…"},
        ]
        yield chat, history, gr.update(), ""
        try:
            answerer = None
            if answerer_name == "llm":
                model = load_chat_model(f"openai:{llm_model or 'local'}", llm_url or None)
                answerer = LLMAnswerer(model, llm_url or None)
            text = ""
            for event in service.stream(
                message,
                [(t[0], t[1]) for t in history],
                k=int(k),
                mode=mode,  # type: ignore[arg-type]
                lang=None if lang == "any" else lang,
                answerer=answerer,
            ):
                if isinstance(event, Delta):
                    text += event.text
                    chat[-1] = {"role": "assistant", "content": html.escape(text) + " ▌"}
                    yield chat, history, gr.update(), ""
                elif isinstance(event, Done):
                    chat[-1] = {"role": "assistant", "content": render_answer(event.answer)}
                    history = [*history, [message, event.answer.text]]
                    yield chat, history, render_hits(event.answer.hits), ""
        except CiteqaError as exc:
            chat[-1] = {"role": "assistant", "content": f"⚠️ {html.escape(str(exc))}"}
            yield chat, history, gr.update(), ""

    def upload(
        files: list[Any] | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio injects it)
    ) -> tuple[str, Any, Any]:
        if not files:
            return "Choose one or more files first.", gr.update(), gr.update()
        try:
            paths = [f if isinstance(f, str) else f.name for f in files]
            message = backend.add_files(paths)
        except CiteqaError as exc:
            message = f"⚠️ {exc}"
        docs = backend.documents()
        return message, docs, gr.update(choices=[d[4] for d in docs])

    def remove(source: str | None) -> tuple[str, Any, Any]:
        if not source:
            return "Pick a document to remove.", gr.update(), gr.update()
        try:
            message = backend.remove(source)
        except CiteqaError as exc:
            message = f"⚠️ {exc}"
        docs = backend.documents()
        return message, docs, gr.update(choices=[d[4] for d in docs], value=None)

    with gr.Blocks(title="citeqa") as demo:
        gr.Markdown(
            "## citeqa — answers with checked citations\nAsk in Dutch or English; "
            "every claim points at the passage it comes from."
        )
        history = gr.State([])
        with gr.Tab("Chat"):
            chatbot = gr.Chatbot(
                label="Conversation",
                height=520,
                elem_id="chat",
                sanitize_html=True,
                feedback_options=None,
            )
            with gr.Row():
                box = gr.Textbox(
                    placeholder="Ask a question…",
                    show_label=False,
                    scale=8,
                    elem_id="question",
                    max_length=2000,
                )
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                stop = gr.Button("Stop", scale=1, elem_id="stop")
            gr.Examples(EXAMPLES, inputs=box)
            with gr.Accordion("Settings", open=False, elem_id="settings"):
                with gr.Row():
                    mode = gr.Radio(["hybrid", "dense", "bm25"], value="hybrid", label="Search")
                    k = gr.Slider(1, 10, value=5, step=1, label="Passages (top-k)")
                    lang = gr.Dropdown(["any", "nl", "en"], value="any", label="Language")
                with gr.Row():
                    answerer = gr.Radio(
                        ["extractive", "llm"],
                        value="extractive",
                        label="Answerer",
                        elem_id="answerer",
                    )
                    llm_url = gr.Textbox(
                        label="LLM base URL (OpenAI-compatible)",
                        placeholder="http://127.0.0.1:8080/v1",
                        elem_id="llm-url",
                    )
                    llm_model = gr.Textbox(label="LLM model", value="local")
            with gr.Accordion("All retrieved passages (retrieval debugger)", open=False):
                passages = gr.HTML(elem_id="passages")
        with gr.Tab("Documents"):
            files = gr.File(
                label="Add documents (txt, md, html, pdf, docx; 20 MiB each)",
                file_count="multiple",
                file_types=list(SUPPORTED_SUFFIXES),
                elem_id="upload",
            )
            add = gr.Button("Add to index", variant="primary", elem_id="add")
            status = gr.Markdown(elem_id="upload-status")
            table = gr.Dataframe(
                headers=["file", "title", "lang", "passages", "source"],
                value=backend.documents,
                interactive=False,
            )
            with gr.Row():
                choice = gr.Dropdown(
                    choices=[d[4] for d in backend.documents()], label="Document", scale=4
                )
                drop = gr.Button("Remove from index", variant="stop", scale=1)

        inputs = [box, chatbot, history, mode, k, answerer, llm_url, llm_model, lang]
        outputs = [chatbot, history, passages, box]
        chats: dict[str, Any] = {"concurrency_id": "chat", "concurrency_limit": CHAT_CONCURRENCY}
        ask_event = send.click(respond, inputs, outputs, **chats)
        enter_event = box.submit(respond, inputs, outputs, **chats)
        stop.click(None, None, None, cancels=[ask_event, enter_event])
        writes: dict[str, Any] = {"concurrency_id": "index", "concurrency_limit": 1}
        add.click(upload, [files], [status, table, choice], **writes)
        drop.click(remove, [choice], [status, table, choice], **writes)
    return demo


if TYPE_CHECKING:
    import socket

    from qa.settings import Settings


def serve(
    index: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    api_key: str | None = None,
    settings: Settings | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve the chat UI and the OpenAI-compatible API (/v1) on one port; loopback by
    default, never a share link. `settings` (else the environment's, with `index`) say which
    index and answerer; requests cannot change them. `sock`: already bound to host:port."""
    import sys

    from qa import api
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
        demo = create_app(service, spec, settings.index.parent)
        demo.queue(default_concurrency_limit=8)
        server = api.create_api(service, api_key)
        api.add_mcp(server, service, api_key, host)  # before the UI takes every other path
        server = gr.mount_gradio_app(server, demo, path="", css=CSS, show_error=False)
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
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("CITEQA_API_KEY") or None,
        help="Bearer token that /v1 and /mcp require [default: $CITEQA_API_KEY]",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        serve(args.index, args.host, args.port, args.api_key)
    except CiteqaError as exc:
        raise SystemExit(f"citeqa: {exc}") from None


if __name__ == "__main__":
    main()
