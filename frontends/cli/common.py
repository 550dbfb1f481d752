"""What every `citeqa` command shares: the Typer app with its one error handler, the
options several commands take, settings from options over the environment and preset, and
the helpers that print safely to a terminal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from citeqa.errors import BadInput, CiteqaError
from citeqa.settings import PRESETS, Settings
from frontends.terminal import terminal_safe


class Commands(TyperGroup):
    """The one error handler: a `CiteqaError` from any command (or from checking its
    options) is one line on stderr and exit code 2 (DiskFull: 3), never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer._click.Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except CiteqaError as exc:
            fail(exc)


app = typer.Typer(
    cls=Commands,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # help text as written: "[default: 64]", "'citeqa[ray]'" kept
    help="Question answering over your documents, with checked citations.",
)


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"citeqa {version('citeqa')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("citeqa (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Question answering over your documents, with checked citations."""


IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory [default: $CITEQA_INDEX, else ./.citeqa/index]"),
]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help=f"Named settings: {' | '.join(PRESETS)}; the environment and options override "
        "them [default: $CITEQA_PRESET]",
    ),
]
EmbedderOpt = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="e5-small-q4 | sentence-transformers:<model path> | fake "
        "[default: the index's own; a new index gets e5-small-q4]",
    ),
]

KOpt = Annotated[
    int | None,
    typer.Option("-k", "--k", help="Passages to retrieve [default: retrieval.k, 5]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]


# The command-line option that sets each settings field, for one-line error messages.
_OPTIONS = {
    ("chunking", "max_tokens"): "--max-tokens",
    ("chunking", "overlap_tokens"): "--overlap-tokens",
    ("indexing", "max_file_mb"): "--max-file-mb",
    ("retrieval", "k"): "-k",
    ("retrieval", "mode"): "--mode",
    ("answer", "answerer"): "--answerer",
    ("answer", "llm"): "--llm",
    ("answer", "llm_base_url"): "--llm-base-url",
}


def settings_from(
    index: Path | None = None,
    embedder: str | None = None,
    preset: str | None = None,
    **nested: dict,
) -> Settings:
    """Settings from the preset, the environment over it, and the options given over both
    (None: not given).

    Every value is validated, from any source; a bad one ends the command with one line
    naming the option or variable, not a traceback.
    """
    try:
        settings = Settings(preset=preset) if preset else Settings()
    except ValidationError as exc:
        raise BadInput(invalid(exc, env=True)) from None
    update: dict = {}
    if index is not None:
        update["index"] = index
    if embedder is not None:
        update["embedder"] = embedder
    for name, values in nested.items():
        current = getattr(settings, name)
        given = {k: v for k, v in values.items() if v is not None}
        try:
            update[name] = type(current).model_validate({**current.model_dump(), **given})
        except ValidationError as exc:
            raise BadInput(invalid(exc, env=False, section=name, given=given)) from None
    return settings.model_copy(update=update)


def invalid(exc: ValidationError, env: bool, section: str = "", given: dict | None = None) -> str:
    """The first error of a validation, as `NAME VALUE: what is wrong`."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    if env:
        if len(loc) == 1 and isinstance(error.get("input"), dict):  # a check across fields
            return f"CITEQA_{loc[0].upper()}__*: {message}"
        return f"CITEQA_{'__'.join(loc).upper()}={error.get('input')!r}: {message}"
    given = given or {}
    named = [(_OPTIONS.get((section, k)), v) for k, v in given.items()]
    if loc and loc[0] in given:  # one field: name its option
        named = [(_OPTIONS.get((section, loc[0])), given[loc[0]])]
    shown = " ".join(f"{option} {value}" for option, value in named if option)
    return f"{shown or section}: {message}"


def fail(exc: Exception) -> NoReturn:
    typer.secho(f"citeqa: {terminal_safe(str(exc))}", err=True, fg=typer.colors.RED)
    raise typer.Exit(getattr(exc, "exit_code", 2))  # DiskFull has its own


def shown(source: str) -> str:
    """A document's path as the user would type it: relative to the working directory when
    below it (`corpus/004_….txt`), else as indexed. `--json` keeps the indexed path."""
    import os

    here = os.getcwd()
    try:
        inside = os.path.commonpath([source, here]) == here
    except ValueError:  # one relative, one absolute
        return source
    return os.path.relpath(source, here) if inside else source


def terminal_size() -> tuple[int, int]:
    import shutil

    size = shutil.get_terminal_size()
    return size.columns, size.lines


def json_line(payload: object) -> str:
    """One JSON line; C1 controls escaped too (json leaves them raw with ensure_ascii off)."""
    text = json.dumps(payload, ensure_ascii=False)
    return re.sub(
        "[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group()):04x}", text
    )


AnswererOpt = Annotated[str | None, typer.Option("--answerer", help="extractive | llm")]
LLMOpt = Annotated[str | None, typer.Option("--llm", help="openai:MODEL or ollama:MODEL")]
LLMUrlOpt = Annotated[
    str | None,
    typer.Option("--llm-base-url", help="OpenAI-compatible URL, e.g. http://127.0.0.1:8080/v1"),
]


def answer_settings(
    index: Path | None,
    embedder: str | None,
    answerer: str | None,
    llm: str | None,
    llm_base_url: str | None,
    k: int | None = None,
    preset: str | None = None,
) -> Settings:
    if answerer is not None and answerer not in ("extractive", "llm"):
        raise BadInput(f"unknown answerer {answerer!r}; choose extractive or llm")
    return settings_from(
        index,
        embedder,
        preset,
        answer={"answerer": answerer, "llm": llm, "llm_base_url": llm_base_url},
        retrieval={"k": k},
    )


__all__ = [
    "AnswererOpt",
    "EmbedderOpt",
    "IndexOpt",
    "JsonOpt",
    "KOpt",
    "LLMOpt",
    "LLMUrlOpt",
    "PresetOpt",
    "QuietOpt",
    "answer_settings",
    "app",
    "fail",
    "json_line",
    "settings_from",
    "shown",
    "terminal_size",
]
