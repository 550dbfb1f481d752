"""SIGKILL `citeqa index` at random moments: the previous index must still load and answer,
and the next run must finish the work. Also first builds killed part-way, a writer waiting
on a killed one, long batched runs killed again and again, and a really full disk."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings.embedders import FakeEmbedder
from embeddings.generations import live_generation
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
    command = [
        sys.executable,
        "-m",
        "frontends.cli",
        "index",
        str(docs),
        "--embedder",
        "fake:64",
        "-q",
    ]
    started = time.monotonic()  # a first build to kill updates of; its time scales the kills
    subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    full = time.monotonic() - started  # 8 s on a busy 2-core machine, 3 s on an idle one
    survived = 0
    for attempt in range(KILLS):
        # change the folder so every run has something to write
        (docs / f"d{attempt:03d}.txt").write_text(f"Nieuwe tekst {attempt} over sluizen.")
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.1, 1.2) * full)  # start-up, reading, embedding, commit, after
        process.send_signal(signal.SIGKILL)
        process.wait()
        index = Index(root)  # the previous generation (or the new one) loads
        q = FakeEmbedder(64).embed_query("sluis kanaal")
        assert index.search(q, 3), "a loadable index must answer"
        assert len(index) == index.faiss.ntotal == len(list(index.iter_chunks()))
        index.close()
        survived += 1
    assert survived == KILLS
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    final = Index(root)
    assert len(final.documents()) == 60
    assert len(list(root.glob("gen-*"))) <= 2  # crash leftovers are cleaned up


# A first build that embeds slowly, in its own process, so it can be killed part-way.
SLOW_BUILD = """
import sys, time
from pathlib import Path
from embeddings.embedders import FakeEmbedder
from embeddings.indexer import Batching, index_paths

class Slow(FakeEmbedder):
    def embed_documents(self, texts):
        time.sleep(float(sys.argv[4]))
        return super().embed_documents(texts)

index_paths([Path(sys.argv[1])], Path(sys.argv[2]), lambda: Slow(64), "fake:64",
            progress=False, batch_size=4, batching=Batching(chunks=int(sys.argv[3])))
"""


def _corpus(folder: Path, n: int = 60) -> None:
    rng = random.Random(3)
    words = ["water", "dijk", "molen", "polder", "gemaal", "sluis", "kanaal", "brug", "haven"]
    folder.mkdir()
    for i in range(n):
        body = " ".join(rng.choice(words) for _ in range(300)) + f". Document {i}."
        (folder / f"d{i:03d}.txt").write_text(body)


def _slow(docs: Path, root: Path, batch: int, pause: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_BUILD, str(docs), str(root), str(batch), str(pause)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _cli(*args: str, index: Path) -> subprocess.CompletedProcess[str]:
    from tests.conftest import citeqa

    return citeqa(*args, index=index, timeout=300)


def test_a_killed_first_build_is_repaired_by_index_rebuild_and_search(tmp_path: Path) -> None:
    docs, root = tmp_path / "docs", tmp_path / "index"
    _corpus(docs)
    for then in ("search", "index", "rebuild"):
        shutil.rmtree(root, ignore_errors=True)
        build = _slow(docs, root, batch=10**6, pause=0.2)  # one batch: nothing is published
        _wait_for(lambda: any(root.glob(".building-*")))
        time.sleep(0.5)
        build.send_signal(signal.SIGKILL if then != "index" else signal.SIGTERM)
        build.wait()
        assert not (root / "CURRENT").exists()
        if then == "search":
            done = _cli("search", "sluis", "--embedder", "fake:64", index=root)
            assert done.returncode == 2 and "No index at" in done.stderr, done.stderr
            assert len(done.stderr.strip().splitlines()) == 1
            continue
        extra = ["--rebuild"] if then == "rebuild" else []
        done = _cli("index", str(docs), "--embedder", "fake:64", "-q", *extra, index=root)
        assert done.returncode == 0, done.stderr
        assert len(Index(root).documents()) == 60
        assert not list(root.glob(".building-*")) and len(list(root.glob("gen-*"))) == 1


def test_a_writer_waiting_on_a_killed_first_build_finishes_it(tmp_path: Path) -> None:
    docs, root = tmp_path / "docs", tmp_path / "index"
    _corpus(docs)
    first = _slow(docs, root, batch=10**6, pause=0.3)
    _wait_for(lambda: any(root.glob(".building-*")))  # it holds the lock
    waiting = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", "index", str(docs), "--embedder", "fake:64", "-q"],
        env={**os.environ, "CITEQA_INDEX": str(root)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(5)  # the second writer has started and waits for the lock
    assert first.poll() is None, "the first build ended too soon to be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "60 added" in out
    assert len(Index(root).documents()) == 60


def test_a_long_batched_run_killed_again_and_again_resumes(tmp_path: Path) -> None:
    docs, root = tmp_path / "docs", tmp_path / "index"
    _corpus(docs)
    rng = random.Random(11)
    counts = []
    for _ in range(4):
        run = _slow(docs, root, batch=12, pause=0.1)
        _wait_for(lambda run=run: (root / "CURRENT").exists() or run.poll() is not None)
        time.sleep(rng.uniform(0.2, 2.0))
        run.send_signal(signal.SIGKILL)
        run.wait()
        index = Index(root)  # a published batch: complete, consistent, answers
        assert index.search(FakeEmbedder(64).embed_query("sluis kanaal"), 3)
        assert len(index) == index.faiss.ntotal == len(list(index.iter_chunks()))
        counts.append(len(index.documents()))
        index.close()
        assert len(list(root.glob("gen-*"))) <= 2
    assert counts == sorted(counts) and 0 < counts[-1] < 60  # each run went on from the last
    done = _cli("index", str(docs), "--embedder", "fake:64", "-q", index=root)
    assert done.returncode == 0, done.stderr
    assert f"{60 - counts[-1]} added" in done.stdout and f"{counts[-1]} unchanged" in done.stdout
    assert len(Index(root).documents()) == 60


# -- a full disk, for real: a small tmpfs (needs root to mount; else skipped) ---------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (the injected ENOSPC test runs anyway)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_is_one_line_with_its_own_exit_code(small_disk: Path, tmp_path: Path) -> None:
    docs, root = tmp_path / "docs", small_disk / "index"
    _corpus(docs, 20)
    done = _cli("index", str(docs), "--embedder", "fake:64", "-q", index=root)
    assert done.returncode == 0, done.stderr
    before = live_generation(root)
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * (free - 64 * 1024))  # 64 KiB left: less than a generation
    (docs / "new.txt").write_text("Een nieuw document over de sluis en het kanaal.")
    done = _cli("index", str(docs), "--embedder", "fake:64", "-q", index=root)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert f"at {small_disk}" in lines[0] and "needs at least" in lines[0], lines[0]
    assert live_generation(root) == before and len(Index(root).documents()) == 20
    assert not list(root.glob(".building-*"))
    filler.unlink()
    done = _cli("index", str(docs), "--embedder", "fake:64", "-q", index=root)
    assert done.returncode == 0, done.stderr
    assert len(Index(root).documents()) == 21
