"""The `citeqa` command line: index, search, ask, chat, eval, serve, mcp.

A thin layer at the top of the project, beside app.py: parse options into `Settings`, call
the library (qa/, embeddings/, eval/, app), print. Nothing below imports it. `CiteqaError`s
become one clear line on stderr and exit code 2 in one place, `_Commands.invoke`.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from citeqa.errors import BadInput, CiteqaError
from citeqa.settings import PRESETS, Settings


class _Commands(TyperGroup):
    """The one error handler: a `CiteqaError` from any command (or from checking its
    options) is one line on stderr and exit code 2 (DiskFull: 3), never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer._click.Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except CiteqaError as exc:
            _fail(exc)


app = typer.Typer(
    cls=_Commands,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # help text as written: "[default: 64]", "'citeqa[ray]'" kept
    help="Question answering over your documents, with checked citations.",
)


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"citeqa {version('citeqa')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("citeqa (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Question answering over your documents, with checked citations."""


IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory [default: $CITEQA_INDEX, else ./.citeqa/index]"),
]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help=f"Named settings: {' | '.join(PRESETS)}; the environment and options override "
        "them [default: $CITEQA_PRESET]",
    ),
]
EmbedderOpt = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="e5-small-q4 | sentence-transformers:<model path> | fake "
        "[default: the index's own; a new index gets e5-small-q4]",
    ),
]


# The command-line option that sets each settings field, for one-line error messages.
_OPTIONS = {
    ("chunking", "max_tokens"): "--max-tokens",
    ("chunking", "overlap_tokens"): "--overlap-tokens",
    ("indexing", "max_file_mb"): "--max-file-mb",
    ("retrieval", "k"): "-k",
    ("retrieval", "mode"): "--mode",
    ("answer", "answerer"): "--answerer",
    ("answer", "llm"): "--llm",
    ("answer", "llm_base_url"): "--llm-base-url",
}


def _settings(
    index: Path | None = None,
    embedder: str | None = None,
    preset: str | None = None,
    **nested: dict,
) -> Settings:
    """Settings from the preset, the environment over it, and the options given over both
    (None: not given).

    Every value is validated, from any source; a bad one ends the command with one line
    naming the option or variable, not a traceback.
    """
    try:
        settings = Settings(preset=preset) if preset else Settings()
    except ValidationError as exc:
        raise BadInput(_invalid(exc, env=True)) from None
    update: dict = {}
    if index is not None:
        update["index"] = index
    if embedder is not None:
        update["embedder"] = embedder
    for name, values in nested.items():
        current = getattr(settings, name)
        given = {k: v for k, v in values.items() if v is not None}
        try:
            update[name] = type(current).model_validate({**current.model_dump(), **given})
        except ValidationError as exc:
            raise BadInput(_invalid(exc, env=False, section=name, given=given)) from None
    return settings.model_copy(update=update)


def _invalid(exc: ValidationError, env: bool, section: str = "", given: dict | None = None) -> str:
    """The first error of a validation, as `NAME VALUE: what is wrong`."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    if env:
        if len(loc) == 1 and isinstance(error.get("input"), dict):  # a check across fields
            return f"CITEQA_{loc[0].upper()}__*: {message}"
        return f"CITEQA_{'__'.join(loc).upper()}={error.get('input')!r}: {message}"
    given = given or {}
    named = [(_OPTIONS.get((section, k)), v) for k, v in given.items()]
    if loc and loc[0] in given:  # one field: name its option
        named = [(_OPTIONS.get((section, loc[0])), given[loc[0]])]
    shown = " ".join(f"{option} {value}" for option, value in named if option)
    return f"{shown or section}: {message}"


def _fail(exc: Exception) -> NoReturn:
    typer.secho(f"citeqa: {terminal_safe(str(exc))}", err=True, fg=typer.colors.RED)
    raise typer.Exit(getattr(exc, "exit_code", 2))  # DiskFull has its own


# C0 and C1 control characters (ESC starts terminal commands: window title, clipboard,
# colours), and the bidirectional overrides that reorder what a line shows.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str, newlines: bool = True) -> str:
    """`text` with every control character written out (ESC as `\\x1b`), so text from a
    document cannot steer the terminal; tabs and, unless `newlines` is false, newlines stay."""
    safe = _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return safe if newlines else safe.replace("\n", " ")


def _json_line(payload: object) -> str:
    """One JSON line; C1 controls escaped too (json leaves them raw with ensure_ascii off)."""
    text = json.dumps(payload, ensure_ascii=False)
    return re.sub(
        "[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group()):04x}", text
    )


@app.command()
def index(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (recursive).", metavar="PATHS")
    ],
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    rebuild: Annotated[bool, typer.Option(help="Start a new index from scratch.")] = False,
    max_tokens: Annotated[int | None, typer.Option(help="Chunk size in embedder tokens.")] = None,
    overlap_tokens: Annotated[int | None, typer.Option(help="Chunk overlap in tokens.")] = None,
    max_file_mb: Annotated[
        int | None,
        typer.Option(help="Skip files larger than this many MiB [default: 64]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Read, chunk and embed on a Ray cluster at this address; 'local' starts one "
            "here. Needs: pip install 'citeqa[ray]'",
        ),
    ] = None,
    ray_workers: Annotated[
        int | None, typer.Option(help="Ray actors [default: one per CPU of the cluster].")
    ] = None,
) -> None:
    """Add new and changed files to the index; drop files that are gone from PATHS."""
    from embeddings.embedders import DEFAULT_EMBEDDER, load_embedder
    from embeddings.indexer import Batching, index_paths
    from qa.factory import compiled_cache, embedder_spec

    settings = _settings(
        index,
        embedder,
        preset,
        chunking={"max_tokens": max_tokens, "overlap_tokens": overlap_tokens},
        indexing={"max_file_mb": max_file_mb},
    )
    spec = embedder_spec(settings) if not rebuild else (settings.embedder or DEFAULT_EMBEDDER)
    if ray:
        from embeddings.ray_ingest import index_paths_ray

        report = index_paths_ray(
            paths,
            settings.index,
            spec,
            ray,
            settings.chunking,
            rebuild=rebuild,
            progress=not quiet,
            max_file_bytes=settings.indexing.max_file_bytes,
            batching=Batching.of(settings.indexing),
            workers=ray_workers,
            document_vectors=settings.indexing.document_vectors,
        )
    else:
        report = index_paths(
            paths,
            settings.index,
            lambda: load_embedder(spec, settings.embed_threads, compiled_cache(settings)),
            spec,
            settings.chunking,
            rebuild=rebuild,
            progress=not quiet,
            max_file_bytes=settings.indexing.max_file_bytes,
            batching=Batching.of(settings.indexing),
            document_vectors=settings.indexing.document_vectors,
            max_file_seconds=settings.indexing.max_file_seconds,
        )
    out = typer.echo
    out(terminal_safe(f"index: {settings.index}", newlines=False))
    out(
        f"documents: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {report.unchanged} unchanged; "
        f"{report.documents} documents, {report.chunks} chunks in the index"
    )
    if report.chunks_embedded or report.chunks_reused or report.documents_embedded:
        rate = report.chunks_embedded / report.embed_seconds if report.embed_seconds else 0.0
        line = f"embedded {report.chunks_embedded} chunks ({report.tokens_embedded} tokens)"
        if n := report.documents_embedded:
            line += f" and {n} short document{'s' if n != 1 else ''} whole"
        line += f" in {report.embed_seconds:.1f}s"
        if report.chunks_embedded:
            line += f", {rate:.1f} chunks/s"
        out(f"{line}; reused {report.chunks_reused}")
    elif not report.document_vectors_dropped:
        out("embedded 0 chunks: nothing changed")
    if report.document_vectors_dropped:
        out(
            f"dropped {report.document_vectors_dropped} whole-document vectors "
            "(indexing.document_vectors is off)"
        )
    for path, reason in report.skipped:
        out(terminal_safe(f"skipped {path}: {reason}", newlines=False))
    if report.skipped:
        out(f"{len(report.skipped)} file(s) skipped")
        raise typer.Exit(1)


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for.")],
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    k: Annotated[
        int | None,
        typer.Option("-k", "--k", help="Passages to return [default: retrieval.k, 5]."),
    ] = None,
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
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Retrieve the passages that best match QUESTION."""
    from embeddings.documents import LANGUAGES
    from qa.factory import open_retriever

    if lang is not None and lang not in LANGUAGES:
        raise BadInput(f"--lang {lang}: unknown language; choose {', '.join(LANGUAGES)}")
    settings = _settings(index, embedder, preset, retrieval={"k": k, "mode": mode})
    retriever = open_retriever(settings)
    hits = retriever.search(question, lang=lang, source=source)
    if as_json:
        typer.echo(_json_line({"query": question, "hits": [h.as_json() for h in hits]}))
        return
    for h in hits:
        c = h.chunk
        head = f"{h.rank}. [{h.score:.4f}] {c.title} ({c.lang}) {c.source}:{c.start}-{c.end}"
        typer.echo(terminal_safe(head, newlines=False))
        body = c.text[:300] + ("…" if len(c.text) > 300 else "")
        typer.echo("   " + terminal_safe(body, newlines=False))


AnswererOpt = Annotated[str | None, typer.Option("--answerer", help="extractive | llm")]
LLMOpt = Annotated[str | None, typer.Option("--llm", help="openai:MODEL or ollama:MODEL")]
LLMUrlOpt = Annotated[
    str | None,
    typer.Option("--llm-base-url", help="OpenAI-compatible URL, e.g. http://127.0.0.1:8080/v1"),
]


def _answer_settings(
    index: Path | None,
    embedder: str | None,
    answerer: str | None,
    llm: str | None,
    llm_base_url: str | None,
    k: int | None = None,
    preset: str | None = None,
) -> Settings:
    if answerer is not None and answerer not in ("extractive", "llm"):
        raise BadInput(f"unknown answerer {answerer!r}; choose extractive or llm")
    return _settings(
        index,
        embedder,
        preset,
        answer={"answerer": answerer, "llm": llm, "llm_base_url": llm_base_url},
        retrieval={"k": k},
    )


def _print_answer(answer: object) -> None:
    a = answer  # qa.service.Answer
    span = a.answer_span  # type: ignore[attr-defined]
    if span:
        short = a.text[span[0] : span[1]]  # type: ignore[attr-defined]
        label = "kort antwoord" if a.lang == "nl" else "short answer"  # type: ignore[attr-defined]
        typer.echo(terminal_safe(f"  {label}: {short}", newlines=False))
    for c in a.citations:  # type: ignore[attr-defined]
        mark = "" if c.supported else "  (unsupported)"
        line = f"  [{c.n}] {c.title} — {c.source}:{c.start}-{c.end}{mark}"
        typer.echo(terminal_safe(line, newlines=False))
        typer.echo(terminal_safe(f"      “{c.quote}”", newlines=False))
    if a.abstained and a.related:  # type: ignore[attr-defined]
        dutch = a.lang == "nl"  # type: ignore[attr-defined]  # in the refusal's language
        header = "verwant (de dichtstbijzijnde passages, geen bronnen)" if dutch else None
        typer.echo(f"  {header or 'related (closest passages, not sources)'}:")
        for h in a.related:  # type: ignore[attr-defined]
            c = h.chunk
            snippet = c.text[:160].replace("\n", " ") + ("…" if len(c.text) > 160 else "")
            typer.echo(terminal_safe(f"  - {c.title} — {c.source}:{c.start}-{c.end}", False))
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
    k: Annotated[
        int | None,
        typer.Option("-k", "--k", help="Passages to read [default: retrieval.k, 5]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
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
    from qa.factory import open_service
    from qa.service import Delta, Done

    settings = _answer_settings(index, embedder, answerer, llm, llm_base_url, k, preset=preset)
    service = open_service(settings)
    history: list[tuple[str, str]] = []
    for earlier in after or []:
        history.append((earlier, service.ask(earlier, history).text))
    streamed = ""
    for event in service.stream(question, history):
        if isinstance(event, Delta) and not as_json:
            streamed += event.text
            typer.echo(terminal_safe(event.text), nl=False)
        elif isinstance(event, Done):
            answer = event.answer
    if as_json:
        typer.echo(_json_line(answer.as_json()))
        return
    typer.echo("")
    if answer.abstained and answer.text not in streamed:  # refused after the check
        typer.echo(terminal_safe(answer.text))
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
    from qa.factory import open_service
    from qa.terminal_chat import run_chat

    settings = _answer_settings(index, embedder, answerer, llm, llm_base_url, preset=preset)
    service = open_service(settings)
    run_chat(service, settings.index.parent / "chat_history")


@app.command("eval")
def evaluate(
    dataset: Annotated[
        Path, typer.Argument(help="A QA .jsonl file, a BEIR folder or a SQuAD .json file.")
    ],
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    modes: Annotated[str, typer.Option(help="Comma-separated: dense,bm25,hybrid")] = (
        "dense,bm25,hybrid"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    report: Annotated[Path | None, typer.Option(help="Also write a markdown report here.")] = None,
    min_recall5: Annotated[
        float | None,
        typer.Option(help="Exit 1 when hybrid (else the first mode) Recall@5 is below this."),
    ] = None,
    answers: Annotated[bool, typer.Option(help="Also measure answers (QA sets only).")] = True,
    answerer: AnswererOpt = None,
    llm: LLMOpt = None,
    llm_base_url: LLMUrlOpt = None,
) -> None:
    """Measure retrieval (nDCG@10, Recall@1/5/10/100, MRR@10) per mode and language pair,
    and for QA sets the answers (accuracy, citation precision, abstention)."""
    from citeqa.extras import require
    from eval import squad
    from eval.answers import answer_all, summary
    from eval.report import as_dict, markdown, text_table
    from eval.runner import prepare_squad, run_eval
    from qa.factory import open_service
    from qa.retrieval import MODES

    require("ranx", "eval")  # before any indexing or embedding
    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODES]
    if unknown or not chosen:
        raise BadInput(f"unknown mode(s) {unknown}; choose from {', '.join(MODES)}")
    settings = _answer_settings(index, embedder, answerer, llm, llm_base_url, preset=preset)
    answer_figures = None
    if squad.is_squad(dataset):
        dataset, settings = prepare_squad(dataset, settings, True, index)
        index = settings.index
    data, result, retriever = run_eval(
        dataset,
        settings,
        chosen,  # type: ignore[arg-type]
        progress=True,
        index_dir=index,
    )
    if answers and data.fmt == "qa":
        service = open_service(settings, retriever)
        answer_figures = summary(
            answer_all(service, data), service.threshold, service.answerer.name
        )
    typer.echo(
        json.dumps(as_dict(result, answer_figures), ensure_ascii=False)
        if as_json
        else text_table(result, answer_figures)
    )
    if report is not None:
        report.write_text(markdown(result, answer_figures), encoding="utf-8")
    if min_recall5 is not None:
        gate = result.modes.get("hybrid") or next(iter(result.modes.values()))
        if gate.means["recall@5"] < min_recall5:
            typer.secho(
                f"citeqa: {gate.mode} Recall@5 {gate.means['recall@5']:.3f} is below {min_recall5}",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(1)


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
    from qa.api import bind

    settings = _answer_settings(index, None, answerer, llm, llm_base_url, preset=preset)
    sock = bind(host, port)  # before the slow UI import: a busy port is said at once
    from app import serve as serve_app

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
    from qa.factory import open_service
    from qa.mcp_server import create_mcp

    require("mcp", "api")

    settings = _answer_settings(index, embedder, answerer, llm, llm_base_url, preset=preset)
    service = open_service(settings)
    create_mcp(service).run("stdio")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
