"""`citeqa index`: new and changed files into the index, removed ones out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from frontends.cli.common import (
    EmbedderOpt,
    IndexOpt,
    PresetOpt,
    QuietOpt,
    app,
    settings_from,
)
from frontends.terminal import terminal_safe


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
    quiet: QuietOpt = False,
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
    from embeddings.indexer import index_paths
    from qa.factory import compiled_cache, embedder_spec

    settings = settings_from(
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
            indexing=settings.indexing,
            workers=ray_workers,
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
            indexing=settings.indexing,
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
