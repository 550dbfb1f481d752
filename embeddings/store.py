"""The index on disk: a plain directory of generations, swapped atomically; loading one.

    INDEX_DIR/
      CURRENT              name of the live generation (replaced with os.replace)
      .lock                held by the one writer
      .building-1a2b3c/    a generation being written (removed by the next writer)
      gen-000003-1a2b3c/   a complete, immutable index:
        manifest.json      format version, embedder, dimension, chunking, counts, calibration,
                           size and XXH3-128 of every other file, and its own checksum
        vectors.faiss      FAISS's own format; inner product on normalised vectors, int64 ids;
                           exact below 50k chunks, HNSW-SQ8 above (see `ann`)
        tombstones.npy     rows removed from an HNSW graph, skipped by searches
        chunks.sqlite      documents and chunks (text, offsets, language, BM25 terms)
        bm25/              term counts and the BM25 score matrix (see `lexical`)
      uploads/             files added from the chat UI (`frontends.web.backend`)
      cache/               compiled models, safe to delete (`embeddings.compiled_cache`)
      chat_history         questions typed in `citeqa chat` (prompt_toolkit's history file)

A writer (`embeddings.writer`) builds a generation under `.building-*`, renames it to
`gen-*` once every file is written and fsynced, then flips CURRENT; so every `gen-*` folder
is complete, and a crash at any moment leaves the previous generation live. Loading checks
the manifest, every file's checksum, then every structure (SQLite tables, BM25 arrays, FAISS
ids) before use: a damaged index is one `IndexCorrupt` line, never a crash. Nothing here is
pickled. This module reads; it does not decide what to index (see `indexer`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import ann
from embeddings.errors import IndexCorrupt, IndexMismatch
from embeddings.generations import live_generation
from embeddings.lexical import LexicalIndex
from embeddings.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    read_manifest,
    rebuild_hint,
    verify_files,
)

log = logging.getLogger(__name__)

__all__ = ["FORMAT_VERSION", "MANIFEST", "Index", "live_generation", "read_manifest"]

VECTORS = "vectors.faiss"
DATABASE = "chunks.sqlite"
LEXICAL = "bm25"
TOMBSTONES = "tombstones.npy"
BM25_FILES = tuple(
    f"{LEXICAL}/{name}"
    for name in (
        "rows.npy", "counts_indptr.npy", "counts_terms.npy", "counts_tf.npy",
        "counts_vocab.json", "bm25_data.npy", "bm25_indices.npy", "bm25_indptr.npy",
        "lexical.json",
    )
)  # fmt: skip
REQUIRED = (VECTORS, DATABASE, TOMBSTONES, *BM25_FILES)
# the columns every query here uses; an index without them is damaged
_COLUMNS = {
    "documents": {"source", "doc_id", "title", "lang", "text", "pages", "size", "mtime"},
    "chunks": {
        "id", "chunk_id", "doc_id", "source", "ordinal", "start_char", "end_char", "text",
        "lang", "n_tokens", "text_hash", "terms",
    },
}  # fmt: skip

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY, doc_id TEXT NOT NULL, title TEXT NOT NULL, lang TEXT NOT NULL,
    text TEXT NOT NULL, pages TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_doc_id ON documents(doc_id);
CREATE TABLE IF NOT EXISTS document_vectors (
    source TEXT PRIMARY KEY, doc_id TEXT NOT NULL, vector BLOB
);
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


def load_tombstones(generation: Path, manifest: dict[str, Any]) -> np.ndarray:
    """Removed rows still in an HNSW graph (checksummed with the rest of the generation)."""
    rows = np.load(generation / TOMBSTONES, allow_pickle=False)
    if rows.dtype != np.int64 or rows.ndim != 1 or len(rows) != manifest["tombstones"]:
        raise ValueError(f"{TOMBSTONES}: expected {manifest['tombstones']} int64 rows")
    if len(rows) and np.any(np.diff(rows) <= 0):
        raise ValueError(f"{TOMBSTONES}: rows must be ascending and unique")
    return rows


def check_tables(db: sqlite3.Connection) -> None:
    """The tables and columns citeqa queries exist (ValueError otherwise)."""
    for table, columns in _COLUMNS.items():
        found = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        if not columns <= found:
            raise ValueError(f"table {table} is missing or lacks columns")


def has_document_vectors(db: sqlite3.Connection) -> bool:
    """Whether the (optional) table of whole-document vectors exists: an index written
    before them has none."""
    return bool(
        db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'document_vectors'"
        ).fetchone()
    )


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
        self.root = Path(root)
        self.generation = live_generation(self.root)
        self.manifest = read_manifest(self.generation)
        if expect_embedder is not None:
            check_embedder(self.manifest, expect_embedder, self.root)
        verify_files(self.generation, self.manifest, REQUIRED)
        self._db_lock = threading.Lock()
        self.db: sqlite3.Connection | None = None
        try:
            self._load()
        except (OSError, ValueError, RuntimeError, sqlite3.Error, MemoryError) as exc:
            self.close()
            what = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise IndexCorrupt(
                f"{self.generation} is damaged ({what}). {rebuild_hint(self.root)}"
            ) from exc
        except IndexCorrupt:
            self.close()
            raise

    def _load(self) -> None:
        """Read every part and check that they agree (their checksums are already verified)."""
        import faiss

        self.faiss = faiss.read_index(str(self.generation / VECTORS))
        if not isinstance(self.faiss, faiss.IndexIDMap2) or self.faiss.d != self.manifest["dim"]:
            raise ValueError(f"{VECTORS} is not a {self.manifest['dim']}-d index with row ids")
        self.tombstones = load_tombstones(self.generation, self.manifest)
        self._skip = ann.excluding(self.tombstones)  # built once, used by every search
        self.db = sqlite3.connect(
            f"file:{self.generation / DATABASE}?mode=ro", uri=True, check_same_thread=False
        )
        self.db.execute("PRAGMA query_only = 1")
        check_tables(self.db)
        rows = np.fromiter(
            (r for (r,) in self.db.execute("SELECT id FROM chunks ORDER BY id")), np.int64
        )
        self.lexical = LexicalIndex.load(self.generation / LEXICAL)
        ids = np.sort(faiss.vector_to_array(self.faiss.id_map).astype(np.int64))
        live = ids[~np.isin(ids, self.tombstones)] if len(self.tombstones) else ids
        if not (np.array_equal(rows, live) and np.array_equal(rows, self.lexical.rows)):
            raise ValueError(
                f"{len(rows)} chunks, {len(live)} vectors and {len(self.lexical.rows)} BM25 "
                "rows do not match"
            )
        if len(rows) != self.manifest["chunks"]:
            raise ValueError(f"{len(rows)} chunks, the manifest says {self.manifest['chunks']}")
        self.has_document_vectors = has_document_vectors(self.db)
        if self.has_document_vectors:  # one small table (a row per short document)
            (bad,) = self.db.execute(
                "SELECT count(*) FROM document_vectors WHERE vector IS NOT NULL "
                "AND (typeof(vector) != 'blob' OR length(vector) != ?)",
                (4 * self.faiss.d,),
            ).fetchone()
            if bad:
                raise ValueError(f"{bad} document vectors are not {self.faiss.d}-d")

    @property
    def embedder(self) -> str:
        return str(self.manifest["embedder"])

    def __len__(self) -> int:
        return int(self.faiss.ntotal) - len(self.tombstones)

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The manifest's optional `calibration` object (plain JSON), kept across writes."""
        value = self.manifest.get("calibration")
        return value if isinstance(value, dict) else None

    def close(self) -> None:
        if self.db is not None:
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
        if self.db is None:
            raise IndexCorrupt(f"{self.generation} is closed")
        try:
            with self._db_lock:
                return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:  # damage that loading did not reach
            raise IndexCorrupt(
                f"{self.generation / DATABASE} is damaged ({exc}). {rebuild_hint(self.root)}"
            ) from exc

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

    def document_pages(self, source: str) -> list[tuple[int, int]]:
        """(start offset, page number) of each page of a paged document (PDF), in order;
        empty for other formats, an unknown source or an unreadable list."""
        rows = self._query("SELECT pages FROM documents WHERE source = ?", (source,))
        try:
            pages = json.loads(rows[0][0]) if rows and rows[0][0] else []
            return [(int(start), int(number)) for start, number in pages]
        except (TypeError, ValueError):
            return []

    def document_languages(self) -> dict[str, str]:
        """Each document's language, by source."""
        return dict(self._query("SELECT source, lang FROM documents"))

    # --- rows (chunk ids) by what they hold: for filters and document-level signals ---

    def rows_where(self, lang: str | None = None, source: str | None = None) -> np.ndarray:
        """Ascending row ids of the chunks in `lang` whose source contains `source` (a plain
        substring: `_` and `%` are literal); a condition left out holds for every chunk."""
        clauses, params = [], []
        if lang:
            clauses.append("lang = ?")
            params.append(lang)
        if source:
            clauses.append("source LIKE ? ESCAPE '\\'")
            params.append("%" + re.sub(r"([\\%_])", r"\\\1", source) + "%")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(f"SELECT id FROM chunks{where} ORDER BY id", params)
        return np.fromiter((r for (r,) in rows), dtype=np.int64, count=len(rows))

    def languages_of(self, rows: Sequence[int]) -> dict[int, str]:
        """Row id -> the chunk's language, for these rows (unknown ones left out)."""
        out: dict[int, str] = {}
        for i in range(0, len(rows), 500):
            part = list(rows[i : i + 500])
            marks = ",".join("?" * len(part))
            out.update(self._query(f"SELECT id, lang FROM chunks WHERE id IN ({marks})", part))
        return out

    def row_sources(self) -> list[tuple[int, str]]:
        """(row id, source) of every chunk, by row id."""
        return [
            (int(r), str(s)) for r, s in self._query("SELECT id, source FROM chunks ORDER BY id")
        ]

    def row_terms(self) -> dict[int, str]:
        """Row id -> the chunk's analysed BM25 terms, as stored (space-separated)."""
        return dict(self._query("SELECT id, terms FROM chunks"))

    # the entries made for a document's current content (its content id)
    _CURRENT = "document_vectors v JOIN documents d ON d.source = v.source AND d.doc_id = v.doc_id"

    def document_vector_sources(self) -> set[str]:
        """The sources with a whole-document entry for their current content."""
        if not self.has_document_vectors:
            return set()
        return {s for (s,) in self._query(f"SELECT v.source FROM {self._CURRENT}")}

    def document_vectors(self, sources: Sequence[str]) -> dict[str, np.ndarray | None]:
        """The stored whole-document vectors of these sources, where there is an entry for
        their current content (documents of 2 to a window's passages; an index built before
        them has none): the vector, or None for a document too long for the window."""
        out: dict[str, np.ndarray | None] = {}
        if not self.has_document_vectors:
            return out
        for i in range(0, len(sources), 500):
            part = list(sources[i : i + 500])
            marks = ",".join("?" * len(part))
            for source, blob in self._query(
                f"SELECT v.source, v.vector FROM {self._CURRENT} WHERE v.source IN ({marks})",
                part,
            ):
                out[source] = None if blob is None else np.frombuffer(blob, dtype="<f4")
        return out

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Stored vectors of these rows (approximate, 8-bit, in an HNSW-SQ8 index)."""
        if not rows:
            return np.zeros((0, self.faiss.d), dtype=np.float32)
        return np.asarray(self.faiss.reconstruct_batch(np.asarray(rows, dtype=np.int64)))
