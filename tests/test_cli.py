from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontends.cli import app

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
    command = [sys.executable, "-m", "frontends.cli", "index", str(folder), "--index", str(index)]
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


# --- issue 15: option checks, terminal safety, filters, settings fallback ---------------------


@pytest.fixture
def fake_index(small_corpus: Path, tmp_path: Path) -> str:
    ix = str(tmp_path / "ix")
    result = invoke("index", str(small_corpus), "--index", ix, "--embedder", "fake:64", "-q")
    assert result.exit_code == 0, result.output
    return ix


def _one_line_error(result, needle: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("citeqa: "), result.output
    assert needle in lines[0] and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-tokens", "5"], "--max-tokens 5: Input should be greater than or equal to 16"),
        (["--max-tokens", "100000"], "--max-tokens 100000: Input should be less than or equal"),
        (["--max-tokens", "40", "--overlap-tokens", "40"], "must be below max_tokens"),
        (["--overlap-tokens", "100"], "--overlap-tokens 100: overlap_tokens (100) must be below"),
        (["--max-file-mb", "-1"], "--max-file-mb -1: Input should be greater than or equal to 1"),
        (["--max-file-mb", "0"], "--max-file-mb 0"),
    ],
)
def test_index_options_are_checked_in_one_line(
    small_corpus: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    ix = tmp_path / "ix"
    result = invoke("index", str(small_corpus), "--index", str(ix), "--embedder", "fake:64", *args)
    _one_line_error(result, needle)
    assert not ix.exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        (
            "CITEQA_RETRIEVAL__K",
            "abc",
            "CITEQA_RETRIEVAL__K='abc': Input should be a valid integer",
        ),
        ("CITEQA_RETRIEVAL__MODE", "fast", "CITEQA_RETRIEVAL__MODE='fast'"),
        ("CITEQA_CHUNKING__OVERLAP_TOKENS", "150", "CITEQA_CHUNKING__*: overlap_tokens (150)"),
        ("CITEQA_ANSWER__MIN_SUPPORT", "2", "CITEQA_ANSWER__MIN_SUPPORT='2'"),
        ("CITEQA_RETRIEVAL__TOP", "1", "CITEQA_RETRIEVAL__TOP='1': Extra inputs are not permitted"),
    ],
)
def test_a_bad_environment_value_is_one_line_not_a_traceback(
    fake_index: str, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(variable, value)
    _one_line_error(invoke("search", "dijk", "--index", fake_index), needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-k", "-1"], "-k -1: Input should be greater than or equal to 1"),
        (["-k", "0"], "-k 0"),
        (["-k", "101"], "-k 101: Input should be less than or equal to 100"),
        (["--lang", "xx"], "--lang xx: unknown language; choose nl, en, other"),
        (["--mode", "fast"], "--mode fast: Input should be 'hybrid', 'dense' or 'bm25'"),
    ],
)
def test_search_options_are_checked(fake_index: str, args: list[str], needle: str) -> None:
    _one_line_error(invoke("search", "bijdrage", "--index", fake_index, *args), needle)


def test_ask_k_is_checked(fake_index: str) -> None:
    _one_line_error(
        invoke("ask", "Hoeveel geeft Nederland?", "--index", fake_index, "-k", "-1"), "-k -1"
    )


def test_a_known_language_filters(fake_index: str) -> None:
    result = invoke(
        "search", "bijdrage Rode Kruis", "--index", fake_index, "--lang", "en", "--json"
    )
    assert result.exit_code == 0 and {h["lang"] for h in json.loads(result.output)["hits"]} == {
        "en"
    }


def test_source_filter_is_a_substring_not_a_like_pattern(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {
        "004_dijk.txt": "De dijk bij Almere is drie meter hoog.",
        "a00_dijk.txt": "Een dijk in Zeeland brak in 1953 door.",
        "50%_dijk.txt": "Deze dijk langs de Waal wordt verzwaard.",
        "x04_dijk.txt": "Wie betaalt de dijk? Het waterschap.",
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    ix = str(tmp_path / "ix")
    invoke("index", str(folder), "--index", ix, "--embedder", "fake:64", "-q")

    def sources(pattern: str) -> set[str]:
        result = invoke("search", "dijk", "--index", ix, "--source", pattern, "--json", "-k", "10")
        assert result.exit_code == 0, result.output
        return {Path(h["source"]).name for h in json.loads(result.output)["hits"]}

    assert sources("00_") == {"a00_dijk.txt"}  # `_` is no wildcard: 004_ does not match
    assert sources("0%_") == {"50%_dijk.txt"}  # nor is `%`
    assert sources("04_") == {"004_dijk.txt", "x04_dijk.txt"}
    assert sources("\\") == set()


_HOSTILE = (
    "Dijken beschermen het land.\x1b]0;pwned\x07 Kopieer dit\x1b]52;c;ZWNobyBoaQ==\x07 nu. "
    "Rood\x1b[31m en \x9b2J weg. Omgekeerd \u202egnissalb\u202c tekst."
)


def test_escape_sequences_from_documents_do_not_reach_the_terminal(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "title\x1b]0;x\x07.txt").write_text(_HOSTILE, encoding="utf-8")
    (folder / "bad\x1b[2J.docx").write_bytes(b"not a zip")
    ix = str(tmp_path / "ix")
    outputs = [invoke("index", str(folder), "--index", ix, "--embedder", "fake:64", "-q").output]
    assert "skipped" in outputs[0]
    outputs.append(invoke("search", "dijken beschermen land", "--index", ix).output)
    outputs.append(invoke("search", "dijken beschermen land", "--index", ix, "--json").output)
    outputs.append(invoke("ask", "Wat beschermen dijken?", "--index", ix).output)
    outputs.append(invoke("ask", "Wat beschermen dijken?", "--index", ix, "--json").output)
    for output in outputs:
        assert not any(ch in output for ch in "\x1b\x07\x9b\u202e\u202c"), repr(output)
    assert "\\x1b]0;pwned\\x07" in outputs[1]  # shown, written out
    payload = json.loads(outputs[2])
    assert payload["hits"][0]["text"] == _HOSTILE  # JSON keeps the exact text, escaped


def test_search_and_ask_fall_back_to_the_settings(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: options left unset take the settings (env); once through the real command
    line (`CITEQA_RETRIEVAL__K=3 citeqa search … --json`), the rest in-process."""
    from tests.conftest import citeqa

    ix = tmp_path / "ix"
    monkeypatch.setenv("CITEQA_INDEX", str(ix))
    assert invoke("index", str(small_corpus), "--embedder", "fake:64", "-q").exit_code == 0

    def hits(*args: str) -> list[dict]:
        done = invoke("search", "bijdrage Rode Kruis euro", "--json", *args)
        assert done.exit_code == 0, done.output
        return list(json.loads(done.stdout)["hits"])

    hybrid, dense = hits(), hits("--mode", "dense")
    assert len(hybrid) == 5 and [h["score"] for h in hybrid] != [h["score"] for h in dense]
    monkeypatch.setenv("CITEQA_RETRIEVAL__K", "3")
    done = citeqa("search", "bijdrage Rode Kruis euro", "--json", index=ix)
    assert done.returncode == 0 and len(json.loads(done.stdout)["hits"]) == 3, done.stderr
    assert len(hits()) == 3
    assert len(hits("-k", "2")) == 2  # an option given still wins
    monkeypatch.setenv("CITEQA_RETRIEVAL__MODE", "dense")
    assert [(h["chunk_id"], h["score"]) for h in hits()] == [
        (h["chunk_id"], h["score"]) for h in dense[:3]
    ]
    done = invoke("ask", "Hoeveel geeft Nederland aan het Rode Kruis?", "--json")
    assert done.exit_code == 0, done.output
    assert len(json.loads(done.stdout)["citations"]) <= 3


def test_index_reports_documents_embedded_whole_and_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):  # short documents of a few passages each (100-token passages)
        (docs / f"d{i}.txt").write_text(
            " ".join(f"Dike {i}.{j} on the river was raised by {j} metres." for j in range(30))
        )
    ix = str(tmp_path / "ix")
    result = invoke("index", str(docs), "--index", ix, "--embedder", "fake:64", "-q")
    assert result.exit_code == 0, result.output
    assert "and 3 short documents whole" in result.output
    monkeypatch.setenv("CITEQA_INDEXING__DOCUMENT_VECTORS", "false")
    result = invoke("index", str(docs), "--index", ix, "--embedder", "fake:64", "-q")
    assert result.exit_code == 0, result.output
    assert "dropped 3 whole-document vectors" in result.output
    assert "nothing changed" not in result.output


def test_version_and_help_that_keeps_its_brackets() -> None:
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0 and done.output.startswith("citeqa ")
    text = " ".join(runner.invoke(app, ["index", "--help"]).output.split())
    assert "MiB [default: 64]" in text  # rich markup used to eat "[default: 64]"
    assert "pip install 'citeqa[ray]'" in text


def test_a_dutch_refusal_has_a_dutch_header(
    fake_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEQA_ANSWER__MIN_EVIDENCE", "1.0")  # every question refused
    out = invoke("ask", "Hoeveel geeft Nederland aan het Rode Kruis?", "--index", fake_index)
    assert "verwant (de dichtstbijzijnde passages, geen bronnen):" in out.output, out.output
    assert "related (closest" not in out.output


def test_sources_are_shown_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from frontends.cli.common import shown as _shown

    monkeypatch.chdir(tmp_path)
    inside = str(tmp_path / "corpus" / "a.txt")
    assert _shown(inside) == "corpus/a.txt"
    assert _shown("/elsewhere/b.txt") == "/elsewhere/b.txt"
    assert _shown(str(tmp_path) + "-other/c.txt").startswith("/")  # a sibling, not below
