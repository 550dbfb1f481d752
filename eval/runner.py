"""`citeqa eval` end to end: load a set, index its corpus if it has one, run, report.

BEIR corpora are written as files under the data directory (next to the index) and indexed
incrementally there, so a second run of the same set embeds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embeddings.embedders import load_embedder
from embeddings.indexer import index_paths
from embeddings.stores import is_remote
from eval.datasets import Dataset, load_dataset, write_beir_corpus
from eval.retrieval import RetrievalEval, evaluate
from qa.factory import compiled_cache, embedder_spec, pin_and_open
from qa.retrieval import Retriever
from qa.settings import Mode, Settings


def prepare(
    dataset: Dataset, settings: Settings, progress: bool = False, index_dir: Path | None = None
) -> tuple[Settings, dict[str, str]]:
    """For a BEIR set: write and index its corpus; returns settings pointing at that index:
    `index_dir` when given (`--index X`; its documents go in X/eval-docs/NAME), else one
    next to the default index (.../eval/NAME/index)."""
    if dataset.fmt != "beir":
        return settings, {}
    if index_dir is not None and is_remote(index_dir):  # milvus:...: documents stay local
        index, docs = index_dir, Path(".citeqa") / "eval-docs" / dataset.name
    elif index_dir is not None:
        index, docs = index_dir, index_dir / "eval-docs" / dataset.name
    else:
        home = settings.index.parent / "eval" / dataset.name
        index, docs = home / "index", home / "docs"
    doc_of_file = write_beir_corpus(dataset, docs)
    return index_documents(docs, Path(index), settings, progress), doc_of_file


def index_documents(docs: Path, index: Path, settings: Settings, progress: bool) -> Settings:
    """Index the folder `docs` (incrementally) into `index`; returns settings pointing
    there, with the embedder an existing index was built with."""
    spec = embedder_spec(settings, index)  # an existing index keeps its engine
    index_paths(
        [docs],
        index,
        lambda: load_embedder(spec, settings.embed_threads, compiled_cache(settings, index)),
        spec,
        settings.chunking,
        progress=progress,
        indexing=settings.indexing,
    )
    return settings.model_copy(update={"index": index, "embedder": spec})


def prepare_squad(
    path: Path, settings: Settings, progress: bool = False, index_dir: Path | None = None
) -> tuple[Path, Settings]:
    """A SQuAD file's articles written as documents under the index's data folder and
    indexed; returns its QA set and settings pointing at that index."""
    from eval import squad

    name = path.name.split(".")[0]
    index = Path(index_dir or settings.index.parent / "eval" / name / "index")
    docs, qa_file = squad.convert(path, index / "eval-docs" / name)
    return qa_file, index_documents(docs, index, settings, progress)


def run_eval(
    path: Path,
    settings: Settings,
    modes: Sequence[Mode],
    progress: bool = False,
    retriever: Retriever | None = None,
    index_dir: Path | None = None,
) -> tuple[Dataset, RetrievalEval, Retriever]:
    dataset = load_dataset(path)
    settings, doc_of_file = prepare(dataset, settings, progress, index_dir)
    if retriever is None:
        settings, retriever = pin_and_open(settings)
    return dataset, evaluate(retriever, dataset, modes, doc_of_file, progress), retriever
