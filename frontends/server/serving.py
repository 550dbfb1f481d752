"""The one server `citeqa serve` runs: the chat UI (app.py's layout), Gradio's API, /v1 and
/mcp on one port, behind one lock; loopback by default, never a share link. This module
puts the parts together and runs them; it defines no route or page of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from frontends.server import api, listen
from frontends.server.lock import ServerLock
from frontends.web.backend import MAX_UPLOAD_BYTES
from frontends.web.chat_page import page_assets
from qa.service import QAService

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
    import gradio as gr

    from app import create_app

    demo = create_app(
        service, spec, settings.indexing, read_only=read_only, signed_in=api_key is not None
    )
    demo.queue(default_concurrency_limit=8)
    server = api.create_api(service, api_key)
    api.add_mcp(server, service, api_key, host)  # before the UI takes every other path
    css = page_assets().css
    server = gr.mount_gradio_app(server, demo, path="", css=css, show_error=False)
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
    from qa.factory import open_service, pin_and_open
    from qa.settings import Settings

    settings = settings or Settings()
    if index is not None:
        settings = settings.model_copy(update={"index": index})
    # a busy port fails here, in one line, before any loading
    sock = sock or listen.bind(host, port)
    try:
        pinned, retriever = pin_and_open(settings)  # the store opened once
        spec = str(pinned.embedder)
        service = open_service(pinned, retriever)
        # OpenVINO builds the embedder's graph on first use (about 3.5 s): now, not on the
        # first question, so "chat UI on ..." below means ready
        service.retriever.embedder.embed_query("warm-up")
        server = build_server(service, spec, settings, api_key, host, read_only)
        warning = listen.exposure_warning(host, api_key)
        if warning:
            print(f"\n{'!' * 78}\n{warning}\n{'!' * 78}\n", file=sys.stderr, flush=True)
        shown = f"[{host}]" if ":" in host else host
        print(
            f"citeqa: chat UI on http://{shown}:{port}/ , OpenAI-compatible API on "
            f"http://{shown}:{port}/v1 , MCP on http://{shown}:{port}/mcp (Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        listen.run(server, sock)
    finally:
        sock.close()


__all__ = ["build_server", "serve"]
