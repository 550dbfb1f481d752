"""citeqa's evaluation: datasets (QA JSONL, BEIR), ranx metrics, answer metrics, reports.

Names load lazily (ranx costs seconds to import).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {"load_dataset": "eval.datasets", "run_eval": "eval.runner"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'eval' has no attribute {name!r}")
