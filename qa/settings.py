"""The settings live in `citeqa.settings`, below both `embeddings/` and `qa/`; this name is
kept so existing imports work."""

from citeqa.settings import (
    PRESETS,
    AnswerConfig,
    ChunkingConfig,
    IndexingConfig,
    Mode,
    RetrievalConfig,
    Settings,
)

__all__ = [
    "PRESETS",
    "AnswerConfig",
    "ChunkingConfig",
    "IndexingConfig",
    "Mode",
    "RetrievalConfig",
    "Settings",
]
