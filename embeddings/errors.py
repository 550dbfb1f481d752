"""The errors live in `citeqa.errors`, shared by every layer; this name is kept so existing
imports work. (`LLMUnavailable` is not re-exported: it never belonged to embeddings/.)"""

from citeqa.errors import (
    BadInput,
    CiteqaError,
    DiskFull,
    IndexCorrupt,
    IndexLocked,
    IndexMismatch,
    IndexNotFound,
    ModelNotAvailable,
)

__all__ = [
    "BadInput",
    "CiteqaError",
    "DiskFull",
    "IndexCorrupt",
    "IndexLocked",
    "IndexMismatch",
    "IndexNotFound",
    "ModelNotAvailable",
]
