"""Compiled models on disk: the cache's files (fast), then (slow) the real e5 graph imported
from it without being rebuilt, a damaged file compiled anew, and the CLI's cache in the index."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from embeddings.compiled_cache import CompiledCache, file_identity, source_digest


def test_store_then_load(tmp_path: Path) -> None:
    cache = CompiledCache(tmp_path / "index" / "cache")
    assert cache.load("e5", "k1") is None
    cache.store("e5", "k1", b"compiled")
    assert cache.load("e5", "k1") == b"compiled"
    assert [p.name for p in cache.folder.iterdir()] == ["e5-k1.ov"]


def test_a_new_key_replaces_the_stale_file_of_that_name_only(tmp_path: Path) -> None:
    cache = CompiledCache(tmp_path)
    cache.store("e5", "old", b"1")
    cache.store("reader", "r", b"2")
    cache.store("e5", "new", b"3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e5-new.ov", "reader-r.ov"]
    cache.forget("e5", "new")
    assert cache.load("e5", "new") is None


def test_a_folder_that_cannot_be_written_is_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder should be")
    cache = CompiledCache(blocked)
    with caplog.at_level(logging.INFO, logger="embeddings.compiled_cache"):
        cache.store("e5", "k", b"compiled")
    assert cache.load("e5", "k") is None
    assert "not cached" in caplog.text
    assert blocked.read_text() == "a file where the folder should be"  # nothing lost
    assert list(tmp_path.iterdir()) == [blocked]  # no temporary file left


def test_keys_change_with_the_file_and_the_code(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"one")
    before = file_identity(model)
    model.write_bytes(b"two!")
    assert file_identity(model) != before
    code = tmp_path / "graph.py"
    code.write_text("x = 1")
    digest = source_digest(code)
    code.write_text("x = 2")
    assert source_digest(code) != digest


@pytest.mark.slow
def test_e5_graph_is_imported_from_the_cache_without_being_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("openvino")
    from embeddings import onnx_e5

    cache = CompiledCache(tmp_path / "cache")
    texts = ["De minister schreef over Gaza.", "It rained in Amsterdam."]
    built = onnx_e5.E5Graph("openvino", 2, cache).embed(texts, is_query=False)
    files = list(cache.folder.iterdir())
    assert len(files) == 1 and files[0].stat().st_size > 10_000_000

    def no_build(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the graph was built although a compiled one was cached")

    monkeypatch.setattr(onnx_e5, "build_graph", no_build)
    imported = onnx_e5.E5Graph("openvino", 2, cache).embed(texts, is_query=False)
    np.testing.assert_allclose(imported, built, atol=1e-6)

    # a damaged file: a warning, then the graph is built and compiled again
    monkeypatch.undo()
    files[0].write_bytes(b"not a compiled model")
    with caplog.at_level(logging.WARNING):
        again = onnx_e5.E5Graph("openvino", 2, cache).embed(texts, is_query=False)
    assert "not used" in caplog.text
    np.testing.assert_allclose(again, built, atol=1e-6)
    assert files[0].stat().st_size > 10_000_000  # replaced by a good one


@pytest.mark.slow
def test_search_keeps_its_compiled_model_in_the_index(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    from typer.testing import CliRunner

    from frontends.cli import app

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("De minister schreef over Gaza en de humanitaire hulp.")
    index = tmp_path / "index"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(docs), "--index", str(index)]).exit_code == 0
    cached = sorted(p.name for p in (index / "cache").iterdir())
    assert len(cached) == 1 and cached[0].startswith("e5-small-")
    (docs / "b.txt").write_text("It rained in Amsterdam on Monday.")
    assert runner.invoke(app, ["index", str(docs), "--index", str(index)]).exit_code == 0
    result = runner.invoke(app, ["search", "Gaza", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "Gaza" in result.output
    assert sorted(p.name for p in (index / "cache").iterdir()) == cached  # kept, reused
