"""The index on disk: a plain directory of generations, swapped atomically.

    INDEX_DIR/
      CURRENT              name of the live generation (replaced with os.replace)
      .lock                held by the one writer
      gen-000003-1a2b/     a complete, immutable index:
        manifest.json      format version, embedder, dimension, chunking, counts, checksums
        vectors.faiss      FAISS's own format; inner product on normalised vectors, int64 ids;
                           exact below 50k chunks, HNSW-SQ8 above (see `ann`)
        tombstones.npy     rows removed from an HNSW graph, skipped by searches
        chunks.sqlite      documents and chunks (text, offsets, language, BM25 terms)

A writer copies the live generation, changes the copy, and flips CURRENT; a crash at any
moment leaves the previous generation live. Readers load one generation and never see a
half-written one. Nothing here is pickled. This module stores and searches vectors; it does
not decide what to index (see `indexer`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import ann
from embeddings.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexNotFound
from embeddings.lexical import LexicalIndex, TermCounts

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
VECTORS = "vectors.faiss"
DATABASE = "chunks.sqlite"
MANIFEST = "manifest.json"
LEXICAL = "bm25"
TOMBSTONES = "tombstones.npy"

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY, doc_id TEXT NOT NULL, title TEXT NOT NULL, lang TEXT NOT NULL,
    text TEXT NOT NULL, pages TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_doc_id ON documents(doc_id);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL, source TEXT NOT NULL,
    ordinal INTEGER NOT NULL, start_char INTEGER NOT NULL, end_char INTEGER NOT NULL,
    text TEXT NOT NULL, lang TEXT NOT NULL, n_tokens INTEGER NOT NULL, text_hash TEXT NOT NULL,
    terms TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks(text_hash);
"""

_CHUNK_COLUMNS = (
    "c.id, c.chunk_id, c.doc_id, c.source, c.ordinal, c.start_char, c.end_char, c.text, "
    "c.lang, c.n_tokens, d.title"
)


@dataclass(frozen=True)
class ChunkRecord:
    row: int  # FAISS id
    chunk_id: str
    doc_id: str
    source: str
    ordinal: int
    start: int
    end: int
    text: str
    lang: str
    n_tokens: int
    title: str


@dataclass(frozen=True)
class DocumentRecord:
    source: str
    doc_id: str
    title: str
    lang: str
    size: int
    mtime: float
    chunks: int


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def live_generation(root: Path) -> Path:
    current = root / "CURRENT"
    if not current.is_file():
        if root.is_dir() and any(root.glob("gen-*")):
            raise IndexCorrupt(f"{root}: CURRENT is missing. Rebuild: citeqa index PATH --rebuild")
        raise IndexNotFound(
            f"No index at {root}. Build one first: citeqa index PATH [--index {root}]"
        )
    name = current.read_text(encoding="utf-8").strip()
    if not name.startswith("gen-") or "/" in name or not (root / name).is_dir():
        raise IndexCorrupt(
            f"{root}: CURRENT names a missing generation ({name!r}). "
            "Rebuild: citeqa index PATH --rebuild"
        )
    return root / name


def read_manifest(generation: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(
            f"{generation}: manifest unreadable ({exc}). Rebuild: citeqa index PATH --rebuild"
        ) from exc
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if not isinstance(version, int):
        raise IndexCorrupt(f"{generation}: manifest has no format_version. Rebuild the index.")
    if version > FORMAT_VERSION:
        raise IndexCorrupt(
            f"This index has format version {version}, newer than this citeqa reads "
            f"({FORMAT_VERSION}). Upgrade citeqa, or rebuild: citeqa index PATH --rebuild"
        )
    return manifest


def _load_tombstones(generation: Path, manifest: dict[str, Any]) -> np.ndarray:
    """Removed rows still in an HNSW graph (none in older generations or flat indexes)."""
    path = generation / TOMBSTONES
    if not manifest.get("tombstones"):
        return np.zeros(0, dtype=np.int64)
    expected = manifest.get("files", {}).get(TOMBSTONES, {})
    try:
        ok = _file_digest(path) == expected.get("sha256")
        rows = np.load(path, allow_pickle=False) if ok else None
    except (OSError, ValueError):
        rows = None
    if rows is None or len(rows) != manifest["tombstones"]:
        raise IndexCorrupt(f"{path} is damaged or missing. Rebuild: citeqa index PATH --rebuild")
    return np.asarray(rows, dtype=np.int64)


def check_embedder(manifest: dict[str, Any], embedder_id: str, root: Path) -> None:
    built = manifest.get("embedder")
    if built != embedder_id:
        raise IndexMismatch(
            f"The index at {root} was built with embedder {built!r}, not {embedder_id!r}. "
            f"Search it with --embedder {built}, or rebuild it: "
            f"citeqa index PATH --index {root} --embedder {embedder_id} --rebuild"
        )


class Index:
    """A read-only view of one generation: FAISS in memory, SQLite for text and metadata."""

    def __init__(self, root: Path, expect_embedder: str | None = None) -> None:
        import faiss

        self.root = Path(root)
        self.generation = live_generation(self.root)
        self.manifest = read_manifest(self.generation)
        if expect_embedder is not None:
            check_embedder(self.manifest, expect_embedder, self.root)
        vectors = self.generation / VECTORS
        expected = self.manifest.get("files", {}).get(VECTORS, {})
        try:
            size = vectors.stat().st_size
        except OSError as exc:
            raise IndexCorrupt(
                f"{vectors} is missing. Rebuild: citeqa index PATH --rebuild"
            ) from exc
        if size != expected.get("size") or _file_digest(vectors) != expected.get("sha256"):
            raise IndexCorrupt(
                f"{vectors} is damaged (size or checksum differs from the manifest). "
                "Rebuild: citeqa index PATH --rebuild"
            )
        try:
            self.faiss = faiss.read_index(str(vectors))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{vectors} cannot be read ({exc}). Rebuild the index.") from exc
        self._db_lock = threading.Lock()
        try:
            self.db = sqlite3.connect(
                f"file:{self.generation / DATABASE}?mode=ro", uri=True, check_same_thread=False
            )
            self.db.execute("PRAGMA query_only = 1")
            count = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(
                f"{self.generation / DATABASE} is not a readable SQLite file ({exc}). "
                "Rebuild: citeqa index PATH --rebuild"
            ) from exc
        self.tombstones = _load_tombstones(self.generation, self.manifest)
        self._skip = ann.excluding(self.tombstones)  # built once, used by every search
        if count != self.faiss.ntotal - len(self.tombstones):
            raise IndexCorrupt(
                f"{self.root}: {count} chunks but {self.faiss.ntotal - len(self.tombstones)} "
                "vectors. Rebuild the index."
            )
        try:
            self.lexical = LexicalIndex.load(self.generation / LEXICAL)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(
                f"{self.generation / LEXICAL}: BM25 files unreadable ({exc}). Rebuild the index."
            ) from exc
        if len(self.lexical.rows) != count:
            raise IndexCorrupt(f"{self.root}: BM25 and chunk counts differ. Rebuild the index.")

    @property
    def embedder(self) -> str:
        return str(self.manifest["embedder"])

    def __len__(self) -> int:
        return int(self.faiss.ntotal) - len(self.tombstones)

    def close(self) -> None:
        self.db.close()

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(row id, inner product) of the `k` nearest chunks, best first; only `allowed` rows
        when given."""
        if len(self) == 0 or k <= 0:
            return []
        return ann.search(self.faiss, query, k, allowed, self._skip)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._db_lock:
            return self.db.execute(sql, params).fetchall()

    def chunks(self, rows: Iterable[int]) -> dict[int, ChunkRecord]:
        rows = list(rows)
        out: dict[int, ChunkRecord] = {}
        for i in range(0, len(rows), 500):
            part = rows[i : i + 500]
            marks = ",".join("?" * len(part))
            for r in self._query(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.source = c.source "
                f"WHERE c.id IN ({marks})",
                part,
            ):
                out[r[0]] = ChunkRecord(*r)
        return out

    def iter_chunks(self) -> Iterator[ChunkRecord]:
        for r in self._query(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.source = c.source "
            "ORDER BY c.id"
        ):
            yield ChunkRecord(*r)

    def documents(self) -> list[DocumentRecord]:
        return [
            DocumentRecord(*r)
            for r in self._query(
                "SELECT d.source, d.doc_id, d.title, d.lang, d.size, d.mtime, count(c.id) "
                "FROM documents d LEFT JOIN chunks c ON c.source = d.source "
                "GROUP BY d.source ORDER BY d.source"
            )
        ]

    def document_text(self, source: str) -> str | None:
        rows = self._query("SELECT text FROM documents WHERE source = ?", (source,))
        return rows[0][0] if rows else None

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Stored vectors of these rows (approximate, 8-bit, in an HNSW-SQ8 index)."""
        if not rows:
            return np.zeros((0, self.faiss.d), dtype=np.float32)
        return np.asarray(self.faiss.reconstruct_batch(np.asarray(rows, dtype=np.int64)))


class IndexWriter:
    """Copy the live generation, change the copy, publish it with one atomic rename.

    Use as a context manager; leaving the block without `commit()` discards the copy.
    """

    def __init__(
        self, root: Path, embedder_id: str, chunking: dict[str, Any], rebuild: bool = False
    ) -> None:
        from filelock import FileLock, Timeout

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.root / ".lock"))
        try:
            self._lock.acquire(timeout=30)
        except Timeout as exc:
            raise IndexLocked(
                f"Another citeqa process is writing {self.root}; try again when it is done."
            ) from exc
        self.embedder_id, self.chunking = embedder_id, chunking
        self.previous: Path | None = None
        self.created_at = time.time()
        self.tombstones: set[int] = set()  # rows removed from an HNSW graph
        self.max_row = 0  # the highest row id ever given out: ids are never reused
        # BM25 changes since the previous generation, applied to its term counts at commit
        self._removed: set[int] = set()
        self._added: dict[int, str] = {}
        with contextlib.suppress(IndexNotFound):
            self.previous = live_generation(self.root)
        if self.previous is not None and not rebuild:
            manifest = read_manifest(self.previous)
            check_embedder(manifest, embedder_id, self.root)
            if manifest.get("chunking") != chunking:
                raise IndexMismatch(
                    f"The index at {self.root} was chunked with {manifest.get('chunking')}, "
                    f"not {chunking}. Rebuild it: citeqa index PATH --index {self.root} --rebuild"
                )
            self.created_at = float(manifest.get("created_at", self.created_at))
            self.tombstones = set(_load_tombstones(self.previous, manifest).tolist())
            self.max_row = int(manifest.get("max_row", 0))
        self._collect_garbage()
        number = 1 + max((int(p.name.split("-")[1]) for p in self.root.glob("gen-*")), default=0)
        self.path = self.root / f"gen-{number:06d}-{secrets.token_hex(3)}"
        self.path.mkdir()
        self.db = sqlite3.connect(self.path / DATABASE)
        self.faiss: Any = None  # created on first add when the index is new
        if self.previous is not None and not rebuild:
            import faiss

            source = sqlite3.connect(f"file:{self.previous / DATABASE}?mode=ro", uri=True)
            source.backup(self.db)
            source.close()
            self.faiss = faiss.read_index(str(self.previous / VECTORS))
        self._copied = self.previous is not None and not rebuild
        self.db.executescript(SCHEMA)
        self.committed = False

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)
        self._lock.release()

    def _collect_garbage(self) -> None:
        """Remove generations that are neither live nor the one before (crash leftovers)."""
        keep = {self.previous.name} if self.previous else set()
        gens = sorted(self.root.glob("gen-*"))
        if self.previous is not None:
            older = [g for g in gens if g.name < self.previous.name]
            keep |= {g.name for g in older[-1:]}
        for gen in gens:
            if gen.name not in keep:
                shutil.rmtree(gen, ignore_errors=True)

    # -- reading the copy ---------------------------------------------------------------
    def known_sources(self) -> dict[str, tuple[str, int, float]]:
        rows = self.db.execute("SELECT source, doc_id, size, mtime FROM documents")
        return {s: (d, size, mtime) for s, d, size, mtime in rows}

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
            for row, h in self.db.execute(
                f"SELECT id, text_hash FROM chunks WHERE text_hash IN ({marks})", part
            ):
                if h not in out:
                    out[h] = self.faiss.reconstruct(int(row))
        return out

    # -- changing the copy --------------------------------------------------------------
    def touch(self, source: str, size: int, mtime: float) -> None:
        self.db.execute(
            "UPDATE documents SET size = ?, mtime = ? WHERE source = ?", (size, mtime, source)
        )

    def remove(self, source: str) -> int:
        rows = [r for (r,) in self.db.execute("SELECT id FROM chunks WHERE source = ?", (source,))]
        self._removed.update(rows)
        for row in rows:
            self._added.pop(row, None)
        if rows and self.faiss is not None:
            ann.remove(self.faiss, np.asarray(rows, dtype=np.int64), self.tombstones)
        self.db.execute("DELETE FROM chunks WHERE source = ?", (source,))
        self.db.execute("DELETE FROM documents WHERE source = ?", (source,))
        return len(rows)

    def add(
        self,
        doc: Any,
        size: int,
        mtime: float,
        chunks: Sequence[Any],
        vectors: np.ndarray,
        langs: Sequence[str],
        terms: Sequence[str],
    ) -> None:
        """Insert one document with its chunks and their (normalised) vectors."""
        self.remove(doc.source)
        self.db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
            (
                doc.source,
                doc.doc_id,
                doc.title,
                doc.lang,
                doc.text,
                json.dumps(doc.pages),
                size,
                mtime,
                time.time(),
            ),
        )
        last = self.db.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0
        next_row = 1 + max(last, self.max_row)
        rows = np.arange(next_row, next_row + len(chunks), dtype=np.int64)
        self.max_row = max(self.max_row, next_row + len(chunks) - 1)
        self.db.executemany(
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
                for row, c, lang, term in zip(rows, chunks, langs, terms, strict=True)
            ],
        )
        self._added.update((int(row), term) for row, term in zip(rows, terms, strict=True))
        if len(chunks):
            self.ensure_vectors(int(vectors.shape[1]))
            self.faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), rows)

    def counts(self) -> tuple[int, int]:
        docs = self.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def _term_counts(self, chunks: int) -> TermCounts:
        """The previous generation's term counts with this write's changes applied; read
        from SQLite instead when there are none (a rebuild, or an older generation)."""
        base = None
        if self.previous is not None and self._copied:
            with contextlib.suppress(OSError, ValueError):
                base = TermCounts.load(self.previous / LEXICAL)
        if base is not None:
            counts = base.updated(self._removed, list(self._added.items()))
            if len(counts.rows) == chunks:
                return counts
            log.warning("BM25 term counts out of step with the chunks; re-reading them all")
        rows_terms = self.db.execute("SELECT id, terms FROM chunks ORDER BY id").fetchall()
        return TermCounts.from_terms([r for r, _ in rows_terms], [t for _, t in rows_terms])

    def commit(self, dim: int, extra: dict[str, Any] | None = None) -> Path:
        """Write FAISS and the manifest, fsync, and make this generation live."""
        import faiss

        self.ensure_vectors(dim)
        self.db.commit()
        docs, chunks = self.counts()
        counts = self._term_counts(chunks)
        lexical = self.path / LEXICAL
        lexical.mkdir()
        LexicalIndex.from_counts(counts).save(lexical)
        counts.save(lexical)
        rows = counts.rows
        self.db.close()
        self.faiss = ann.fit(self.faiss, rows, self.tombstones)
        np.save(self.path / TOMBSTONES, np.asarray(sorted(self.tombstones), dtype=np.int64))
        faiss.write_index(self.faiss, str(self.path / VECTORS))
        manifest = {
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
            "files": {
                name: {
                    "size": (self.path / name).stat().st_size,
                    "sha256": _file_digest(self.path / name),
                }
                for name in (VECTORS, TOMBSTONES)
            },
            **(extra or {}),
        }
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        for path in self.path.rglob("*"):
            if path.is_file():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
        _fsync_dir(self.path)
        pointer = self.root / f"CURRENT.{secrets.token_hex(4)}.tmp"
        pointer.write_text(self.path.name + "\n", encoding="utf-8")
        with pointer.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer, self.root / "CURRENT")
        _fsync_dir(self.root)
        self.committed = True
        return self.path
