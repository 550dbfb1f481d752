"""The scaling benchmark runs end to end at a tiny size (a smoke test: no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_scale_bench_quick(e5_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "results" / "scale.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/scale.py",
            "--quick",
            "--index",
            str(e5_index),
            "--workdir",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert [r["chunks"] for r in results["sizes"]] == [200, 500]
    for row in results["sizes"]:
        assert row["index_type"] == "flat"
        assert row["load_s"] > 0 and row["disk_mb"] > 0
        for mode in ("dense", "bm25", "hybrid", "ask"):
            assert 0 < row[mode]["p50"] <= row[mode]["p95"] <= row[mode]["p99"]
    exact = [r for r in results["index_type"] if r["index"] == "flat"]
    assert exact and all(r["recall@10"] == 1.0 for r in exact)
    assert {"hnsw-sq8", "ivf-sq8", "hnsw-flat"} <= {r["index"] for r in results["index_type"]}
    assert (out.parent / "scale.md").read_text().startswith("| chunks |")
    assert (out.parent / "scale.png").stat().st_size > 0
