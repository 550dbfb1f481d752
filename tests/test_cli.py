from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def test_max_file_mb_is_a_setting_and_the_reason_says_how_to_raise_it(
    small_corpus: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    (small_corpus / "long.txt").write_text("Een lange tekst over dijken. " * 55_000)  # 1.5 MiB
    ix = str(tmp_path / "ix")
    result = invoke("index", str(small_corpus), "--index", ix, "--embedder", "fake:64", "-q",
                    "--max-file-mb", "1")  # fmt: skip
    assert result.exit_code == 1
    assert "long.txt: file is 1.5 MiB, over the 1 MiB limit; to index it, raise the limit: " \
        "--max-file-mb 2 or CITEQA_INDEXING__MAX_FILE_MB=2" in result.output  # fmt: skip
    assert "5 added" in result.output
    monkeypatch.setenv("CITEQA_INDEXING__MAX_FILE_MB", "2")
    result = invoke("index", str(small_corpus), "--index", ix, "-q")
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "skipped" not in result.output


# Runs a command and writes its peak RSS (KiB) to a file: RUSAGE_CHILDREN of this small
# wrapper covers that one command, not every process the test session started before.
_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def _index_with_peak_rss(folder: Path, index: Path, tmp_path: Path) -> tuple[str, int, float]:
    import subprocess
    import sys

    from tests.conftest import ROOT

    peak = tmp_path / f"peak-{index.name}"
    command = [sys.executable, "-m", "qa.cli", "index", str(folder), "--index", str(index)]
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(peak), *command, "--embedder", "fake:64", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout, done.returncode, int(peak.read_text()) / 1024


@pytest.mark.slow  # about 5 s: writes 200 MB, indexes twice in a subprocess
def test_a_200_mb_text_file_is_skipped_with_bounded_memory(
    small_corpus: Path, tmp_path: Path
) -> None:
    """Issue 7: a 200 MB file is skipped with a one-line reason; the rest is indexed; the
    process never holds the file (its peak RSS grows far less than 200 MB)."""
    out, code, baseline_mib = _index_with_peak_rss(small_corpus, tmp_path / "base", tmp_path)
    assert code == 0 and "5 added" in out
    big = small_corpus / "big.txt"
    line = b"De dijk bij Almere werd in 1700 gebouwd en is drie meter hoog.\n"
    block = line * (2**20 // len(line))
    with big.open("wb") as handle:  # real bytes on disk, not a sparse file
        while handle.tell() < 200_000_000:
            handle.write(block)
        handle.truncate(200_000_000)
    out, code, peak_mib = _index_with_peak_rss(small_corpus, tmp_path / "big", tmp_path)
    assert code == 1  # the exit code says a file was skipped
    assert "5 added" in out and "1 file(s) skipped" in out
    assert f"skipped {big}: file is 190.7 MiB, over the 64 MiB limit; to index it, raise " \
        "the limit: --max-file-mb 191 or CITEQA_INDEXING__MAX_FILE_MB=191" in out  # fmt: skip
    print(f"peak RSS {baseline_mib:.0f} MiB without the big file, {peak_mib:.0f} MiB with it")
    assert peak_mib - baseline_mib < 50, (baseline_mib, peak_mib)


def test_an_unreadable_file_or_folder_keeps_what_was_indexed(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from embeddings.store import Index

    ix = str(tmp_path / "ix")
    invoke("index", str(small_corpus), "--index", ix, "--embedder", "fake:64", "-q")
    changed = small_corpus / "en_cats.txt"
    changed.write_text("Cats sleep a lot. This new version cannot be read.")
    opener, scandir = Path.open, os.scandir

    def open_(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "en_cats.txt":
            raise PermissionError(13, "Permission denied")
        return opener(self, *args, **kwargs)

    def scandir_(path):  # type: ignore[no-untyped-def]
        if isinstance(path, str | os.PathLike) and Path(path).name == "sub":
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(Path, "open", open_)  # tests run as root: chmod would not stop them
    monkeypatch.setattr(os, "scandir", scandir_)
    result = invoke("index", str(small_corpus), "--index", ix, "-q")
    assert result.exit_code == 1
    assert "en_cats.txt: permission denied" in result.output
    assert "sub: cannot list the folder: Permission denied" in result.output
    assert "0 removed" in result.output and "5 documents" in result.output
    texts = " ".join(c.text for c in Index(Path(ix)).iter_chunks())
    assert "sixteen hours" in texts and "cannot be read" not in texts  # the old version
    assert "4 billion euros" in texts  # sub/en_budget.txt, in the folder that was refused
