"""Damage every file of a generation (flipped bytes, truncations): loading and writing must
give one `IndexCorrupt` line or a correct index, never a crash or a traceback.

Runs in-process: every file's checksum is verified before FAISS, SQLite, numpy or scipy
parse anything, so no damaged byte reaches native code (a segfault would fail the run).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citeqa.settings import ChunkingConfig
from embeddings.embedders import FakeEmbedder
from embeddings.errors import IndexCorrupt
from embeddings.generations import live_generation
from embeddings.indexer import index_paths
from embeddings.store import Index

FLIPS_PER_FILE = 12
QUERIES = ("sluis kanaal", "cats sleep", "budget 2025")


def _cases(root: Path, seed: int = 15) -> Iterator[tuple[str, Path, bytes]]:
    """(case id, file, damaged bytes) for every file of the live generation and CURRENT."""
    rng = random.Random(seed)
    generation = live_generation(root)
    files = [*sorted(p for p in generation.rglob("*") if p.is_file()), root / "CURRENT"]
    for path in files:
        data = path.read_bytes()
        name = path.relative_to(root).as_posix()
        for _ in range(FLIPS_PER_FILE):
            at = rng.randrange(len(data))
            damaged = bytearray(data)
            damaged[at] ^= rng.randrange(1, 256)
            yield f"{name}: flip at {at}", path, bytes(damaged)
        for size in sorted({0, 1, len(data) // 2, len(data) - 1}):
            yield f"{name}: cut to {size}", path, data[:size]


def _answers(index: Index, embedder: FakeEmbedder) -> list[object]:
    out: list[object] = []
    for query in QUERIES:
        out.append(index.search(embedder.embed_query(query), 5))
        out.append(np.round(index.lexical.scores(query.split()), 5).tolist())
    out.append([(c.row, c.text) for c in index.iter_chunks()])
    return out


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("fuzz")
    docs = base / "docs"
    docs.mkdir()
    texts = {
        "a.txt": "De sluis ligt aan het kanaal. Schepen wachten bij de sluis.",
        "b.txt": "Cats sleep most of the day. A cat can sleep sixteen hours.",
        "c.txt": "The budget for 2025 is 4 billion euros. Parliament approved it.",
    }
    for name, text in texts.items():
        (docs / name).write_text(text, encoding="utf-8")
    index_paths(
        [docs],
        base / "index",
        lambda: FakeEmbedder(64),
        "fake:64",
        ChunkingConfig(max_tokens=16, overlap_tokens=4),
        progress=False,
    )
    return docs, base / "index"


def test_damaged_generations_give_one_line_or_a_correct_index(
    tiny_index: tuple[Path, Path],
) -> None:
    docs, root = tiny_index
    embedder = FakeEmbedder(64)
    good = Index(root)
    expected = _answers(good, embedder)
    good.close()
    cases = refused = 0
    flips_loaded: list[str] = []
    for case, path, damaged in _cases(root):
        original = path.read_bytes()
        path.write_bytes(damaged)
        try:
            for step in ("load", "write"):
                try:
                    if step == "load":
                        index = Index(root)
                        if ": flip at " in case:
                            flips_loaded.append(case)
                        assert _answers(index, embedder) == expected, f"{case}: wrong answers"
                        index.close()
                    else:  # `citeqa index` on the same folder: checks, then nothing to do
                        index_paths(
                            [docs],
                            root,
                            lambda: embedder,
                            "fake:64",
                            ChunkingConfig(max_tokens=16, overlap_tokens=4),
                            progress=False,
                        )
                except IndexCorrupt as exc:
                    message = str(exc)
                    assert "\n" not in message and "ebuild" in message, f"{case}: {message}"
                    refused += step == "load"
        finally:
            path.write_bytes(original)
        cases += 1
    print(f"{cases} damaged generations: {refused} refused, {cases - refused} loaded correctly")
    assert cases >= 200
    assert not flips_loaded  # every flipped byte is caught (by a checksum or a check)
    assert refused >= cases * 0.9  # almost every change is refused; the rest load correctly
    assert live_generation(root).name.startswith("gen-")  # nothing was rewritten
