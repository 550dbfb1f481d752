"""SIGKILL `citeqa index` at random moments: the previous index must still load and answer,
and the next run must finish the work."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embeddings.embedders import FakeEmbedder
from embeddings.errors import IndexNotFound
from embeddings.store import Index
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
KILLS = 12


def test_index_survives_sigkill_at_random_moments(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    rng = random.Random(7)
    words = [
        "water",
        "dijk",
        "molen",
        "polder",
        "gemaal",
        "sluis",
        "kanaal",
        "rivier",
        "brug",
        "haven",
        "schip",
    ]
    for i in range(60):
        body = " ".join(rng.choice(words) for _ in range(400)) + f". Document {i}."
        (docs / f"d{i:03d}.txt").write_text(body)
    root = tmp_path / "index"
    env = {**os.environ, "CITEQA_INDEX": str(root)}
    command = [sys.executable, "-m", "qa.cli", "index", str(docs), "--embedder", "fake:64", "-q"]
    survived = 0
    for attempt in range(KILLS):
        if attempt % 3 == 0:  # change the folder so every run has something to write
            (docs / f"d{attempt:03d}.txt").write_text(f"Nieuwe tekst {attempt} over sluizen.")
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.3, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        try:
            index = Index(root)
        except IndexNotFound:
            continue  # killed before the very first commit: nothing was ever promised
        q = FakeEmbedder(64).embed_query("sluis kanaal")
        assert index.search(q, 3), "a loadable index must answer"
        assert len(index) == index.faiss.ntotal == len(list(index.iter_chunks()))
        index.close()
        survived += 1
    assert survived >= KILLS // 2
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    final = Index(root)
    assert len(final.documents()) == 60
    assert len(list(root.glob("gen-*"))) <= 2  # crash leftovers are cleaned up
