"""`citeqa index --ray`: the same index as the single-process run (chunk ids, vectors)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from embeddings.embedders import load_embedder
from embeddings.indexer import ChunkingSettings, index_paths
from embeddings.store import Index

if importlib.util.find_spec("ray") is None:
    pytest.skip("needs the ray extra: pip install 'citeqa[ray]'", allow_module_level=True)

from embeddings.ray_ingest import index_paths_ray

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ray_local():
    import ray

    from embeddings.ray_ingest import start

    start("local", workers=2)
    yield
    ray.shutdown()


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for path in sorted((ROOT / "corpus").glob("*.txt"))[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    # two documents of a few passages beside two long ones: most documents fit a window,
    # so both runs also embed the short ones whole (their document vectors)
    (folder / "short.txt").write_text(
        " ".join(f"Sluice {i} on the canal opens at {i} o'clock for barges." for i in range(20)),
        encoding="utf-8",
    )
    (folder / "short2.txt").write_text(
        " ".join(f"De brug bij km {i} gaat om {i} uur open voor schepen." for i in range(20)),
        encoding="utf-8",
    )
    return folder


@pytest.mark.slow
def test_ray_gives_the_single_process_index(tmp_path: Path, ray_local: None) -> None:
    folder = _corpus(tmp_path)
    chunking = ChunkingSettings()
    spec = "e5-small-q4"
    single = index_paths(
        [folder], tmp_path / "single", lambda: load_embedder(spec), spec, chunking, progress=False
    )
    spread = index_paths_ray([folder], tmp_path / "ray", spec, "local", chunking, progress=False)
    assert spread.added == single.added and spread.skipped == single.skipped
    assert [p for p, _ in spread.skipped] == [str(folder / "broken.pdf")]
    a, b = Index(tmp_path / "single"), Index(tmp_path / "ray")
    rows_a = {c.chunk_id: c.row for c in a.iter_chunks()}
    rows_b = {c.chunk_id: c.row for c in b.iter_chunks()}
    assert rows_a == rows_b and len(rows_a) > 10
    ids = sorted(rows_a)
    va, vb = a.vectors([rows_a[i] for i in ids]), b.vectors([rows_b[i] for i in ids])
    cosine = (va * vb).sum(axis=1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vb, axis=1)
    assert cosine.min() >= 0.9999
    sources = [d.source for d in a.documents()]
    wa, wb = a.document_vectors(sources), b.document_vectors(sources)
    shorts = [str((folder / n).resolve()) for n in ("short.txt", "short2.txt")]
    assert sorted(wa) == sorted(wb) == shorts
    assert all(float(wa[s] @ wb[s]) >= 0.9999 for s in wa)
    assert spread.documents_embedded == single.documents_embedded == 2
    # the engine that embedded is recorded, so queries run in it (qa.factory.embedder_spec)
    assert b.manifest["embedder_engine"] == a.manifest["embedder_engine"]
    assert a.manifest["embedder_engine"]
    # incremental as before: nothing changed, nothing embedded, the engine kept
    again = index_paths_ray([folder], tmp_path / "ray", spec, "local", chunking, progress=False)
    assert again.unchanged == 4 and not again.changed and again.chunks_embedded == 0
    assert Index(tmp_path / "ray").manifest["embedder_engine"] == a.manifest["embedder_engine"]


@pytest.mark.slow
def test_ray_writes_to_milvus(tmp_path: Path, small_corpus: Path, ray_local: None) -> None:
    pytest.importorskip("pymilvus")
    from embeddings.milvus_store import MilvusStore

    chunking = ChunkingSettings(max_tokens=24, overlap_tokens=6)
    index_paths(
        [small_corpus], tmp_path / "single", lambda: load_embedder("fake:64"), "fake:64",
        chunking, progress=False,
    )  # fmt: skip
    spec = f"milvus:{tmp_path / 'm.db'}"
    report = index_paths_ray([small_corpus], spec, "fake:64", "local", chunking, progress=False)
    assert len(report.added) == 5
    milvus = {c.chunk_id for c in MilvusStore(spec).iter_chunks()}
    assert milvus == {c.chunk_id for c in Index(tmp_path / "single").iter_chunks()}
