"""`citeqa eval` end to end: load a set, index its corpus if it has one, run, report.

BEIR corpora are written as files under the data directory (next to the index) and indexed
incrementally there, so a second run of the same set embeds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embeddings.embedders import load_embedder
from embeddings.indexer import ChunkingSettings, index_paths
from eval.datasets import Dataset, load_dataset, write_beir_corpus
from eval.retrieval import RetrievalEval, evaluate
from qa.factory import embedder_spec, open_retriever
from qa.retrieval import Retriever
from qa.settings import Mode, Settings


def prepare(
    dataset: Dataset, settings: Settings, progress: bool = False
) -> tuple[Settings, dict[str, str]]:
    """For a BEIR set: write and index its corpus; returns settings pointing at that index."""
    if dataset.fmt != "beir":
        return settings, {}
    home = settings.index.parent / "eval" / dataset.name
    doc_of_file = write_beir_corpus(dataset, home / "docs")
    spec = settings.embedder or "e5-small-q4"
    index_paths(
        [home / "docs"],
        home / "index",
        lambda: load_embedder(spec),
        spec,
        ChunkingSettings(settings.chunking.max_tokens, settings.chunking.overlap_tokens),
        progress=progress,
    )
    return settings.model_copy(update={"index": home / "index", "embedder": spec}), doc_of_file


def run_eval(
    path: Path,
    settings: Settings,
    modes: Sequence[Mode],
    progress: bool = False,
    retriever: Retriever | None = None,
) -> tuple[Dataset, RetrievalEval, Retriever]:
    dataset = load_dataset(path)
    settings, doc_of_file = prepare(dataset, settings, progress)
    if retriever is None:
        settings = settings.model_copy(update={"embedder": embedder_spec(settings)})
        retriever = open_retriever(settings)
    return dataset, evaluate(retriever, dataset, modes, doc_of_file), retriever
