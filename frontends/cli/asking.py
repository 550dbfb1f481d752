"""`citeqa search`, `ask` and `chat`: passages, a checked answer, a conversation."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from citeqa.errors import BadInput
from frontends.cli.common import (
    AnswererOpt,
    EmbedderOpt,
    IndexOpt,
    JsonOpt,
    KOpt,
    LLMOpt,
    LLMUrlOpt,
    PresetOpt,
    answer_settings,
    app,
    json_line,
    settings_from,
    shown,
    terminal_size,
)
from frontends.terminal import terminal_safe


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for.")],
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    k: KOpt = None,
    mode: Annotated[
        str | None,
        typer.Option(help="hybrid | dense | bm25 [default: retrieval.mode, hybrid]"),
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="Only passages in this language: nl, en or other.")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only sources whose path contains this.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Retrieve the passages that best match QUESTION."""
    from embeddings.documents import LANGUAGES
    from qa.factory import open_retriever

    if lang is not None and lang not in LANGUAGES:
        raise BadInput(f"--lang {lang}: unknown language; choose {', '.join(LANGUAGES)}")
    settings = settings_from(index, embedder, preset, retrieval={"k": k, "mode": mode})
    retriever = open_retriever(settings)
    hits = retriever.search(question, lang=lang, source=source)
    if as_json:
        typer.echo(json_line({"query": question, "hits": [h.as_json() for h in hits]}))
        return
    for h in hits:
        c = h.chunk
        where = f"{shown(c.source)}:{c.start}-{c.end}"
        head = f"{h.rank}. [{h.score:.4f}] {c.title} ({c.lang}) {where}"
        typer.echo(terminal_safe(head, newlines=False))
        body = c.text[:300] + ("…" if len(c.text) > 300 else "")
        typer.echo("   " + terminal_safe(body, newlines=False))


def _print_answer(answer: object) -> None:
    a = answer  # qa.service.Answer
    span = a.answer_span  # type: ignore[attr-defined]
    if span:
        short = a.text[span[0] : span[1]]  # type: ignore[attr-defined]
        label = "kort antwoord" if a.lang == "nl" else "short answer"  # type: ignore[attr-defined]
        typer.echo(terminal_safe(f"  {label}: {short}", newlines=False))
    for c in a.citations:  # type: ignore[attr-defined]
        mark = "" if c.supported else "  (unsupported)"
        line = f"  [{c.n}] {c.title} — {shown(c.source)}:{c.start}-{c.end}{mark}"
        typer.echo(terminal_safe(line, newlines=False))
        typer.echo(terminal_safe(f"      “{c.quote}”", newlines=False))
    if a.abstained and a.related:  # type: ignore[attr-defined]
        dutch = a.lang == "nl"  # type: ignore[attr-defined]  # in the refusal's language
        header = "verwant (de dichtstbijzijnde passages, geen bronnen)" if dutch else None
        typer.echo(f"  {header or 'related (closest passages, not sources)'}:")
        for h in a.related:  # type: ignore[attr-defined]
            c = h.chunk
            snippet = c.text[:160].replace("\n", " ") + ("…" if len(c.text) > 160 else "")
            where = f"{shown(c.source)}:{c.start}-{c.end}"
            typer.echo(terminal_safe(f"  - {c.title} — {where}", False))
            typer.echo(terminal_safe(f"      {snippet}", newlines=False))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in Dutch or English.")],
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    answerer: AnswererOpt = None,
    llm: LLMOpt = None,
    llm_base_url: LLMUrlOpt = None,
    k: KOpt = None,
    as_json: JsonOpt = False,
    after: Annotated[
        list[str] | None,
        typer.Option(
            "--after",
            help="An earlier question of the conversation (repeatable, oldest first): "
            "QUESTION is then a follow-up.",
        ),
    ] = None,
) -> None:
    """Answer QUESTION from the index, with checked citations."""
    from frontends.terminal import Draft
    from qa.answer import Delta, Done
    from qa.factory import open_service

    settings = answer_settings(index, embedder, answerer, llm, llm_base_url, k, preset=preset)
    service = open_service(settings)
    history: list[tuple[str, str]] = []
    for earlier in after or []:
        history.append((earlier, service.ask(earlier, history).text))
    # a terminal sees the draft as it comes and the checked answer replace it; a pipe gets
    # the checked answer only
    draft = Draft(lambda text: typer.echo(text, nl=False), terminal_size)
    live = not as_json and sys.stdout.isatty()
    for event in service.stream(question, history):
        if isinstance(event, Delta) and live:
            draft.add(event.text)
        elif isinstance(event, Done):
            answer = event.answer
    if as_json:
        typer.echo(json_line(answer.as_json()))
        return
    draft.settle(answer.text)
    typer.echo("")
    _print_answer(answer)


@app.command()
def chat(
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    answerer: AnswererOpt = None,
    llm: LLMOpt = None,
    llm_base_url: LLMUrlOpt = None,
) -> None:
    """An interactive session in the terminal: follow-ups use the conversation, arrow keys
    edit and recall questions, Ctrl-C stops an answer, /sources and /clear."""
    from frontends.terminal_chat import run_chat
    from qa.factory import open_service

    settings = answer_settings(index, embedder, answerer, llm, llm_base_url, preset=preset)
    service = open_service(settings)
    from embeddings.stores import is_remote

    # inside the index folder, as uploads/ are; a store elsewhere (milvus:) has no folder of
    # ours to write in, so its line history lasts the session
    history = None if is_remote(settings.index) else settings.index / "chat_history"
    run_chat(service, history)
