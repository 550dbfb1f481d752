"""The files of one index generation, written into its staging folder: BM25 (`lexical/`),
the removed rows (`tombstones.npy`), the FAISS vectors, and last the manifest with every
file's checksum; then all of it fsynced.

It writes a folder it is given; making it the live generation is `embeddings.generations`,
deciding what goes in is `embeddings.writer`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.generations import fsync_tree
from embeddings.lexical import LexicalIndex, TermCounts
from embeddings.manifest import MANIFEST, file_entries, seal
from embeddings.store import LEXICAL, TOMBSTONES, VECTORS


def write_faiss(index: Any, path: Path) -> None:
    """FAISS's format through a Python file, so a full disk raises OSError (ENOSPC) here
    instead of leaving a short file behind a C `fwrite`."""
    import faiss

    with path.open("wb") as handle:
        faiss.write_index(index, faiss.PyCallbackIOWriter(handle.write))  # type: ignore[attr-defined]


def write_generation(
    stage: Path,
    vectors: Any,
    counts: TermCounts,
    tombstones: set[int],
    fields: dict[str, Any],
    calibration: dict[str, Any] | None,
) -> None:
    """Write the generation into `stage`: `fields` are the manifest's, before its file list
    (and `calibration`, when there is one)."""
    lexical = stage / LEXICAL
    LexicalIndex.from_counts(counts).save(lexical)
    counts.save(lexical)
    np.save(stage / TOMBSTONES, np.asarray(sorted(tombstones), dtype=np.int64))
    write_faiss(vectors, stage / VECTORS)
    manifest = {**fields, "files": file_entries(stage)}
    if calibration is not None:
        manifest["calibration"] = calibration
    (stage / MANIFEST).write_text(json.dumps(seal(manifest), indent=2), encoding="utf-8")
    fsync_tree(stage)
