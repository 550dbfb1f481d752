"""citeqa's documents-to-index side: loading, chunking, embedders, the index on disk.

Names load lazily, so importing one submodule does not load FAISS or the models.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Index": "embeddings.store",
    "index_paths": "embeddings.indexer",
    "load_document": "embeddings.documents",
    "load_embedder": "embeddings.embedders",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'embeddings' has no attribute {name!r}")
