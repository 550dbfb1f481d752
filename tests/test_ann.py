"""The index type follows the index size: exact below the crossover, HNSW-SQ8 above, and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.settings import ChunkingConfig
from embeddings import ann
from embeddings.embedders import FakeEmbedder
from embeddings.indexer import index_paths
from embeddings.store import Index

WORDS = ["rivier", "dijk", "polder", "water", "boot", "fiets", "trein", "kaas"]
WORDS += ["tulp", "molen", "river", "ship", "cheese", "mill"]


def write_corpus(folder: Path, n_files: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        sentences = [
            " ".join(rng.choice(WORDS, 8)).capitalize() + f" nummer {i} zin {j}." for j in range(12)
        ]
        (folder / f"doc{i:03d}.txt").write_text(" ".join(sentences), encoding="utf-8")


def build(folder: Path, root: Path) -> Index:
    index_paths(
        [folder],
        root,
        lambda: FakeEmbedder(32),
        "fake:32",
        ChunkingConfig(max_tokens=24, overlap_tokens=0),
        progress=False,
    )
    return Index(root)


def test_flat_becomes_hnsw_and_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "ANN_MIN_CHUNKS", 300)
    folder, root = tmp_path / "docs", tmp_path / "index"
    write_corpus(folder, 10)
    small = build(folder, root)
    assert small.manifest["index_type"] == ann.FLAT and len(small) < 300

    write_corpus(folder, 60)
    big = build(folder, root)
    assert len(big) >= 300
    assert big.manifest["index_type"] == ann.HNSW_SQ8 == ann.index_type(big.faiss)

    # the graph against exact search over its stored (8-bit) vectors
    rows = np.asarray([c.row for c in big.iter_chunks()])
    matrix = big.vectors(list(rows))
    q = FakeEmbedder(32).embed_query("kaas molen nummer 7")
    exact = rows[np.argsort(-(matrix @ q))[:10]]
    got = [r for r, _ in big.search(q, 10)]
    assert len(set(got) & set(exact)) >= 9

    # a filter that leaves few rows is searched exactly, whatever the index type
    allowed = rows[::7]
    filtered = big.search(q, 5, allowed)
    best = allowed[np.argsort(-(big.vectors(list(allowed)) @ q))[:5]]
    assert [r for r, _ in filtered] == list(best)

    # below half the crossover the index goes back to exact search
    for path in sorted(folder.glob("*.txt"))[10:]:
        path.unlink()
    shrunk = build(folder, root)
    assert len(shrunk) < 150 and shrunk.manifest["index_type"] == ann.FLAT
    assert shrunk.manifest["tombstones"] == 0
    kept = {c.row for c in shrunk.iter_chunks()}
    assert {r for r, _ in shrunk.search(q, len(shrunk))} == kept


def test_removed_rows_are_tombstones_until_the_graph_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ann, "ANN_MIN_CHUNKS", 100)
    folder, root = tmp_path / "docs", tmp_path / "index"
    write_corpus(folder, 40)
    before = build(folder, root)
    assert before.manifest["index_type"] == ann.HNSW_SQ8
    q = FakeEmbedder(32).embed_query("rivier dijk")

    # a few removed files: their rows stay in the graph as tombstones and are never found
    gone = sorted(folder.glob("*.txt"))[:3]
    gone_rows = {c.row for c in before.iter_chunks() if c.source in {str(p) for p in gone}}
    for path in gone:
        path.unlink()
    after = build(folder, root)
    assert after.manifest["index_type"] == ann.HNSW_SQ8
    assert set(after.tombstones.tolist()) == gone_rows
    assert len(after) == len(before) - len(gone_rows) == after.manifest["chunks"]
    found = {r for r, _ in after.search(q, len(after))}
    assert not gone_rows & found and found == {c.row for c in after.iter_chunks()}

    # row ids are never reused: a new file's chunks get new ids, not the tombstones'
    (folder / "new.txt").write_text("Rivier dijk polder water boot. " * 5, encoding="utf-8")
    grown = build(folder, root)
    new_rows = {c.row for c in grown.iter_chunks() if c.source.endswith("new.txt")}
    assert new_rows and min(new_rows) > max(c.row for c in before.iter_chunks())

    # past MAX_TOMBSTONES the graph is rebuilt from the live rows
    for path in sorted(folder.glob("doc*.txt"))[:8]:
        path.unlink()
    rebuilt = build(folder, root)
    assert rebuilt.manifest["index_type"] == ann.HNSW_SQ8
    assert rebuilt.manifest["tombstones"] == 0 and len(rebuilt.tombstones) == 0
    assert rebuilt.faiss.ntotal == len(rebuilt) == rebuilt.manifest["chunks"]
