"""The FAISS side of an index: exact search while it is cheap, IVF-SQ8 once it is not.

Below `ANN_MIN_CHUNKS` vectors live in a flat inner-product index (exact). From there on they
live in an inverted file with 8-bit scalar quantisation: a quarter of the memory and search
time that no longer grows with the whole index. Both keep int64 row ids, add and remove ids
in place (so incremental writes stay incremental), and reconstruct a stored vector by id.
The crossover and `nprobe` were measured with `bench/scale.py` (README, 'Index type').
This module does not read or write files; the store does.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

FLAT, IVF_SQ8 = "flat", "ivf-sq8"
ANN_MIN_CHUNKS = 50_000  # measured: bench/scale.py; below it exact search costs a few ms
NPROBE = 32  # measured: recall@10 against exact search >= 0.95 at 100k and 1M (bench/scale.py)
RETRAIN_GROWTH = 4  # retrain the coarse quantiser when the index has grown this many times
_TRAIN_PER_LIST = 40
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

    return IVF_SQ8 if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else FLAT


def new_flat(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def n_lists(n: int) -> int:
    return max(16, int(2 * math.sqrt(n)))


def _all_vectors(index: Any, ids: np.ndarray) -> Any:
    """(ids, vectors) in batches, so a conversion holds one batch of float32 at a time."""
    for start in range(0, len(ids), _BATCH):
        part = np.ascontiguousarray(ids[start : start + _BATCH], dtype=np.int64)
        yield part, index.reconstruct_batch(part)


def build_ivf(index: Any, ids: np.ndarray, seed: int = 0) -> Any:
    """An IVF-SQ8 index holding the vectors of `index` (any type) under the same ids."""
    import faiss

    dim = index.d
    lists = n_lists(len(ids))
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(ids, min(len(ids), _TRAIN_PER_LIST * lists), replace=False))
    train = np.concatenate([v for _, v in _all_vectors(index, sample)])
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ivf.cp.seed = seed
    ivf.cp.min_points_per_centroid = 5  # 40 per list is plenty for 8-bit codes
    with faiss_threads(os.cpu_count() or 1):  # training and adding use every core
        ivf.train(train)
        # a hashtable direct map lets IVF reconstruct and remove vectors by id
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        for part, vectors in _all_vectors(index, ids):
            ivf.add_with_ids(vectors, part)
    ivf.nprobe = NPROBE
    return ivf


def build_flat(index: Any, ids: np.ndarray) -> Any:
    flat = new_flat(index.d)
    for part, vectors in _all_vectors(index, ids):
        flat.add_with_ids(vectors, part)
    return flat


def fit(index: Any, ids: np.ndarray, trained_on: int) -> tuple[Any, int]:
    """The index type this many vectors should live in: (index, vectors it was trained on).

    Flat becomes IVF at `ANN_MIN_CHUNKS`; IVF goes back to flat below half of it (so an index
    near the line does not flip on every write), and is retrained when it has grown
    `RETRAIN_GROWTH` times since its quantiser was trained.
    """
    n = len(ids)
    kind = index_type(index)
    if kind == FLAT and n >= ANN_MIN_CHUNKS:
        return build_ivf(index, ids), n
    if kind == IVF_SQ8 and n < ANN_MIN_CHUNKS // 2:
        return build_flat(index, ids), 0
    if kind == IVF_SQ8 and n > RETRAIN_GROWTH * max(trained_on, 1):
        return build_ivf(index, ids), n
    return index, trained_on


EXACT_BELOW = 20_000  # a filter that leaves fewer vectors than this is searched exactly


def search(
    index: Any, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """(id, inner product) of the `k` nearest vectors, best first; only `allowed` ids if given.

    A filter that leaves few vectors is scored exactly from the stored vectors, whatever the
    index type: an IVF probe would miss allowed vectors in lists it does not visit.
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
    selector = faiss.IDSelectorBatch(allowed) if allowed is not None else None
    if index_type(index) == IVF_SQ8:
        params: Any = faiss.SearchParametersIVF(sel=selector, nprobe=NPROBE)  # type: ignore[call-arg]
    else:
        params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, ids = index.search(q.reshape(1, -1), k, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
