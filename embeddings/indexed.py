"""One document as a store writer's `add` takes it: the document, its file's size and mtime,
and its chunks with their vectors, languages and BM25 terms.

Built by the indexing runs (`embeddings.indexer`, `embeddings.ray_ingest`), read by both
store writers (`embeddings.writer`, `embeddings.milvus_writer`); it does nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document


@dataclass(frozen=True, eq=False)
class IndexedDocument:
    """What goes into an index for one document; it replaces what its source had."""

    doc: Document
    size: int  # the file's, as its stat gave it: an unchanged file is not read again
    mtime: float
    chunks: Sequence[Chunk]
    vectors: np.ndarray  # one normalised row per chunk
    langs: Sequence[str]  # per chunk
    terms: Sequence[str]  # per chunk, its analysed terms space-joined (the embedded BM25)
