"""Optional parts fail in one line that names the extra to install (pyproject.toml)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citeqa.errors import MissingExtra
from citeqa.extras import EXTRAS, require
from tests.conftest import ROOT


def test_every_extra_named_in_the_messages_exists() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(EXTRAS) <= set(extras["optional-dependencies"])
    core = " ".join(extras["dependencies"]).lower()
    for heavy in ("gradio", "fastapi", "sentence-transformers", "langchain", "ranx", "mcp"):
        assert heavy not in core


def test_a_missing_extra_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ranx", None)  # import ranx now raises ImportError
    with pytest.raises(
        MissingExtra, match=r"^citeqa eval's metrics .*pip install 'citeqa\[eval\]'$"
    ):
        require("ranx", "eval")


def test_cli_eval_without_the_eval_extra(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from frontends.cli import app

    monkeypatch.setitem(sys.modules, "ranx", None)
    monkeypatch.setitem(sys.modules, "ranx.metrics", None)
    dataset = ROOT / "tests" / "data" / "tiny-beir"
    result = CliRunner().invoke(app, ["eval", str(dataset), "--index", str(small_index)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].endswith("pip install 'citeqa[eval]'")


def test_check_finds_without_importing(monkeypatch: pytest.MonkeyPatch) -> None:
    from citeqa.extras import check

    check("json", "ui")
    with pytest.raises(MissingExtra, match=r"pip install 'citeqa\[ui\]'$"):
        check("no_such_module_here", "ui")
