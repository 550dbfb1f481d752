"""The `citeqa` command line: index, search, ask, chat, eval, serve, docs.

A thin layer: parse options into `Settings`, call the library, print. `CiteqaError`s become
one clear line on stderr and exit code 2; nothing else here knows about exceptions.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from embeddings.errors import CiteqaError
from qa.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Question answering over your documents, with checked citations.",
)

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory [default: $CITEQA_INDEX, else ./.citeqa/index]"),
]
EmbedderOpt = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="e5-small-q4 | sentence-transformers:<model path> | fake "
        "[default: the index's own; a new index gets e5-small-q4]",
    ),
]


def _settings(index: Path | None = None, embedder: str | None = None, **nested: dict) -> Settings:
    settings = Settings()
    update: dict = {}
    if index is not None:
        update["index"] = index
    if embedder is not None:
        update["embedder"] = embedder
    for name, values in nested.items():
        current = getattr(settings, name)
        update[name] = current.model_copy(update={k: v for k, v in values.items() if v is not None})
    return settings.model_copy(update=update)


def _fail(exc: Exception) -> None:
    typer.secho(f"citeqa: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    rebuild: Annotated[bool, typer.Option(help="Start a new index from scratch.")] = False,
    max_tokens: Annotated[int | None, typer.Option(help="Chunk size in embedder tokens.")] = None,
    overlap_tokens: Annotated[int | None, typer.Option(help="Chunk overlap in tokens.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Add new and changed files to the index; drop files that are gone from PATHS."""
    from embeddings.embedders import load_embedder
    from embeddings.indexer import ChunkingSettings, index_paths
    from qa.factory import embedder_spec

    settings = _settings(
        index, embedder, chunking={"max_tokens": max_tokens, "overlap_tokens": overlap_tokens}
    )
    try:
        spec = embedder_spec(settings) if not rebuild else (settings.embedder or "e5-small-q4")
        report = index_paths(
            paths,
            settings.index,
            lambda: load_embedder(spec),
            spec,
            ChunkingSettings(settings.chunking.max_tokens, settings.chunking.overlap_tokens),
            rebuild=rebuild,
            progress=not quiet and sys.stderr.isatty(),
        )
    except CiteqaError as exc:
        _fail(exc)
        return
    out = typer.echo
    out(f"index: {settings.index}")
    out(
        f"documents: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {report.unchanged} unchanged; "
        f"{report.documents} documents, {report.chunks} chunks in the index"
    )
    if report.chunks_embedded or report.chunks_reused:
        rate = report.chunks_embedded / report.embed_seconds if report.embed_seconds else 0.0
        out(
            f"embedded {report.chunks_embedded} chunks ({report.tokens_embedded} tokens) in "
            f"{report.embed_seconds:.1f}s, {rate:.1f} chunks/s; reused {report.chunks_reused}"
        )
    else:
        out("embedded 0 chunks: nothing changed")
    for path, reason in report.skipped:
        out(f"skipped {path}: {reason}")
    if report.skipped:
        out(f"{len(report.skipped)} file(s) skipped")
        raise typer.Exit(1)


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for.")],
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Passages to return.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid | dense | bm25")] = "hybrid",
    lang: Annotated[str | None, typer.Option(help="Only passages in this language.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Only sources whose path contains this.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Retrieve the passages that best match QUESTION."""
    from qa.factory import open_retriever

    settings = _settings(index, embedder)
    try:
        retriever = open_retriever(settings)
        hits = retriever.search(question, k=k, mode=mode, lang=lang, source=source)  # type: ignore[arg-type]
    except CiteqaError as exc:
        _fail(exc)
        return
    if as_json:
        payload = {"query": question, "hits": [hit_json(h) for h in hits]}
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for h in hits:
        c = h.chunk
        typer.echo(f"{h.rank}. [{h.score:.4f}] {c.title} ({c.lang}) {c.source}:{c.start}-{c.end}")
        typer.echo("   " + c.text[:300].replace("\n", " ") + ("…" if len(c.text) > 300 else ""))


def hit_json(h: object) -> dict:
    c = h.chunk  # type: ignore[attr-defined]
    return {
        "rank": h.rank,
        "score": round(h.score, 6),
        "chunk_id": c.chunk_id,  # type: ignore[attr-defined]
        "doc_id": c.doc_id,
        "source": c.source,
        "title": c.title,
        "lang": c.lang,
        "text": c.text,
        "start": c.start,
        "end": c.end,
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import bm25s  # noqa: F401  (it sets its own logger to DEBUG on import; undo that here)

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    try:
        app()
    except CiteqaError as exc:  # errors raised while typer builds the command
        typer.secho(f"citeqa: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)


if __name__ == "__main__":
    main()
