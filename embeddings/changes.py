"""Which files an indexing run reads and which sources leave the index: new and changed files
(by size and mtime), the sources under a root that are gone, and the whole-document vectors
that `indexing.document_vectors=false` drops. It reads no file and embeds nothing
(`embeddings.indexer` and `embeddings.ray_ingest` do)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embeddings.report import IndexReport
from embeddings.stores import DocumentVectorWriter, StoreWriter


def remove_gone(
    writer: Any, known: Any, seen: Any, roots: Sequence[Path], report: IndexReport
) -> None:
    """Remove from the index every known source under `roots` that was not seen this run."""
    for source in sorted(known):
        if source not in seen and _under(source, roots):
            writer.remove(source)
            report.removed.append(source)


def _under(source: str, roots: Sequence[Path]) -> bool:
    return any(source == str(r) or source.startswith(str(r) + os.sep) for r in roots)


@dataclass
class Todo:
    files: list[tuple[Path, str, os.stat_result]]  # (path, source, stat) to read
    seen: set[str]  # sources found under the roots (to keep)


def drop_document_vectors(writer: StoreWriter, wanted: bool) -> int:
    """`indexing.document_vectors=false`: an index that has some loses them, so every
    document is scored alike (by the mean of its passage vectors). How many went."""
    if wanted or not isinstance(writer, DocumentVectorWriter):
        return 0
    return writer.clear_document_vectors()


def changed_files(
    files: Sequence[tuple[Path, str | None]],
    known: dict[str, tuple[str, int, float]],
    roots: Sequence[Path],
    report: IndexReport,
) -> Todo:
    """The files to read (new, or size or mtime changed); the rest counted or skipped."""
    todo = Todo([], set())
    for path, reason in files:
        source = os.path.realpath(path)
        todo.seen.add(source)
        if reason:
            report.skipped.append((str(path), reason))
            if path.is_dir():  # a folder that cannot be listed keeps what it had
                todo.seen.update(s for s in known if _under(s, [Path(source)]))
            continue
        try:
            stat = path.stat()
        except OSError as exc:
            report.skipped.append((str(path), f"cannot stat: {exc.strerror}"))
            continue
        old = known.get(source)
        if old and old[1] == stat.st_size and old[2] == stat.st_mtime:
            report.unchanged += 1
            continue
        todo.files.append((path, source, stat))
    return todo


__all__ = ["Todo", "changed_files", "drop_document_vectors", "remove_gone"]
