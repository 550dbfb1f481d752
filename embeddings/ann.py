"""The FAISS side of an index: exact search while it is cheap, an HNSW graph once it is not.

Below `ANN_MIN_CHUNKS` vectors live in a flat inner-product index (exact). From there on they
live in an HNSW graph over 8-bit scalar-quantised vectors: a quarter of the memory, and a
search that visits a few hundred vectors instead of all of them. Both sit in an IndexIDMap2
(int64 row ids, reconstruct by id) and take new vectors in place. FAISS's HNSW cannot remove
vectors, so removed rows become tombstones that searches skip; when they pass
`MAX_TOMBSTONES` of the graph, the graph is rebuilt from the live vectors.
IVF-SQ8, tried first, lost most of the true neighbours at 1M chunks (recall@10 0.43 at
nprobe 32): the passages a question needs are a few points in a sea of others, spread over
many lists. Crossover and `EF_SEARCH` measured with `bench/scale.py` (README, 'Index type').
This module does not read or write files; the store does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

FLAT, HNSW_SQ8 = "flat", "hnsw-sq8"
ANN_MIN_CHUNKS = 50_000  # measured: bench/scale.py; below it exact search costs < 8 ms
EF_SEARCH = 64  # measured: recall@10 against exact search 0.99 at 1M chunks, 0.2 ms
HNSW_M = 32
EF_CONSTRUCTION = 40
MAX_TOMBSTONES = 0.1  # rebuild the graph when this share of it is removed rows
EXACT_BELOW = 20_000  # a filter that leaves fewer rows than this is scored exactly
_BATCH = 65_536


@contextlib.contextmanager
def faiss_threads(n: int) -> Iterator[None]:
    """FAISS's OpenMP threads for a block. Searches run with one: a single query gains
    nothing from two, and when the other core is busy (another question, the embedder, an
    upload) OpenMP's spin-waiting made an 87-chunk search take 8 ms instead of 0.3 ms."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def index_type(index: Any) -> str:
    import faiss

    inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    return HNSW_SQ8 if isinstance(inner, faiss.IndexHNSW) else FLAT


def new_flat(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _batches(index: Any, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) in batches, so a conversion holds one batch of float32 at a time."""
    for start in range(0, len(ids), _BATCH):
        part = np.ascontiguousarray(ids[start : start + _BATCH], dtype=np.int64)
        yield part, index.reconstruct_batch(part)


def build_hnsw(index: Any, ids: np.ndarray, seed: int = 0) -> Any:
    """An HNSW-SQ8 index holding the vectors of `ids` from `index` (any type)."""
    import faiss

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(ids, min(len(ids), 100_000), replace=False))
    quantiser: Any = faiss.ScalarQuantizer.QT_8bit  # FAISS's stubs type it as a class
    graph = faiss.IndexHNSWSQ(index.d, quantiser, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = EF_CONSTRUCTION
    graph.hnsw.efSearch = EF_SEARCH
    out = faiss.IndexIDMap2(graph)
    with faiss_threads(os.cpu_count() or 1):  # building the graph uses every core
        graph.train(np.concatenate([v for _, v in _batches(index, sample)]))
        for part, vectors in _batches(index, ids):
            out.add_with_ids(vectors, part)
    return out


def build_flat(index: Any, ids: np.ndarray) -> Any:
    flat = new_flat(index.d)
    for part, vectors in _batches(index, ids):
        flat.add_with_ids(vectors, part)
    return flat


def remove(index: Any, rows: np.ndarray, tombstones: set[int]) -> None:
    """Remove rows: in place from a flat index, as tombstones from a graph."""
    if not len(rows):
        return
    if index_type(index) == FLAT:
        index.remove_ids(np.asarray(rows, dtype=np.int64))
    else:
        tombstones.update(int(r) for r in rows)


def fit(index: Any, live: np.ndarray, tombstones: set[int]) -> Any:
    """The index these live rows should be in; may rebuild (and then clears `tombstones`).

    Flat becomes HNSW at `ANN_MIN_CHUNKS`; HNSW goes back to flat below half of it (so an
    index near the line does not flip on every write), and is rebuilt from the live rows
    when tombstones pass `MAX_TOMBSTONES`.
    """
    n, kind = len(live), index_type(index)
    if kind == FLAT and n >= ANN_MIN_CHUNKS:
        return build_hnsw(index, live)
    if kind == HNSW_SQ8 and (n < ANN_MIN_CHUNKS // 2 or len(tombstones) > MAX_TOMBSTONES * n):
        rebuilt = build_flat(index, live) if n < ANN_MIN_CHUNKS // 2 else build_hnsw(index, live)
        tombstones.clear()
        return rebuilt
    return index


def excluding(tombstones: np.ndarray) -> Any:
    """A FAISS selector that skips these rows (None when there are none). Build it once per
    loaded index: it copies the rows, and there may be 100,000 of them."""
    import faiss

    if not len(tombstones):
        return None
    inner = faiss.IDSelectorBatch(np.ascontiguousarray(tombstones, dtype=np.int64))
    selector: Any = faiss.IDSelectorNot(inner)
    selector.referenced = inner  # IDSelectorNot keeps a bare pointer to `inner`
    return selector


def search(
    index: Any,
    query: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    skip: Any = None,
) -> list[tuple[int, float]]:
    """(id, inner product) of the `k` nearest vectors, best first; only `allowed` ids if given.

    A filter that leaves few rows is scored exactly from the stored vectors, whatever the
    index type. `allowed` rows are live rows; otherwise `skip` (from `excluding`) drops
    tombstones.
    """
    import faiss

    if faiss.omp_get_max_threads() != 1:
        faiss.omp_set_num_threads(1)  # see `faiss_threads`
    q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    if allowed is not None and len(allowed) <= EXACT_BELOW:
        if not len(allowed):
            return []
        ids = np.ascontiguousarray(allowed, dtype=np.int64)
        scores = index.reconstruct_batch(ids) @ q
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in best]
    selector = faiss.IDSelectorBatch(allowed) if allowed is not None else skip
    if index_type(index) == HNSW_SQ8:
        params: Any = faiss.SearchParametersHNSW(sel=selector, efSearch=max(EF_SEARCH, k))  # type: ignore[attr-defined]
    else:
        params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, ids = index.search(q.reshape(1, -1), k, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
