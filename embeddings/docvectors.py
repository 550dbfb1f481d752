"""Whole-document vectors: in a collection of mostly short documents, each document of 2 to
a window's passages is also embedded whole, and the document level of hybrid search scores
it by that vector (measured against the mean of its passage vectors: docs/retrieval.md).
`embed_whole` embeds them; `backfill` adds the ones a run finds missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from citeqa.settings import ChunkingConfig
from embeddings.chunking import WINDOW_RESERVE, mostly_short, passages_per_window, whole_text
from embeddings.embedders import Embedder
from embeddings.progress import Progress
from embeddings.report import IndexReport
from embeddings.stores import DocumentVectorWriter


def whole_up_to(window: int, chunking: ChunkingConfig, sizes: dict[str, int]) -> int:
    """The most passages of a document embedded whole, in a collection of documents of
    these passage counts; 0 where it is not mostly short (none are)."""
    n = passages_per_window(window, chunking.max_tokens, chunking.overlap_tokens)
    return n if mostly_short(sizes.values(), n) else 0


def backfill(
    writer: DocumentVectorWriter,
    model: Callable[[], Embedder],
    window: int | None,
    chunking: ChunkingConfig,
    batch_size: int,
    report: IndexReport,
    meter: Progress | None = None,
    sizes: dict[str, int] | None = None,
) -> bool:
    """At the end of a run, in a collection of mostly short documents, embed whole the
    short ones that have no vector yet: added while the collection was mostly long, by
    Ray, or before document vectors existed. `model` is called only if some lack one (the
    window is e5's 512 tokens until then, unless `window` says). `sizes`: each document's
    passages, if the caller has them. True if any was added."""
    sizes = writer.passages_per_document() if sizes is None else sizes
    guess = window or 512
    n = whole_up_to(guess, chunking, sizes)
    lacking = writer.lacking_document_vectors(n) if n else []
    if not lacking:
        return False
    embedder = model()
    if embedder.max_tokens != guess:
        n = whole_up_to(embedder.max_tokens, chunking, sizes)
        lacking = writer.lacking_document_vectors(n) if n else []
    texts, doc_ids = {}, {}
    for source in lacking:
        doc_ids[source], text, spans = writer.document_spans(source)
        whole = whole_text(text, spans, n)
        if whole is not None:
            texts[source] = whole
    started = time.perf_counter()
    found = embed_whole(texts, embedder, batch_size, meter) if texts else {}
    for source, vector in found.items():
        writer.set_document_vector(source, doc_ids[source], vector)
    report.embed_seconds += time.perf_counter() - started
    report.documents_embedded += sum(v is not None for v in found.values())
    return bool(found)


def embed_whole(
    texts: dict[str, str], embedder: Embedder, batch_size: int, meter: Progress | None = None
) -> dict[str, np.ndarray | None]:
    """Source -> the vector of the whole document (`whole_text`) for the documents of
    2 to a window's passages: what the document level of hybrid search scores such a
    document by in a collection of mostly short documents (measured against the mean of
    its passage vectors: docs/retrieval.md). None where the text, counted, does not fit
    the window after all (sentences carried whole make the overlap vary): the embedder
    would cut its end off, so such a document is scored by its best passage."""
    reserve = WINDOW_RESERVE
    fits = {s: embedder.count_tokens(t) + reserve <= embedder.max_tokens for s, t in texts.items()}
    out: dict[str, np.ndarray | None] = {s: None for s, ok in fits.items() if not ok}
    texts = {s: t for s, t in texts.items() if fits[s]}
    order = sorted(texts, key=lambda s: len(texts[s]))
    for i in range(0, len(order), batch_size):
        batch = order[i : i + batch_size]
        out.update(zip(batch, embedder.embed_documents([texts[s] for s in batch]), strict=True))
        if meter is not None:
            meter.update(whole=len(batch))
    return out


def drop_document_vectors(writer: object, wanted: bool) -> int:
    """`indexing.document_vectors=false`: an index that has some loses them, so every
    document is scored alike (by the mean of its passage vectors). How many went."""
    if wanted or not isinstance(writer, DocumentVectorWriter):
        return 0
    return writer.clear_document_vectors()


@dataclass
class WholeDocuments:
    """A single-process run's document vectors: which pending documents are embedded whole
    as well, and the `backfill` at its end. `writer` is None where they are not wanted or
    the store keeps none."""

    writer: DocumentVectorWriter | None
    chunking: ChunkingConfig
    sizes: dict[str, int] | None = None  # source -> passages, once a flush needed them

    @classmethod
    def of(cls, writer: object, wanted: bool, chunking: ChunkingConfig) -> WholeDocuments:
        if wanted and isinstance(writer, DocumentVectorWriter):
            return cls(writer, chunking)
        return cls(None, chunking)

    def per_window(self, window: int, pending: Iterable[tuple[str, int]]) -> int:
        """Documents of 2 to this many passages are embedded whole as well, while the
        collection (the index with the `pending` (source, passages)) is mostly of such
        documents; 0: none are."""
        if self.writer is None:
            return 0
        if self.sizes is None:
            self.sizes = self.writer.passages_per_document()
        for source, passages in pending:
            if passages:
                self.sizes[source] = passages
            else:
                self.sizes.pop(source, None)
        return whole_up_to(window, self.chunking, self.sizes)

    def backfill(
        self,
        model: Callable[[], Embedder],
        window: int | None,
        batch_size: int,
        report: IndexReport,
        meter: Progress,
    ) -> bool:
        """`backfill`, with the passage counts the flushes kept up to date (else read once
        there). True if any was added."""
        if self.writer is None:
            return False
        c, sizes = self.chunking, self.sizes
        return backfill(self.writer, model, window, c, batch_size, report, meter, sizes)


__all__ = ["WholeDocuments", "backfill", "drop_document_vectors", "embed_whole", "whole_up_to"]
