"""bench/api_latency.py runs end to end with --quick on a small index (a smoke test: shapes
and sane values; no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_bench_smoke import _bench


@pytest.mark.slow  # a benchmark's smoke run (real server, many requests), like test_bench_smoke's
def test_api_latency_quick(small_index: Path, tmp_path: Path) -> None:
    result = _bench("api_latency", tmp_path / "out", "--index", str(small_index))
    assert result["questions"] == 3 and result["answerer"] == "extractive"
    assert len(result["per_question"]) == 3
    for row in result["per_question"]:
        assert 0 < row["first_token_ms"] <= row["total_ms"] and row["chars"] > 0
    assert result["first_token_ms"]["p50"] <= result["first_token_ms"]["p95"]
    assert result["total_ms"]["p50"] <= result["total_ms"]["p95"]
    assert "first token" in (tmp_path / "out" / "api_latency.md").read_text()
