"""Bring an index in line with files on disk, embedding only what changed.

For each root given: new and changed files are read, chunked and embedded; unchanged files
(same size and mtime, or same content hash) are left alone; files that are gone from a root
leave the index. A file that still exists but cannot be read now keeps its previous version.
Chunks whose exact text is already indexed reuse their stored vector. A long run publishes
its work in batches (`Batching`), so a killed run loses at most one batch and the next one
resumes; progress goes to stderr (`embeddings.progress`). What changed is decided in
`embeddings.plan`, whole-document vectors in `embeddings.docvectors`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from citeqa.settings import ChunkingConfig, IndexingConfig
from embeddings.analysis import ANALYSIS_VERSION, analyse
from embeddings.chunking import (
    Chunk,
    chunk_document,
    whole_text,
)
from embeddings.documents import (
    Document,
    SkipFile,
    load_document,
)
from embeddings.docvectors import WholeDocuments, embed_whole
from embeddings.embedders import Embedder, embedder_id
from embeddings.engine_check import engine_label
from embeddings.files import iter_files
from embeddings.indexed import IndexedDocument
from embeddings.language import detect_language, warm_language_identifier
from embeddings.plan import plan_run, roots_of
from embeddings.progress import Progress
from embeddings.report import IndexReport
from embeddings.store import text_hash
from embeddings.stores import DocumentVectorWriter, StoreWriter, manifest_of, open_writer

log = logging.getLogger(__name__)


ChunkingSettings = ChunkingConfig  # the settings' own model (an older name, kept)


def chunking_manifest(chunking: ChunkingConfig) -> dict[str, Any]:
    """What the manifest records about how chunks were cut and analysed: an index is
    refused when these differ."""
    return {
        "max_tokens": chunking.max_tokens,
        "overlap_tokens": chunking.overlap_tokens,
        "analysis": ANALYSIS_VERSION,
    }


def chunk_language(text: str, doc_lang: str) -> str:
    """Per-chunk language for stopwords and stemming; short chunks follow their document."""
    return detect_language(text) if len(text) >= 200 else doc_lang


@dataclass(frozen=True)
class Batching:
    """How often a long run publishes what it has: after `chunks` new chunks or `seconds`,
    whichever comes first. A killed run loses at most one batch; the next run resumes (the
    published documents are unchanged files to it). Each publish copies the index's database
    once (about 0.8 s at 100,000 chunks; `bench/scale.py`)."""

    chunks: int = 5000
    seconds: float = 300.0
    progress_seconds: float = 5.0  # a progress line this often when stderr is not a terminal

    @classmethod
    def of(cls, indexing: Any) -> Batching:
        """From the `indexing` settings (batch_chunks, batch_minutes, progress_seconds)."""
        return cls(indexing.batch_chunks, indexing.batch_minutes * 60, indexing.progress_seconds)


_FLUSH_CHUNKS = 1024  # chunks embedded together (sorted by length), then added


def index_paths(
    paths: Sequence[Path],
    root: Path,
    embedder: Callable[[], Embedder],
    embedder_spec: str,
    chunking: ChunkingConfig | None = None,
    rebuild: bool = False,
    progress: bool = True,
    batch_size: int = 32,
    indexing: IndexingConfig | None = None,
    max_file_bytes: int | None = None,
    batching: Batching | None = None,
    read: Callable[[Path, str], Document] | None = None,
) -> IndexReport:
    """Index `paths` (files or folders, recursively) into the index directory `root`.

    `embedder` is a factory, so a run with nothing to embed never loads a model. `indexing`
    (the settings section, whole; default its defaults) says which files are skipped, with
    the reason in the report (over `max_file_mb`, or taking over `max_file_seconds` to read),
    how often a long run publishes, and `document_vectors`: in a collection of mostly short
    documents, also embed whole each document the embedder reads in one window, where the
    store keeps such vectors (`embeddings.docvectors.WholeDocuments`). `max_file_bytes` and
    `batching` override what it says (an upload's own limit, a test's small batches).
    `progress` reports on stderr (see `embeddings.progress`). `read(path, source)`: how a file
    becomes a `Document` (default `load_document` with these limits); the upload backend
    passes the documents it read before it took its lock.
    """
    indexing = indexing or IndexingConfig()
    if max_file_bytes is None:
        max_file_bytes = indexing.max_file_bytes
    batching = batching or Batching.of(indexing)
    document_vectors, max_file_seconds = indexing.document_vectors, indexing.max_file_seconds
    started = time.perf_counter()
    chunking = chunking or ChunkingConfig()
    report = IndexReport()
    roots = roots_of(paths)
    loaded: list[Embedder] = []
    loading = threading.Lock()

    def model() -> Embedder:
        with loading:
            if not loaded:
                loaded.append(embedder())
            return loaded[0]

    files = list(iter_files(roots))  # raises BadInput for a missing root, before any write
    with open_writer(
        root, embedder_id(embedder_spec), chunking_manifest(chunking), rebuild=rebuild
    ) as writer:
        plan = plan_run(writer, files, roots, rebuild, document_vectors, report)
        # files to read: load the model and the language model while the first are read
        warming = _warm(model) if plan.todo.files else None
        meter = plan.meter(progress, batching.progress_seconds)
        whole = WholeDocuments.of(writer, document_vectors, chunking)
        run = _Run(writer, model, report, meter, batch_size, batching, embedder_spec, loaded)
        run.chunking, run.whole, run.dirty = chunking, whole, plan.dirty
        try:
            for path, source, stat in plan.todo.files:
                old = plan.known.get(source)
                try:
                    if read is not None:
                        doc = read(path, source)
                    else:
                        doc = load_document(path, source, max_file_bytes, max_file_seconds)
                except SkipFile as exc:
                    report.skipped.append((str(path), str(exc)))
                    meter.update(files=1, nbytes=stat.st_size)
                    continue
                if not plan.is_new(writer, doc, path, source, stat, report):
                    meter.update(files=1, nbytes=stat.st_size)
                    continue
                chunks = chunk_document(
                    doc, model().count_tokens, chunking.max_tokens, chunking.overlap_tokens
                )
                run.add(doc, stat, chunks)
                (report.updated if old else report.added).append(source)
            run.flush()
            run.backfill()
        finally:
            meter.close()
            if warming is not None:
                warming.join()  # never leave a model compiling behind at exit
        report.documents, report.chunks = writer.counts()
        if run.dirty or (plan.fresh and writer.published == 0):
            writer.commit(dim=run.dim(), extra=run.extra())
    report.seconds = time.perf_counter() - started
    return report


def _warm(model: Callable[[], Embedder]) -> threading.Thread:
    """Load the embedder and build its graph (`warm`, where it has one) in a background
    thread, with the language identifier; a failure is left for the first real use to
    raise in the main thread."""

    def work() -> None:
        warm_language_identifier()
        try:
            warm = getattr(model(), "warm", None)
            if warm is not None:
                warm()
        except Exception:  # raised again, with its message, where the model is used
            log.debug("warming the embedder failed", exc_info=True)

    thread = threading.Thread(target=work, name="citeqa-warm", daemon=True)
    thread.start()
    return thread


@dataclass
class _Run:
    """Documents waiting to be embedded and added, and when to publish a batch."""

    writer: StoreWriter
    model: Callable[[], Embedder]
    report: IndexReport
    meter: Progress
    batch_size: int
    batching: Batching
    spec: str
    loaded: list[Embedder]  # the model, once `model()` has loaded it
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    whole: WholeDocuments = field(default_factory=lambda: WholeDocuments(None, ChunkingConfig()))
    pending: list[tuple[Document, int, float, list[Chunk]]] = field(default_factory=list)
    pending_bytes: int = 0
    pending_chunks: int = 0
    since_publish: int = 0
    published_at: float = field(default_factory=time.monotonic)
    dirty: bool = False

    def dim(self) -> int:
        return self.writer.dim or self.model().dim

    def extra(self) -> dict[str, Any]:
        """Manifest fields: the spec, and the engine that embedded (when this run did)."""
        engine = engine_label(self.loaded[0]) if self.loaded else None
        return {"embedder_spec": self.spec, "embedder_engine": engine}

    def add(self, doc: Document, stat: os.stat_result, chunks: list[Chunk]) -> None:
        self.pending.append((doc, stat.st_size, stat.st_mtime, chunks))
        self.pending_bytes += stat.st_size
        self.pending_chunks += len(chunks)
        due = time.monotonic() - self.published_at >= self.batching.seconds
        full = self.since_publish + self.pending_chunks >= self.batching.chunks
        if self.pending_chunks >= _FLUSH_CHUNKS or full or due:
            self.flush()
        if self.dirty and (self.since_publish >= self.batching.chunks or due):
            self.writer.publish(dim=self.dim(), extra=self.extra())
            self.since_publish, self.published_at, self.dirty = 0, time.monotonic(), False

    def flush(self) -> None:
        if not self.pending:
            return
        model = self.model()
        passages = ((doc.source, len(chunks)) for doc, _, _, chunks in self.pending)
        _embed_and_add(
            self.writer, self.pending, model, self.report, self.meter, self.batch_size,
            self.whole.per_window(model.max_tokens, passages),
        )  # fmt: skip
        self.meter.update(files=len(self.pending), nbytes=self.pending_bytes)
        self.since_publish += self.pending_chunks
        self.pending, self.pending_bytes, self.pending_chunks, self.dirty = [], 0, 0, True

    def backfill(self) -> None:
        window = self.loaded[0].max_tokens if self.loaded else None
        found = self.whole.backfill(self.model, window, self.batch_size, self.report, self.meter)
        self.dirty = self.dirty or found


def _embed_and_add(
    writer: StoreWriter,
    pending: list[tuple[Document, int, float, list[Chunk]]],
    embedder: Embedder,
    report: IndexReport,
    meter: Progress,
    batch_size: int,
    per_window: int = 0,
) -> None:
    """Embed the pending documents' new passages (and, for a document of 2 to `per_window`
    passages, the whole document: its document vector), then add them to the writer."""
    all_chunks = [c for _, _, _, chunks in pending for c in chunks]
    reused = writer.vectors_by_text_hash(text_hash(c.text) for c in all_chunks)
    todo = {}
    for c in all_chunks:
        h = text_hash(c.text)
        if h not in reused and h not in todo:
            todo[h] = c
    vectors: dict[str, np.ndarray] = dict(reused)
    report.chunks_reused += sum(1 for c in all_chunks if text_hash(c.text) in reused)
    # Similar lengths in one batch waste less padding.
    order = sorted(todo.values(), key=lambda c: c.n_tokens)
    started = time.perf_counter()
    for i in range(0, len(order), batch_size):
        batch = order[i : i + batch_size]
        embedded = embedder.embed_documents([c.text for c in batch])
        for c, v in zip(batch, embedded, strict=True):
            vectors[text_hash(c.text)] = v
        report.tokens_embedded += sum(c.n_tokens for c in batch)
        meter.update(chunks=len(batch))
    report.chunks_embedded += len(order)
    whole = embed_whole(
        {
            doc.source: text
            for doc, _, _, chunks in pending
            if per_window
            and (text := whole_text(doc.text, [(c.start, c.end) for c in chunks], per_window))
        },
        embedder,
        batch_size,
        meter,
    )
    report.documents_embedded += sum(v is not None for v in whole.values())
    report.embed_seconds += time.perf_counter() - started
    for doc, size, mtime, chunks in pending:
        langs = [chunk_language(c.text, doc.lang) for c in chunks]
        terms = [" ".join(analyse(c.text, lang)) for c, lang in zip(chunks, langs, strict=True)]
        matrix = (
            np.stack([vectors[text_hash(c.text)] for c in chunks])
            if chunks
            else np.zeros((0, embedder.dim), dtype=np.float32)
        )
        writer.add(IndexedDocument(doc, size, mtime, chunks, matrix, langs, terms))
        if doc.source in whole:
            cast(DocumentVectorWriter, writer).set_document_vector(
                doc.source, doc.doc_id, whole[doc.source]
            )


def remove_sources(root: Path, sources: Sequence[str]) -> list[str]:
    """Take documents out of the index by source path; returns those that were indexed."""
    from embeddings.errors import IndexNotFound

    manifest = manifest_of(root)
    if manifest is None:
        raise IndexNotFound(f"No index at {root}. Build one first: citeqa index PATH")
    with open_writer(root, str(manifest["embedder"]), manifest["chunking"]) as writer:
        known = writer.known_sources()
        removed = [s for s in sources if s in known]
        for source in removed:
            writer.remove(source)
        if removed:
            writer.commit(
                dim=int(manifest["dim"]), extra={"embedder_spec": manifest.get("embedder_spec")}
            )
    return removed
