"""`citeqa index PATH --ray [ADDRESS]`: loading, chunking and embedding spread over Ray.

The driver does what `embeddings.indexer.index_paths` does around the heavy part: lists the
files, compares them with the index, removes what is gone, and writes (to either store,
`embeddings.stores.open_writer`). The heavy part, reading, chunking and embedding each
changed file, runs in Ray Data's `map_batches` on actors that each load the embedder
installed on their node (nothing is downloaded). Results come back in file order, so chunk
ids, row ids and the report are those of the single-process run. Not here: retries of a
failed node (Ray's own), or spreading the writes (one writer keeps the index consistent).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.settings import IndexingConfig
from embeddings.analysis import analyse
from embeddings.chunking import Chunk, chunk_document, passages_per_window, whole_text
from embeddings.documents import Document, SkipFile, load_document
from embeddings.docvectors import backfill, embed_whole
from embeddings.embedders import embedder_id, load_embedder
from embeddings.engine_check import engine_label
from embeddings.errors import BadInput
from embeddings.files import iter_files
from embeddings.indexed import IndexedDocument
from embeddings.indexer import Batching, ChunkingSettings, chunk_language, chunking_manifest
from embeddings.plan import plan_run, roots_of
from embeddings.report import IndexReport
from embeddings.stores import DocumentVectorWriter, open_writer

log = logging.getLogger(__name__)

INSTALL = "pip install 'citeqa[ray]'"
_CHUNKING = ChunkingSettings()
FILES_PER_BATCH = 4  # files per map_batches call: small, so progress moves and work spreads


class Prepare:
    """A Ray actor's work: read, chunk and embed a batch of files (one embedder per actor)."""

    def __init__(
        self, spec: str, chunking: dict[str, Any], batch_size: int, max_bytes: int, whole: bool
    ):
        self.embedder = load_embedder(spec)
        self.chunking, self.batch_size, self.max_bytes = chunking, batch_size, max_bytes
        # every document of 2 to a window's passages is embedded whole here too, in
        # parallel: a worker cannot know whether the collection is mostly short, and where
        # it is not, the few vectors are kept unused (`qa.doclevel.DocumentLevel.whole_ready`)
        window, size = self.embedder.max_tokens, chunking["max_tokens"]
        per_window = passages_per_window(window, size, chunking["overlap_tokens"])
        self.per_window = per_window if whole else 0

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, list[Any]] = {"i": [], "skip": [], "doc": [], "chunks": [], "vectors": []}
        out |= {"langs": [], "terms": [], "tokens": [], "seconds": [], "engine": []}
        out |= {"whole": [], "whole_long": []}
        for i, path, source, old in zip(
            batch["i"], batch["path"], batch["source"], batch["old"], strict=True
        ):
            result = self._one(str(path), str(source), str(old))
            out["i"].append(int(i))
            for key, value in result.items():
                out[key].append(value)
        return {
            k: np.asarray(v, dtype=object) if k != "i" else np.asarray(v) for k, v in out.items()
        }

    def _one(self, path: str, source: str, old: str) -> dict[str, Any]:
        empty: dict[str, Any] = {
            "skip": "",
            "doc": "",
            "chunks": "",
            "vectors": b"",
            "langs": "",
            "terms": "",
        }
        empty |= {"tokens": 0, "seconds": 0.0, "engine": ""}
        empty |= {"whole": b"", "whole_long": 0}  # no entry
        try:
            doc = load_document(Path(path), source=source, max_bytes=self.max_bytes)
        except SkipFile as exc:
            return empty | {"skip": str(exc)}
        if old == doc.doc_id:  # unchanged content: the driver only touches it
            return empty | {"doc": json.dumps(asdict(doc))}
        chunks = chunk_document(
            doc, self.embedder.count_tokens, self.chunking["max_tokens"],
            self.chunking["overlap_tokens"],
        )  # fmt: skip
        started = time.perf_counter()
        order = sorted(range(len(chunks)), key=lambda j: chunks[j].n_tokens)
        vectors = np.zeros((len(chunks), self.embedder.dim), dtype=np.float32)
        for j in range(0, len(order), self.batch_size):
            part = order[j : j + self.batch_size]
            vectors[part] = self.embedder.embed_documents([chunks[k].text for k in part])
        spans = [(c.start, c.end) for c in chunks]
        text = whole_text(doc.text, spans, self.per_window) if self.per_window else None
        whole = embed_whole({source: text}, self.embedder, 1) if text is not None else {}
        langs = [chunk_language(c.text, doc.lang) for c in chunks]
        return empty | {
            "doc": json.dumps(asdict(doc)),
            "chunks": json.dumps([asdict(c) for c in chunks]),
            "vectors": vectors.tobytes(),
            "langs": json.dumps(langs),
            "terms": json.dumps(
                [" ".join(analyse(c.text, lang)) for c, lang in zip(chunks, langs, strict=True)]
            ),
            "tokens": sum(c.n_tokens for c in chunks),
            "seconds": time.perf_counter() - started,
            "engine": engine_label(self.embedder) or "",  # recorded: queries run in it too
            "whole": b"" if (vector := whole.get(source)) is None else vector.tobytes(),
            "whole_long": int(source in whole and vector is None),
        }


def start(address: str, workers: int | None = None) -> None:
    """Join the Ray cluster at `address`, or start one on this machine for `local`."""
    try:
        import ray
    except ImportError as exc:
        raise BadInput(f"--ray needs Ray: {INSTALL}") from exc
    if ray.is_initialized():
        return
    # our own progress lines speak for the run; Ray Data's would repeat them every few seconds
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # the workers import citeqa from where the driver does (a checkout run in place)
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in [os.getcwd()] if p)}}
    if address == "local":
        ray.init(
            num_cpus=workers or os.cpu_count(), include_dashboard=False,
            log_to_driver=False, runtime_env=env,
        )  # fmt: skip
    else:
        ray.init(address=address, log_to_driver=False, runtime_env=env)


def index_paths_ray(
    paths: Sequence[Path],
    root: Path | str,
    embedder_spec: str,
    address: str = "local",
    chunking: ChunkingSettings = _CHUNKING,
    rebuild: bool = False,
    progress: bool = True,
    batch_size: int = 32,
    indexing: IndexingConfig | None = None,
    workers: int | None = None,
) -> IndexReport:
    """`index_paths`, with reading, chunking and embedding on Ray (`workers` actors, default
    one per CPU the cluster has); `indexing` the settings section whole, as there."""
    indexing = indexing or IndexingConfig()
    max_file_bytes, batching = indexing.max_file_bytes, Batching.of(indexing)
    document_vectors = indexing.document_vectors
    started = time.perf_counter()
    report = IndexReport()
    model = functools.cache(lambda: load_embedder(embedder_spec))  # in the driver: if needed
    roots = roots_of(paths)
    files = list(iter_files(roots))
    with open_writer(
        root, embedder_id(embedder_spec), chunking_manifest(chunking), rebuild=rebuild
    ) as writer:
        plan = plan_run(writer, files, roots, rebuild, document_vectors, report)
        known, todo, dirty = plan.known, plan.todo, plan.dirty
        meter = plan.meter(progress, batching.progress_seconds)
        dim = writer.dim
        since_publish, published_at = 0, time.monotonic()
        extra: dict[str, Any] = {"embedder_spec": embedder_spec, "embedder_engine": None}
        try:
            results = _prepare(
                todo.files, known, embedder_spec, chunking, batch_size, max_file_bytes,
                address, workers, document_vectors and isinstance(writer, DocumentVectorWriter),
            )  # fmt: skip
            for i, row in results:
                path, source, stat = todo.files[i]
                old = known.get(source)
                meter.update(files=1, nbytes=stat.st_size)
                if row["skip"]:
                    report.skipped.append((str(path), str(row["skip"])))
                    continue
                doc = _document(row["doc"])
                if not plan.is_new(writer, doc, path, source, stat, report):
                    continue
                chunks = [Chunk(**c) for c in json.loads(row["chunks"])]
                width = dim or load_width(row, chunks)
                dim = width
                vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(-1, width)
                langs, terms = json.loads(row["langs"]), json.loads(row["terms"])
                writer.add(IndexedDocument(doc, stat.st_size, stat.st_mtime, chunks, vectors,
                                           langs, terms))  # fmt: skip
                if (row["whole"] or row["whole_long"]) and isinstance(writer, DocumentVectorWriter):
                    whole = np.frombuffer(row["whole"], dtype=np.float32) if row["whole"] else None
                    writer.set_document_vector(source, doc.doc_id, whole)
                    report.documents_embedded += whole is not None
                meter.update(chunks=len(chunks))
                report.chunks_embedded += len(chunks)
                report.tokens_embedded += int(row["tokens"])
                report.embed_seconds += float(row["seconds"])
                extra["embedder_engine"] = str(row["engine"]) or None
                (report.updated if old else report.added).append(source)
                dirty, since_publish = True, since_publish + len(chunks)
                due = time.monotonic() - published_at >= batching.seconds
                if since_publish >= batching.chunks or due:
                    writer.publish(dim=width, extra=extra)
                    since_publish, published_at, dirty = 0, time.monotonic(), False
            if document_vectors and isinstance(writer, DocumentVectorWriter):
                # what the workers did not embed whole (documents indexed before this run,
                # or before document vectors), if the collection is mostly short
                dirty |= backfill(writer, model, None, chunking, batch_size, report, meter)
        finally:
            meter.close()
        report.documents, report.chunks = writer.counts()
        if dirty or (plan.fresh and writer.published == 0):
            dim = dim or writer.dim or model().dim
            writer.commit(dim=dim, extra=extra)
    report.seconds = time.perf_counter() - started
    return report


def load_width(row: dict[str, Any], chunks: list[Chunk]) -> int:
    """The vectors' dimension, from the first embedded document's bytes."""
    return len(row["vectors"]) // 4 // max(1, len(chunks))


def _document(raw: str) -> Document:
    fields = json.loads(raw)
    fields["pages"] = tuple(tuple(p) for p in fields["pages"])
    fields["boilerplate"] = tuple(tuple(p) for p in fields["boilerplate"])
    return Document(**fields)


def _prepare(
    files: list[tuple[Path, str, os.stat_result]],
    known: dict[str, tuple[str, int, float]],
    spec: str,
    chunking: ChunkingSettings,
    batch_size: int,
    max_bytes: int,
    address: str,
    workers: int | None,
    whole: bool,
) -> Any:
    """(position in `files`, prepared row) in file order, as Ray finishes them."""
    import ray

    start(address, workers)
    actors = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    items = [
        {"i": i, "path": str(p), "source": s, "old": known.get(s, ("",))[0]}
        for i, (p, s, _) in enumerate(files)
    ]
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # results in file order
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    blocks = max(1, -(-len(items) // FILES_PER_BATCH))  # one block per batch: all actors work
    dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        Prepare,
        fn_constructor_kwargs={
            "spec": spec, "chunking": chunking_manifest(chunking), "batch_size": batch_size,
            "max_bytes": max_bytes, "whole": whole,
        },
        batch_size=FILES_PER_BATCH, concurrency=actors, num_cpus=1, batch_format="numpy",
    )  # fmt: skip
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for j, i in enumerate(batch["i"]):
            yield int(i), {k: v[j] for k, v in batch.items()}
