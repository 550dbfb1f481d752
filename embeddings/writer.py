"""Writing an index: copy the live generation, change the copy, publish it atomically.

A writer holds `.lock`, checks and copies the live generation into `.building-*`, applies
changes, and publishes: every file written and fsynced, checksums in the manifest, the folder
renamed to `gen-*`, then CURRENT replaced. It may publish several times (batches of a long
run); each publish keeps the generation before it, for readers still using it, and removes
older ones, so two generations stay on disk. A full disk is `DiskFull` (one line, the disk
and the space needed) and leaves the last published generation live. This module does not
decide what to index (see `indexer`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import ann
from embeddings.diskspace import disk_full, is_disk_full, tree_size
from embeddings.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexNotFound
from embeddings.generations import BUILDING, collect_garbage, live_generation, swap_in
from embeddings.indexed import IndexedDocument
from embeddings.lexical import TermCounts
from embeddings.livecopy import Start, copy_live
from embeddings.manifest import FORMAT_VERSION
from embeddings.staging import write_generation
from embeddings.store import (
    DATABASE,
    LEXICAL,
    SCHEMA,
    text_hash,
)

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 30.0  # seconds a second writer waits for the first


class IndexWriter:
    """Copy the live generation, change the copy, publish it with one atomic rename.

    Use as a context manager; what was not published when the block ends is discarded.
    `calibration` (plain JSON, or None) is kept from the previous generation; set it to change.
    """

    def __init__(
        self, root: Path, embedder_id: str, chunking: dict[str, Any], rebuild: bool = False
    ) -> None:
        from filelock import FileLock, Timeout

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.root / ".lock"))
        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT)
        except Timeout as exc:
            raise IndexLocked(
                f"Another citeqa process is writing {self.root}; try again when it is done."
            ) from exc
        self.path = self.root / f"{BUILDING}{secrets.token_hex(3)}"
        self.db: sqlite3.Connection | None = None
        self.faiss: Any = None  # created on first add when the index is new
        self.previous: Path | None = None  # the generation last published (live)
        try:
            with self._disk_space():
                self._open(embedder_id, chunking, rebuild)
        except BaseException:
            self._discard()
            self._lock.release()
            raise

    def _open(self, embedder_id: str, chunking: dict[str, Any], rebuild: bool) -> None:
        self.embedder_id, self.chunking = embedder_id, chunking
        self.published = 0
        # BM25 changes since `_base` (the last published term counts), applied on publish
        self._removed: set[int] = set()
        self._added: dict[int, str] = {}
        try:
            self.previous = live_generation(self.root)
        except IndexNotFound:
            pass
        except IndexCorrupt:
            if not rebuild:
                raise
        collect_garbage(self.root, self.previous)
        self.path.mkdir()
        self.db = sqlite3.connect(self.path / DATABASE)
        start = Start()
        if self.previous is not None and not rebuild:
            start = copy_live(self.root, self.db, embedder_id, chunking)
            self.previous = start.previous
            self.faiss = start.vectors
        self.created_at, self.tombstones = start.created_at, start.tombstones
        self.max_row, self.calibration = start.max_row, start.calibration
        self.carried, self._base = start.carried, start.counts
        self.db.executescript(SCHEMA)  # adds the tables an older index lacks
        self.committed = False

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._discard()
        self._lock.release()

    def _discard(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        shutil.rmtree(self.path, ignore_errors=True)

    @contextlib.contextmanager
    def _disk_space(self) -> Iterator[None]:
        """Turn a full disk, wherever the write hit it, into one `DiskFull` line."""
        try:
            yield
        except (OSError, sqlite3.OperationalError, RuntimeError) as exc:
            if not is_disk_full(exc):
                raise
            vectors = self.faiss.ntotal * self.faiss.d * 4 if self.faiss is not None else 0
            lexical = tree_size(self.previous / LEXICAL) if self.previous is not None else 0
            # about the size of the new generation: a copy of the last, or what this one holds
            need = max(tree_size(self.previous), tree_size(self.path) + vectors + lexical)
            self._discard()  # the unfinished copy, so the free space is what the disk has
            raise disk_full(self.root, need, published=self.previous is not None) from exc

    # -- reading the copy ---------------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        if self.db is None:
            raise RuntimeError("this writer is closed")
        return self.db

    def known_sources(self) -> dict[str, tuple[str, int, float]]:
        rows = self._db.execute("SELECT source, doc_id, size, mtime FROM documents")
        return {s: (d, size, mtime) for s, d, size, mtime in rows}

    @property
    def dim(self) -> int | None:
        """The vectors' dimension; None before the first vector of a new index."""
        return int(self.faiss.d) if self.faiss is not None else None

    def ensure_vectors(self, dim: int) -> None:
        if self.faiss is None:
            self.faiss = ann.new_flat(dim)
        elif self.faiss.d != dim:
            raise IndexMismatch(
                f"Vectors of dimension {dim} cannot go into a {self.faiss.d}-d index"
            )

    def vectors_by_text_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.faiss is None:
            return out
        wanted = list(set(hashes))
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            for row, h in self._db.execute(
                f"SELECT id, text_hash FROM chunks WHERE text_hash IN ({marks})", part
            ):
                if h not in out:
                    out[h] = self.faiss.reconstruct(int(row))
        return out

    def passages_per_document(self) -> dict[str, int]:
        """Source -> its number of chunks, for every document that has any."""
        return dict(self._db.execute("SELECT source, count(*) FROM chunks GROUP BY source"))

    def lacking_document_vectors(self, per_window: int) -> list[str]:
        """The documents of 2 to `per_window` chunks without a whole-document entry for
        their current content (added while none were computed, indexed before they existed,
        or changed by a writer that did not know them)."""
        return [
            s
            for (s,) in self._db.execute(
                "SELECT c.source FROM chunks c JOIN documents d ON d.source = c.source "
                "LEFT JOIN document_vectors v ON v.source = c.source AND v.doc_id = d.doc_id "
                "WHERE v.source IS NULL GROUP BY c.source HAVING count(*) BETWEEN 2 AND ? "
                "ORDER BY c.source",
                (per_window,),
            )
        ]

    def document_spans(self, source: str) -> tuple[str, str, list[tuple[int, int]]]:
        """A document's content id, text, and its chunks' (start, end) in order."""
        doc_id, text = self._db.execute(
            "SELECT doc_id, text FROM documents WHERE source = ?", (source,)
        ).fetchone()
        spans = self._db.execute(
            "SELECT start_char, end_char FROM chunks WHERE source = ? ORDER BY start_char",
            (source,),
        ).fetchall()
        return doc_id, text, [(int(a), int(b)) for a, b in spans]

    def set_document_vector(self, source: str, doc_id: str, vector: np.ndarray | None) -> None:
        """The whole-document vector of this content of `source`; None: it does not fit
        the embedder's window (scored by its best passage)."""
        if vector is not None and self.dim is not None and len(vector) != self.dim:
            raise IndexMismatch(
                f"A document vector of dimension {len(vector)} cannot go into a {self.dim}-d index"
            )
        blob = None if vector is None else np.asarray(vector, dtype="<f4").tobytes()
        with self._disk_space():
            self._db.execute(
                "INSERT OR REPLACE INTO document_vectors VALUES (?, ?, ?)", (source, doc_id, blob)
            )

    def clear_document_vectors(self) -> int:
        """Drop every whole-document vector (`indexing.document_vectors=false`)."""
        with self._disk_space():
            return self._db.execute("DELETE FROM document_vectors").rowcount

    def counts(self) -> tuple[int, int]:
        docs = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    # -- changing the copy --------------------------------------------------------------
    def touch(self, source: str, size: int, mtime: float) -> None:
        with self._disk_space():
            self._db.execute(
                "UPDATE documents SET size = ?, mtime = ? WHERE source = ?", (size, mtime, source)
            )

    def remove(self, source: str) -> int:
        with self._disk_space():
            rows = [
                r for (r,) in self._db.execute("SELECT id FROM chunks WHERE source = ?", (source,))
            ]
            self._removed.update(rows)
            for row in rows:
                self._added.pop(row, None)
            if rows and self.faiss is not None:
                ann.remove(self.faiss, np.asarray(rows, dtype=np.int64), self.tombstones)
            self._db.execute("DELETE FROM chunks WHERE source = ?", (source,))
            self._db.execute("DELETE FROM documents WHERE source = ?", (source,))
            self._db.execute("DELETE FROM document_vectors WHERE source = ?", (source,))
            return len(rows)

    def add(self, entry: IndexedDocument) -> None:
        """Insert one document with its chunks and their (normalised) vectors."""
        self.remove(entry.doc.source)
        with self._disk_space():
            self._add(entry)

    def _add(self, entry: IndexedDocument) -> None:
        doc, chunks, vectors, terms = entry.doc, entry.chunks, entry.vectors, entry.terms
        db = self._db
        db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
            (
                doc.source,
                doc.doc_id,
                doc.title,
                doc.lang,
                doc.text,
                json.dumps(doc.pages),
                entry.size,
                entry.mtime,
                time.time(),
            ),
        )
        last = db.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0
        next_row = 1 + max(last, self.max_row)
        rows = np.arange(next_row, next_row + len(chunks), dtype=np.int64)
        self.max_row = max(self.max_row, next_row + len(chunks) - 1)
        db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    int(row),
                    c.chunk_id,
                    c.doc_id,
                    doc.source,
                    c.ordinal,
                    c.start,
                    c.end,
                    c.text,
                    lang,
                    c.n_tokens,
                    text_hash(c.text),
                    term,
                )
                for row, c, lang, term in zip(rows, chunks, entry.langs, terms, strict=True)
            ],
        )
        self._added.update((int(row), term) for row, term in zip(rows, terms, strict=True))
        if len(chunks):
            self.ensure_vectors(int(vectors.shape[1]))
            self.faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), rows)

    def _term_counts(self, chunks: int) -> TermCounts:
        """The last published term counts with the changes since applied; read from SQLite
        instead when there are none (a rebuild's first publish)."""
        if self._base is not None:
            counts = self._base.updated(self._removed, list(self._added.items()))
            if len(counts.rows) == chunks:
                return counts
            log.warning("BM25 term counts out of step with the chunks; re-reading them all")
        rows_terms = self._db.execute("SELECT id, terms FROM chunks ORDER BY id").fetchall()
        return TermCounts.from_terms([r for r, _ in rows_terms], [t for _, t in rows_terms])

    # -- publishing -----------------------------------------------------------------------
    def commit(
        self,
        dim: int,
        extra: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
    ) -> Path:
        """Publish the copy as the live generation and end this writer's changes."""
        path = self.publish(dim, extra, calibration, final=True)
        self.committed = True
        return path

    def publish(
        self,
        dim: int,
        extra: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
        final: bool = False,
    ) -> Path:
        """Make what was written so far the live generation. Unless `final`, the writer goes
        on from there (a batch of a long run): it copies the database once more."""
        if calibration is not None:
            if not isinstance(calibration, dict):
                raise TypeError("calibration is a dict of plain JSON values")
            json.dumps(calibration, allow_nan=False)  # plain JSON only: raises otherwise
            self.calibration = calibration
        with self._disk_space():
            return self._publish(dim, extra or {}, final)

    def _publish(self, dim: int, extra: dict[str, Any], final: bool) -> Path:
        self.ensure_vectors(dim)
        db = self._db
        db.commit()
        docs, chunks = self.counts()
        counts = self._term_counts(chunks)
        self.faiss = ann.fit(self.faiss, counts.rows, self.tombstones)
        if final:
            db.close()
            self.db = None
            stage = self.path
        else:
            stage = self.root / f"{BUILDING}{secrets.token_hex(3)}"
            stage.mkdir()
            snapshot = sqlite3.connect(stage / DATABASE)
            try:
                db.backup(snapshot)
            finally:
                snapshot.close()
        try:
            generation = self._write(stage, counts, dim, docs, chunks, extra)
        except BaseException:
            if stage != self.path:
                shutil.rmtree(stage, ignore_errors=True)
            raise
        self._base, self._removed, self._added = counts, set(), {}
        self.previous = generation
        self.published += 1
        return generation

    def _write(
        self, stage: Path, counts: TermCounts, dim: int, docs: int, chunks: int, extra: dict
    ) -> Path:
        fields = {
            "format_version": FORMAT_VERSION,
            "embedder": self.embedder_id,
            "dim": dim,
            "metric": "inner_product",
            "normalized": True,
            "index_type": ann.index_type(self.faiss),
            "tombstones": len(self.tombstones),
            "max_row": self.max_row,
            "chunking": self.chunking,
            "documents": docs,
            "chunks": chunks,
            "created_at": self.created_at,
            "updated_at": time.time(),
            **self.carried,
            **{k: v for k, v in extra.items() if v is not None},
        }
        write_generation(stage, self.faiss, counts, self.tombstones, fields, self.calibration)
        return swap_in(self.root, stage, self.previous)
