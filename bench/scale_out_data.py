"""bench/scale_out.py's synthetic collections: chunks of text drawn from a Dutch and English
word list with random unit vectors, and an index of them in either store (`build`).

Timings only: nothing here is meant to be retrieved well."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from embeddings.analysis import analyse
from embeddings.indexed import IndexedDocument
from embeddings.indexer import ChunkingSettings, chunking_manifest
from embeddings.stores import open_writer

# -- synthetic stores -----------------------------------------------------------------------
WORDS = [
    "fiets",
    "regering",
    "begroting",
    "minister",
    "water",
    "dijk",
    "haven",
    "school",
    "zorg",
    "ziekenhuis",
    "trein",
    "spoor",
    "weer",
    "regen",
    "wind",
    "storm",
    "boer",
    "koe",
    "melk",
    "kaas",
    "brood",
    "markt",
    "prijs",
    "euro",
    "belasting",
    "gemeente",
    "bicycle",
    "government",
    "budget",
    "minister",
    "water",
    "dike",
    "harbour",
    "school",
    "care",
    "hospital",
    "train",
    "rail",
    "weather",
    "rain",
    "wind",
    "storm",
    "farmer",
    "cow",
    "milk",
    "cheese",
    "bread",
    "market",
    "price",
    "euro",
    "tax",
    "council",
    "court",
    "judge",
    "law",
    "police",
    "crime",
    "election",
    "party",
    "vote",
    "parliament",
    "energy",
    "gas",
    "oil",
    "solar",
]


def synthetic(
    n: int, dim: int, seed: int = 0
) -> list[tuple[Any, list[Any], np.ndarray, list[str]]]:
    """Documents of 100 chunks each: (doc, chunks, unit vectors, languages)."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(0, n, 100):
        m = min(100, n - d)
        lang = "nl" if (d // 100) % 2 else "en"
        texts = [" ".join(rng.choice(WORDS, size=40)) for _ in range(m)]
        text = "\n".join(texts)
        offsets = np.cumsum([0] + [len(t) + 1 for t in texts])
        source = f"/synthetic/{d // 100:06d}.txt"
        doc = SimpleNamespace(
            source=source, doc_id=f"d{d}", title=source, lang=lang, text=text, pages=[]
        )
        chunks = [
            SimpleNamespace(chunk_id=f"c{d + i}", doc_id=f"d{d}", ordinal=i, start=int(offsets[i]),
                            end=int(offsets[i]) + len(t), text=t, n_tokens=40)
            for i, t in enumerate(texts)
        ]  # fmt: skip
        vectors = rng.standard_normal((m, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        out.append((doc, chunks, vectors, [lang] * m))
    return out


def build(target: str | Path, docs: list, dim: int) -> float:
    started = time.perf_counter()
    chunking = chunking_manifest(ChunkingSettings())
    with open_writer(target, f"fake-{dim}", chunking, rebuild=True) as writer:
        for doc, chunks, vectors, langs in docs:
            terms = [" ".join(analyse(c.text, lang)) for c, lang in zip(chunks, langs, strict=True)]
            writer.add(IndexedDocument(doc, len(doc.text), 0.0, chunks, vectors, langs, terms))
        writer.commit(dim)
    return time.perf_counter() - started
