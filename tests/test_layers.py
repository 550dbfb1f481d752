"""The project's layers: frontends/ (the CLI, the server, the chat's handlers, the terminal
chat) and app.py (the Gradio layout) on top, then eval/, then qa/, qa/ on embeddings/, and
everything on citeqa/ (settings, errors); nothing imports upward, and the library imports no
front-end library (Gradio, FastAPI, Typer, MCP, ...). Checked on the source (every import
statement, lazy ones inside functions too), so it holds for code paths no other test runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

FRONT = {"app", "frontends"}
# What each library package must never import: the layers above it.
ABOVE = {
    "citeqa": FRONT | {"eval", "qa", "embeddings"},  # settings and errors: the base
    "embeddings": FRONT | {"eval", "qa"},
    "qa": FRONT | {"eval"},
    "eval": FRONT,
}
# The libraries only a front end may use: the library stays usable without them, and a
# front end's dependency never creeps into qa/ (not even lazily, inside a function).
FRONT_END_LIBRARIES = {
    "gradio",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "click",
    "mcp",
    "prompt_toolkit",
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


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_library_packages_import_no_front_end_library(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    found = {
        str(f.relative_to(ROOT)): sorted(imported_modules(f) & FRONT_END_LIBRARIES) for f in files
    }
    assert {f: names for f, names in found.items() if names} == {}


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os\n\ndef f():\n    from frontends.cli import app\n    import eval.runner\n"
        "    from gradio import Blocks\n"
    )
    assert imported_modules(source) == {"os", "frontends", "eval", "gradio"}


LIBRARY = ("citeqa", "embeddings", "qa", "eval", "frontends")


def library_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for the library packages, the front ends and app.py."""
    modules = {}
    for package in LIBRARY:
        for path in sorted((root / package).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    if (root / "app.py").is_file():
        modules["app"] = root / "app.py"
    return modules


def import_graph(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Who imports whom among `modules` (lazy and typing-only imports too), and every
    private name (`_x`) one module takes from another, as 'importer: module._x'."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    borrowed = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges[name] |= {a.name for a in node.names if a.name in modules} - {name}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module in modules and node.module != name:
                    edges[name].add(node.module)
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in modules and full != name:
                        edges[name].add(full)
                    elif node.module in modules and _private(alias.name):
                        borrowed.append(f"{name}: {full}")
    return edges, borrowed


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                found.append(sorted([v, *group]))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_and_no_borrowed_private_names() -> None:
    edges, borrowed = import_graph(library_modules())
    assert len(edges) > 40
    assert {"app", "frontends.cli.common", "frontends.server.api", "frontends.web.chat_ui"} <= set(
        edges
    )
    assert circles(edges) == []
    assert borrowed == []


def test_the_checks_see_a_circle_and_a_borrowed_name(tmp_path: Path) -> None:
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "a.py").write_text("from qa.b import thing\n")
    (tmp_path / "qa" / "b.py").write_text("def f():\n    from qa import a\n")
    (tmp_path / "qa" / "c.py").write_text("from qa.b import _private\n")
    edges, borrowed = import_graph(library_modules(tmp_path))
    assert circles(edges) == [["qa.a", "qa.b"]]
    assert borrowed == ["qa.c: qa.b._private"]
