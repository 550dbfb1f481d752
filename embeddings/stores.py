"""The store contract: what search and the indexer need of an index, and the stores by name.

Two stores implement it: the embedded one (`embeddings.store.Index` and
`embeddings.writer.IndexWriter`: FAISS + SQLite in a directory, the default) and Milvus
(`embeddings.milvus_store`, chosen with `--index milvus:<uri>[#collection]`). The protocols
only name what both do; ranking (`qa.retrieval`, `qa.storesearch`) stays with citeqa.
This module picks a store by the index's name; it does not read or write one itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from embeddings.indexed import IndexedDocument
from embeddings.store import ChunkRecord, DocumentRecord

__all__ = ["LexicalStore", "Store", "StoreWriter", "is_remote", "open_store", "open_writer"]


@runtime_checkable
class Store(Protocol):
    """A loaded index, read-only: dense search, chunks and documents by id, the manifest."""

    manifest: dict[str, Any]  # embedder, dim, chunking, ...
    root: Path  # what messages name: the index directory, or the milvus: spec

    @property
    def embedder(self) -> str: ...

    @property
    def calibration(self) -> dict[str, Any] | None: ...

    def __len__(self) -> int: ...

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(row id, inner product) of the `k` nearest chunks, best first; only `allowed`."""
        ...

    def chunks(self, rows: Iterable[int]) -> dict[int, ChunkRecord]: ...

    def iter_chunks(self) -> Iterator[ChunkRecord]: ...

    def vectors(self, rows: Sequence[int]) -> np.ndarray: ...

    def documents(self) -> list[DocumentRecord]: ...

    def document_text(self, source: str) -> str | None: ...

    def document_pages(self, source: str) -> list[tuple[int, int]]:
        """(start offset, page number) of a paged document; empty otherwise."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class LexicalStore(Store, Protocol):
    """A store that ranks BM25 itself, one field per language (Milvus). The embedded store
    instead hands its whole BM25 index to the retriever (`Index.lexical`), which also gives
    document-level BM25; here the retriever gets candidates and their exact scores."""

    def bm25(
        self, query: str, lang: str, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """BM25 top-k among the chunks analysed as `lang`, the query analysed the same way."""
        ...

    def rows_where(self, lang: str | None = None, source: str | None = None) -> np.ndarray:
        """Row ids of the chunks in `lang` and/or whose source contains `source`."""
        ...


@runtime_checkable
class DocumentVectorWriter(Protocol):
    """A writer that keeps whole-document vectors (the embedded store's `IndexWriter`;
    Milvus ranks passages only and keeps none)."""

    def passages_per_document(self) -> dict[str, int]: ...

    def lacking_document_vectors(self, per_window: int) -> list[str]: ...

    def document_spans(self, source: str) -> tuple[str, str, list[tuple[int, int]]]: ...

    def set_document_vector(self, source: str, doc_id: str, vector: np.ndarray | None) -> None: ...

    def clear_document_vectors(self) -> int: ...


class StoreWriter(Protocol):
    """What `embeddings.indexer.index_paths` does to an index: a context manager that knows
    the indexed sources, removes and adds whole documents, and publishes."""

    previous: Any  # None when there was no index before this writer
    published: int

    def __enter__(self) -> StoreWriter: ...

    def __exit__(self, *exc: object) -> None: ...

    @property
    def dim(self) -> int | None: ...

    def known_sources(self) -> dict[str, tuple[str, int, float]]: ...

    def vectors_by_text_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]: ...

    def counts(self) -> tuple[int, int]: ...

    def touch(self, source: str, size: int, mtime: float) -> None: ...

    def remove(self, source: str) -> int: ...

    def add(self, entry: IndexedDocument) -> None: ...

    def publish(
        self,
        dim: int,
        extra: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
        final: bool = False,
    ) -> Any: ...

    def commit(
        self,
        dim: int,
        extra: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
    ) -> Any: ...


def _embedded_store(index: Path, expect_embedder: str | None) -> Store:
    from embeddings.store import Index

    return Index(Path(index), expect_embedder=expect_embedder)


def _milvus_store(index: Path, expect_embedder: str | None) -> Store:
    from embeddings.milvus_store import MilvusStore

    return MilvusStore(index, expect_embedder=expect_embedder)


def _embedded_writer(index: Path, embedder_id: str, chunking: dict, rebuild: bool) -> Any:
    from embeddings.writer import IndexWriter

    return IndexWriter(Path(index), embedder_id, chunking, rebuild=rebuild)


def _milvus_writer(index: Path, embedder_id: str, chunking: dict, rebuild: bool) -> Any:
    from embeddings.milvus_writer import MilvusWriter

    return MilvusWriter(index, embedder_id, chunking, rebuild=rebuild)


# scheme prefix of the --index value -> (reader, writer); no prefix is the embedded store
STORES: dict[str, tuple[Callable[[Path, str | None], Store], Callable[..., Any]]] = {
    "milvus:": (_milvus_store, _milvus_writer),
}
_EMBEDDED = (_embedded_store, _embedded_writer)


def _kind(index: Path | str) -> tuple[Callable[[Path, str | None], Store], Callable[..., Any]]:
    text = str(index)
    return next((s for prefix, s in STORES.items() if text.startswith(prefix)), _EMBEDDED)


def is_remote(index: Path | str) -> bool:
    """Whether `index` names a store other than an index directory (e.g. `milvus:...`)."""
    return _kind(index) is not _EMBEDDED


def open_store(index: Path | str, expect_embedder: str | None = None) -> Store:
    """Load the index that `index` names: a directory, or `milvus:<uri>[#collection]`."""
    return _kind(index)[0](Path(index) if not is_remote(index) else index, expect_embedder)  # type: ignore[arg-type]


def open_writer(
    index: Path | str, embedder_id: str, chunking: dict[str, Any], rebuild: bool = False
) -> StoreWriter:
    """A writer for the index that `index` names (see `StoreWriter`)."""
    writer: StoreWriter = _kind(index)[1](index, embedder_id, chunking, rebuild)
    return writer


def manifest_of(index: Path | str) -> dict[str, Any] | None:
    """The manifest of the index `index` names, or None when there is none yet."""
    from embeddings.errors import IndexNotFound

    if not is_remote(index):
        from embeddings.generations import live_generation
        from embeddings.store import read_manifest

        root = Path(index)
        if not (root / "CURRENT").is_file():
            return None
        return read_manifest(live_generation(root))
    try:
        return dict(open_store(index).manifest)
    except IndexNotFound:
        return None
