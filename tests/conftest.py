"""Shared fixtures: a small bilingual corpus on disk and indexes built with the fake embedder."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citeqa.settings import ChunkingConfig
from embeddings.embedders import FakeEmbedder
from embeddings.indexer import index_paths

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

DOCS = {
    "nl_hulp.txt": (
        "Hulp aan Gaza\n\n"
        "Nederland geeft een extra bijdrage van 3 miljoen euro aan het Rode Kruis. "
        "Het geld gaat naar medische hulp in de Gazastrook.\n\n"
        "De minister noemde de situatie onverdraaglijk."
    ),
    "en_weather.md": (
        "# Weather report\n\nIt rained in Amsterdam on Monday. "
        "The temperature was twelve degrees. Wind came from the west."
    ),
    "en_cats.txt": "Cats sleep most of the day. A cat can sleep sixteen hours. Kittens play.",
    "nl_fiets.txt": "De fiets is populair in Nederland. Er zijn meer fietsen dan mensen.",
    "sub/en_budget.txt": "The budget for 2025 is 4 billion euros. Parliament approved it in June.",
}


@pytest.fixture(autouse=True)
def _quiet_bm25s() -> None:
    import bm25s  # noqa: F401

    logging.getLogger("bm25s").setLevel(logging.WARNING)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder(64)


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    for name, text in DOCS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_index(tmp_path: Path, small_corpus: Path, fake_embedder: FakeEmbedder) -> Path:
    root = tmp_path / "index"
    index_paths(
        [small_corpus],
        root,
        lambda: fake_embedder,
        "fake:64",
        ChunkingConfig(max_tokens=24, overlap_tokens=6),
        progress=False,
    )
    return root


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def citeqa(*args: str, index: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would."""
    env = {**os.environ, "CITEQA_INDEX": str(index)}
    return subprocess.run(
        [sys.executable, "-m", "frontends.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def e5_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus indexed with the real default embedder, through the CLI."""
    root = tmp_path_factory.mktemp("e5") / "index"
    done = citeqa("index", str(CORPUS), index=root)
    assert done.returncode == 0, done.stderr
    assert "5 added" in done.stdout
    return root
