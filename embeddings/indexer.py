"""Bring an index in line with files on disk, embedding only what changed.

For each root given: new and changed files are read, chunked and embedded; unchanged files
(same size and mtime, or same content hash) are left alone; files that are gone from a root
leave the index. A file that still exists but cannot be read now keeps its previous version.
Chunks whose exact text is already indexed reuse their stored vector.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.analysis import ANALYSIS_VERSION, analyse
from embeddings.chunking import Chunk, chunk_document
from embeddings.documents import (
    MAX_FILE_BYTES,
    Document,
    SkipFile,
    detect_language,
    iter_files,
    load_document,
)
from embeddings.embedders import Embedder, embedder_id
from embeddings.store import IndexWriter, text_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkingSettings:
    max_tokens: int = 100  # measured: bench/chunk_size.py (README, 'Chunk size')
    overlap_tokens: int = 20

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "overlap_tokens": self.overlap_tokens,
            "analysis": ANALYSIS_VERSION,
        }


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    tokens_embedded: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0
    documents: int = 0
    chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def _under(source: str, roots: Sequence[Path]) -> bool:
    return any(source == str(r) or source.startswith(str(r) + os.sep) for r in roots)


def chunk_language(text: str, doc_lang: str) -> str:
    """Per-chunk language for stopwords and stemming; short chunks follow their document."""
    return detect_language(text) if len(text) >= 200 else doc_lang


def index_paths(
    paths: Sequence[Path],
    root: Path,
    embedder: Callable[[], Embedder],
    embedder_spec: str,
    chunking: ChunkingSettings = ChunkingSettings(),
    rebuild: bool = False,
    progress: bool = True,
    batch_size: int = 32,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> IndexReport:
    """Index `paths` (files or folders, recursively) into the index directory `root`.

    `embedder` is a factory, so a run with nothing to embed never loads a model. Files over
    `max_file_bytes` are skipped, with the reason in the report.
    """
    started = time.perf_counter()
    report = IndexReport()
    roots = [Path(os.path.realpath(p)) for p in paths]  # Path.resolve raises on link loops
    loaded: list[Embedder] = []

    def model() -> Embedder:
        if not loaded:
            loaded.append(embedder())
        return loaded[0]

    files = list(iter_files(roots))  # raises BadInput for a missing root, before any write
    with IndexWriter(
        root, embedder_id(embedder_spec), chunking.as_dict(), rebuild=rebuild
    ) as writer:
        known = writer.known_sources()
        content_owner = {doc_id: src for src, (doc_id, _, _) in known.items()}
        seen: set[str] = set()
        pending: list[tuple[Document, int, float, list[Chunk]]] = []
        for path, reason in files:
            source = os.path.realpath(path)
            seen.add(source)
            if reason:
                report.skipped.append((str(path), reason))
                if path.is_dir():  # a folder that cannot be listed keeps what it had
                    seen.update(s for s in known if _under(s, [Path(source)]))
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
            try:
                doc = load_document(path, source=source, max_bytes=max_file_bytes)
            except SkipFile as exc:
                report.skipped.append((str(path), str(exc)))
                continue
            if old and old[0] == doc.doc_id:
                writer.touch(source, stat.st_size, stat.st_mtime)
                report.unchanged += 1
                continue
            owner = content_owner.get(doc.doc_id)
            if owner and owner != source and owner in known and Path(owner).exists():
                report.skipped.append((str(path), f"same content as {owner}"))
                continue
            content_owner[doc.doc_id] = source
            chunks = chunk_document(
                doc, model().count_tokens, chunking.max_tokens, chunking.overlap_tokens
            )
            pending.append((doc, stat.st_size, stat.st_mtime, chunks))
            (report.updated if old else report.added).append(source)

        for source in sorted(known):
            if source not in seen and _under(source, roots):
                writer.remove(source)
                report.removed.append(source)

        if pending:
            _embed_and_add(writer, pending, model(), report, progress, batch_size)
        report.documents, report.chunks = writer.counts()
        if report.changed or rebuild or writer.previous is None:
            writer.commit(
                dim=writer.faiss.d if writer.faiss is not None else model().dim,
                extra={"embedder_spec": embedder_spec},
            )
    report.seconds = time.perf_counter() - started
    return report


def _embed_and_add(
    writer: IndexWriter,
    pending: list[tuple[Document, int, float, list[Chunk]]],
    embedder: Embedder,
    report: IndexReport,
    progress: bool,
    batch_size: int,
) -> None:
    all_chunks = [c for _, _, _, chunks in pending for c in chunks]
    reused = writer.vectors_by_text_hash(text_hash(c.text) for c in all_chunks)
    todo = {}
    for c in all_chunks:
        h = text_hash(c.text)
        if h not in reused and h not in todo:
            todo[h] = c
    vectors: dict[str, np.ndarray] = dict(reused)
    report.chunks_reused = sum(1 for c in all_chunks if text_hash(c.text) in reused)
    # Similar lengths in one batch waste less padding.
    order = sorted(todo.values(), key=lambda c: c.n_tokens)
    from tqdm import tqdm

    bar = tqdm(
        total=len(order), unit="chunk", desc="embedding", disable=not progress, dynamic_ncols=True
    )
    started = time.perf_counter()
    for i in range(0, len(order), batch_size):
        batch = order[i : i + batch_size]
        embedded = embedder.embed_documents([c.text for c in batch])
        for c, v in zip(batch, embedded, strict=True):
            vectors[text_hash(c.text)] = v
        report.tokens_embedded += sum(c.n_tokens for c in batch)
        bar.update(len(batch))
    bar.close()
    report.embed_seconds = time.perf_counter() - started
    report.chunks_embedded = len(order)
    for doc, size, mtime, chunks in pending:
        langs = [chunk_language(c.text, doc.lang) for c in chunks]
        terms = [" ".join(analyse(c.text, lang)) for c, lang in zip(chunks, langs, strict=True)]
        matrix = (
            np.stack([vectors[text_hash(c.text)] for c in chunks])
            if chunks
            else np.zeros((0, embedder.dim), dtype=np.float32)
        )
        writer.add(doc, size, mtime, chunks, matrix, langs, terms)


def remove_sources(root: Path, sources: Sequence[str]) -> list[str]:
    """Take documents out of the index by source path; returns those that were indexed."""
    from embeddings.store import live_generation, read_manifest

    manifest = read_manifest(live_generation(root))
    with IndexWriter(root, str(manifest["embedder"]), manifest["chunking"]) as writer:
        known = writer.known_sources()
        removed = [s for s in sources if s in known]
        for source in removed:
            writer.remove(source)
        if removed:
            writer.commit(
                dim=int(manifest["dim"]), extra={"embedder_spec": manifest.get("embedder_spec")}
            )
    return removed
