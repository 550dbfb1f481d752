"""`citeqa serve` (chat UI, OpenAI-compatible API and MCP on one port) and `citeqa mcp`
(MCP over stdio)."""

from __future__ import annotations

from typing import Annotated

import typer

from frontends.cli.common import (
    AnswererOpt,
    EmbedderOpt,
    IndexOpt,
    LLMOpt,
    LLMUrlOpt,
    PresetOpt,
    answer_settings,
    app,
)

ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="CITEQA_API_KEY",
        show_envvar=True,
        help="Key that every route asks for: the chat page signs in with it; the API, MCP "
        "and Gradio clients send 'Authorization: Bearer KEY'.",
    ),
]


@app.command()
def serve(
    index: IndexOpt = None,
    preset: PresetOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
    api_key: ApiKeyOpt = None,
    answerer: AnswererOpt = None,
    llm: LLMOpt = None,
    llm_base_url: LLMUrlOpt = None,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="Publish the index: no upload or remove, anywhere."),
    ] = False,
) -> None:
    """Serve the chat UI (http://HOST:PORT), the OpenAI-compatible API (/v1) and MCP (/mcp)
    on one port."""
    from citeqa.extras import check

    check("fastapi", "api")  # found, not imported: the port is checked before slow imports
    check("gradio", "ui")
    from frontends.server.listen import bind

    settings = answer_settings(index, None, answerer, llm, llm_base_url, preset=preset)
    sock = bind(host, port)  # before the slow UI import: a busy port is said at once
    from frontends.server.serving import serve as serve_app

    serve_app(None, host, port, api_key or None, settings, sock, read_only)


@app.command()
def mcp(
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    answerer: AnswererOpt = None,
    llm: LLMOpt = None,
    llm_base_url: LLMUrlOpt = None,
) -> None:
    """Serve the tools search, ask and list_documents to an MCP client over stdio."""
    from citeqa.extras import require
    from frontends.server.mcp_server import create_mcp
    from qa.factory import open_service

    require("mcp", "api")

    settings = answer_settings(index, embedder, answerer, llm, llm_base_url, preset=preset)
    service = open_service(settings)
    create_mcp(service).run("stdio")
