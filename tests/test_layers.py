"""The project's layers: app.py and cli.py (the entry points) and eval/ sit on top of qa/, qa/
on embeddings/, and everything on citeqa/ (settings, errors); nothing imports upward. Checked
on the source (every import statement, lazy ones inside functions too), so it holds for code
paths no other test runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What each library package must never import: the layers above it.
ABOVE = {
    "citeqa": {"app", "cli", "eval", "qa", "embeddings"},  # settings and errors: the base
    "embeddings": {"app", "cli", "eval", "qa"},
    "qa": {"app", "cli", "eval"},
}


def imported_modules(path: Path) -> set[str]:
    """The top-level name of every module a file imports, anywhere in it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_library_packages_never_import_upward(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    upward = {str(f.relative_to(ROOT)): sorted(imported_modules(f) & ABOVE[package]) for f in files}
    assert {f: names for f, names in upward.items() if names} == {}


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from cli import app\n    import eval.runner\n")
    assert imported_modules(source) == {"os", "cli", "eval"}
