"""What the index's safety costs: loading (checksums of every file, structural checks) and
publishing a batch, on a synthetic index of N chunks (random 384-d vectors, random words).

    python bench/store_cost.py --chunks 40000 --out bench/results/store_cost

Runs against whatever `embeddings` is importable, so the same script measures an older
checkout (no batch publishing there: that figure is left out).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.indexed import IndexedDocument
from embeddings.store import Index
from embeddings.writer import IndexWriter

WORDS = [f"w{i}" for i in range(5000)]
PER_DOC = 20
DIM = 384


def _doc(d: int, rng: np.random.Generator) -> tuple[Document, list[Chunk], np.ndarray, list[str]]:
    texts = [" ".join(rng.choice(WORDS, 60)) for _ in range(PER_DOC)]
    doc_id = f"doc-{d:07d}"
    chunks, offset = [], 0
    for i, text in enumerate(texts):
        chunks.append(Chunk(f"{doc_id}-{i}", doc_id, i, offset, offset + len(text), text, 80))
        offset += len(text) + 1
    vectors = rng.standard_normal((PER_DOC, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return (
        Document(doc_id, f"synthetic/{doc_id}.txt", doc_id, "en", "\n".join(texts)),
        chunks,
        vectors,
        texts,
    )


def _add(writer: IndexWriter, d: int, rng: np.random.Generator) -> None:
    doc, chunks, vectors, texts = _doc(d, rng)
    langs = ["en"] * len(chunks)
    writer.add(IndexedDocument(doc, 1, 0.0, chunks, vectors, langs, texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="store-cost-"))
    root = work / "index"
    chunking = {"max_tokens": 100, "overlap_tokens": 20}
    figures: dict[str, float | int | None] = {"chunks": args.chunks}
    try:
        started = time.perf_counter()
        with IndexWriter(root, "synthetic", chunking) as writer:
            for d in range(args.chunks // PER_DOC):
                _add(writer, d, rng)
            writer.commit(DIM)
        figures["build_s"] = round(time.perf_counter() - started, 2)
        loads = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            Index(root).close()
            loads.append(time.perf_counter() - started)
        figures["load_s"] = round(min(loads), 3)
        figures["generation_mb"] = round(
            sum(p.stat().st_size for p in root.glob("gen-*/**/*") if p.is_file()) / 1e6, 1
        )
        started = time.perf_counter()
        with IndexWriter(root, "synthetic", chunking) as writer:
            _add(writer, 10**6, rng)
            writer.commit(DIM)
        figures["update_one_doc_s"] = round(time.perf_counter() - started, 2)
        with IndexWriter(root, "synthetic", chunking) as writer:
            if hasattr(writer, "publish"):  # a batch of a long run: publish, then go on
                _add(writer, 10**6 + 1, rng)
                started = time.perf_counter()
                writer.publish(DIM)
                figures["batch_publish_s"] = round(time.perf_counter() - started, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "store_cost.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
