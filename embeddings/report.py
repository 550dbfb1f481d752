"""What an indexing run did: files added, updated, removed, unchanged and skipped (with the
reason), chunks embedded and reused, and the time it took. `citeqa index` prints it; the
indexer and the Ray ingest fill it in."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    documents_embedded: int = 0  # short documents also embedded whole (document vectors)
    document_vectors_dropped: int = 0  # indexing.document_vectors=false on an index with some
    embed_seconds: float = 0.0
    seconds: float = 0.0
    documents: int = 0
    chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


__all__ = ["IndexReport"]
