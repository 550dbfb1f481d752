"""The start of an indexing run, shared by the single-process run (`embeddings.indexer`)
and Ray's driver (`embeddings.ray_ingest`): which files are new or changed (by size and
mtime), which sources are gone (they leave the index now), and, once a file is read,
whether its content is new (an unchanged content is only touched; a copy of another indexed
file is skipped).

It decides; it does not read, chunk or embed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citeqa.paths import below_any
from embeddings.documents import Document
from embeddings.docvectors import drop_document_vectors
from embeddings.progress import Progress
from embeddings.report import IndexReport
from embeddings.stores import StoreWriter


def roots_of(paths: Sequence[Path]) -> list[Path]:
    """The paths to index, resolved (`os.path.realpath`: Path.resolve raises on link loops)."""
    return [Path(os.path.realpath(p)) for p in paths]


@dataclass
class Todo:
    files: list[tuple[Path, str, os.stat_result]]  # (path, source, stat) to read
    seen: set[str]  # sources found under the roots (to keep)


@dataclass
class Plan:
    """What a run found before reading anything, and the contents it has indexed so far."""

    known: dict[str, tuple[str, int, float]]  # source -> (doc_id, size, mtime) in the index
    todo: Todo
    fresh: bool  # a new index or a rebuild: it is published even when nothing is in it
    dirty: bool  # something changed that is not published yet
    content_owner: dict[str, str] = field(default_factory=dict)  # doc_id -> its source

    def meter(self, enabled: bool, every: float) -> Progress:
        """Progress over the files to read."""
        return Progress(
            len(self.todo.files), sum(st.st_size for _, _, st in self.todo.files), enabled, every
        )

    def is_new(
        self,
        writer: StoreWriter,
        doc: Document,
        path: Path,
        source: str,
        stat: os.stat_result,
        report: IndexReport,
    ) -> bool:
        """Whether `doc`, read from `path`, is to be indexed. False when its content is the
        indexed one (its size and mtime are updated) or another indexed file's (skipped)."""
        old = self.known.get(source)
        if old and old[0] == doc.doc_id:
            writer.touch(source, stat.st_size, stat.st_mtime)
            report.unchanged += 1
            return False
        owner = self.content_owner.get(doc.doc_id)
        if owner and owner != source and owner in self.known and Path(owner).exists():
            report.skipped.append((str(path), f"same content as {owner}"))
            return False
        self.content_owner[doc.doc_id] = source
        return True


def plan_run(
    writer: StoreWriter,
    files: Sequence[tuple[Path, str | None]],
    roots: Sequence[Path],
    rebuild: bool,
    document_vectors: bool,
    report: IndexReport,
) -> Plan:
    """Compare `files` (from `embeddings.files.iter_files`) with the index `writer` holds:
    remove the sources gone from `roots`, and the document vectors when they are not
    wanted; the files to read are `Plan.todo`."""
    known = writer.known_sources()
    todo = changed_files(files, known, roots, report)
    remove_gone(writer, known, todo.seen, roots, report)
    report.document_vectors_dropped = drop_document_vectors(writer, document_vectors)
    return Plan(
        known,
        todo,
        fresh=rebuild or writer.previous is None,
        dirty=bool(report.removed or report.document_vectors_dropped),
        content_owner={doc_id: src for src, (doc_id, _, _) in known.items()},
    )


def remove_gone(
    writer: Any, known: Any, seen: Any, roots: Sequence[Path], report: IndexReport
) -> None:
    """Remove from the index every known source under `roots` that was not seen this run."""
    for source in sorted(known):
        if source not in seen and below_any(source, roots):
            writer.remove(source)
            report.removed.append(source)


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
                todo.seen.update(s for s in known if below_any(s, [source]))
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
