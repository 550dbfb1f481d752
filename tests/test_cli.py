from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from qa.cli import app

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_index_then_search_json(small_corpus: Path, tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    result = invoke("index", str(small_corpus), "--index", ix, "--embedder", "fake:64", "-q")
    assert result.exit_code == 0, result.output
    assert "5 added" in result.output
    result = invoke("search", "bijdrage Rode Kruis", "--index", ix, "--json", "-k", "3")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["query"] == "bijdrage Rode Kruis"
    hit = payload["hits"][0]
    assert set(hit) == {
        "rank",
        "score",
        "chunk_id",
        "doc_id",
        "source",
        "title",
        "lang",
        "text",
        "start",
        "end",
    }
    assert hit["rank"] == 1 and hit["source"].endswith("nl_hulp.txt")
    assert Path(hit["source"]).read_text()[hit["start"] : hit["end"]] == hit["text"]
    assert [h["rank"] for h in payload["hits"]] == [1, 2, 3]


def test_second_run_embeds_nothing_and_says_so(small_corpus: Path, tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    invoke("index", str(small_corpus), "--index", ix, "--embedder", "fake:64", "-q")
    result = invoke("index", str(small_corpus), "--index", ix, "-q")
    assert "embedded 0 chunks" in result.output and "5 unchanged" in result.output


def test_index_env_var_is_the_default(small_corpus: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITEQA_INDEX", str(tmp_path / "envix"))
    invoke("index", str(small_corpus), "--embedder", "fake:64", "-q")
    assert (tmp_path / "envix" / "CURRENT").is_file()


def test_errors_are_one_clear_line(tmp_path: Path, small_corpus: Path) -> None:
    result = invoke("search", "anything", "--index", str(tmp_path / "none"))
    assert result.exit_code == 2
    assert "No index at" in result.output and "Traceback" not in result.output
    ix = str(tmp_path / "ix")
    invoke("index", str(small_corpus), "--index", ix, "--embedder", "fake:64", "-q")
    result = invoke("search", "x", "--index", ix, "--embedder", "fake:32")
    assert result.exit_code == 2 and "rebuild" in result.output
    result = invoke("index", str(tmp_path / "missing"), "--index", ix)
    assert result.exit_code == 2 and "no such file" in result.output
    result = invoke(
        "index",
        str(small_corpus),
        "--index",
        str(tmp_path / "new"),
        "--embedder",
        "sentence-transformers:/no/such/model",
    )
    assert result.exit_code == 2 and "never downloads" in result.output


def test_skipped_files_are_listed_and_set_the_exit_code(small_corpus: Path, tmp_path: Path) -> None:
    (small_corpus / "empty.txt").write_text("")
    result = invoke(
        "index", str(small_corpus), "--index", str(tmp_path / "ix"), "--embedder", "fake:64", "-q"
    )
    assert result.exit_code == 1
    assert "empty.txt: no text found" in result.output and "5 added" in result.output
