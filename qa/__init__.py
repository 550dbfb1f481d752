"""citeqa's question answering: retrieval, answers, citations. The front
ends that use it (CLI, API, chat UI) are in frontends/.

Names load lazily, so `citeqa --help` does not pay for numpy and FAISS.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Retriever": "qa.retrieval",
    "QAService": "qa.service",
    "Settings": "qa.settings",
    "open_retriever": "qa.factory",
    "open_service": "qa.factory",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
