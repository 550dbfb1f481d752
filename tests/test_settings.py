"""Settings are the one source: every CITEQA_* value reaches the CLI, the UI and the API, and a
preset sits below the environment and the options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from typer.testing import CliRunner

from citeqa.errors import BadInput, CiteqaError
from citeqa.settings import PRESETS, Settings, preset_values

# A value other than the default for every setting, as the environment spells it.
ENV = {
    "CITEQA_EMBEDDER": "fake:32",
    "CITEQA_EMBED_THREADS": "2",
    "CITEQA_COMPILED_CACHE": "False",
    "CITEQA_CHUNKING__MAX_TOKENS": "101",
    "CITEQA_CHUNKING__OVERLAP_TOKENS": "21",
    "CITEQA_INDEXING__MAX_FILE_MB": "65",
    "CITEQA_INDEXING__MAX_FILE_SECONDS": "31.5",
    "CITEQA_INDEXING__BATCH_CHUNKS": "5001",
    "CITEQA_INDEXING__BATCH_MINUTES": "2.5",
    "CITEQA_INDEXING__PROGRESS_SECONDS": "2.5",
    "CITEQA_INDEXING__DOCUMENT_VECTORS": "False",
    "CITEQA_RETRIEVAL__MODE": "dense",
    "CITEQA_RETRIEVAL__K": "3",
    "CITEQA_RETRIEVAL__POOL": "101",
    "CITEQA_RETRIEVAL__RRF_K": "61",
    "CITEQA_RETRIEVAL__FUSION": "rrf",
    "CITEQA_RETRIEVAL__GRANULARITY": "chunk",
    "CITEQA_RETRIEVAL__DOCUMENT_VECTOR": "mean",
    "CITEQA_RETRIEVAL__MEAN_UP_TO": "4",
    "CITEQA_RETRIEVAL__DOCUMENT_WEIGHT": "1.5",
    "CITEQA_RETRIEVAL__QUERY_STEMMING": "both",
    "CITEQA_RETRIEVAL__DEDUP_THRESHOLD": "0.4",
    "CITEQA_ANSWER__ANSWERER": "llm",
    "CITEQA_ANSWER__LLM": "openai:other",
    "CITEQA_ANSWER__LLM_BASE_URL": "http://127.0.0.1:9/v1",
    "CITEQA_ANSWER__LLM_TIMEOUT": "30.5",
    "CITEQA_ANSWER__LLM_MAX_TOKENS": "401",
    "CITEQA_ANSWER__MAX_SENTENCES": "4",
    "CITEQA_ANSWER__READER": "False",
    "CITEQA_ANSWER__READER_WEIGHT": "0.5",
    "CITEQA_ANSWER__MIN_EVIDENCE": "0.5",
    "CITEQA_ANSWER__MIN_SUPPORT": "0.4",
}


def leaf_fields(model: type[BaseModel], prefix: str = "CITEQA_") -> set[str]:
    out = set()
    for name, info in model.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            out |= leaf_fields(nested, f"{prefix}{name.upper()}__")
        else:
            out.add(f"{prefix}{name.upper()}")
    return out


def as_set(settings: Settings) -> dict[str, Any]:
    """The settings as the environment names them (values as strings)."""
    out = {}
    for var in ENV:
        value: Any = settings
        for part in var.removeprefix("CITEQA_").lower().split("__"):
            value = getattr(value, part)
        out[var] = str(value)
    return out


class Captured(CiteqaError):
    pass


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    values = {**ENV, "CITEQA_INDEX": str(tmp_path / "index")}
    for var, value in values.items():
        monkeypatch.setenv(var, value)
    return values


def test_the_table_names_every_setting() -> None:
    assert leaf_fields(Settings) - {"CITEQA_INDEX", "CITEQA_PRESET"} == set(ENV)


def test_every_env_setting_reaches_the_cli(env: dict[str, str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import qa.factory
    from frontends.cli import app

    seen: list[Settings] = []

    def capture(settings: Settings, *args: Any) -> Any:
        seen.append(settings)
        raise Captured("captured")

    monkeypatch.setattr(qa.factory, "open_retriever", capture)
    monkeypatch.setattr(qa.factory, "open_service", capture)
    for command in (["search", "x"], ["ask", "x"], ["mcp"]):
        result = CliRunner().invoke(app, command)
        assert "captured" in result.output, result.output
    assert len(seen) == 3
    for settings in seen:
        assert as_set(settings) == ENV
        assert str(settings.index) == env["CITEQA_INDEX"]


def test_every_env_setting_reaches_the_ui_and_api_server(env: dict[str, str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import qa.factory
    from frontends.server import serving

    seen: list[Settings] = []

    def capture(settings: Settings, *args: Any) -> Any:
        seen.append(settings)
        raise Captured("captured")

    monkeypatch.setattr(qa.factory, "pin_and_open", capture)
    with pytest.raises(Captured):
        serving.serve(None, "127.0.0.1", 0)  # what `citeqa serve` runs
    assert as_set(seen[0]) == ENV


def test_the_ui_and_the_api_default_to_the_settings(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app
    from frontends.server import api
    from qa.factory import open_service

    monkeypatch.setenv("CITEQA_RETRIEVAL__K", "2")
    monkeypatch.setenv("CITEQA_RETRIEVAL__MODE", "bm25")
    service = open_service(Settings(index=small_index))
    demo = app.create_app(service, "fake:64")
    shown = {c.label: c.value for c in demo.blocks.values() if hasattr(c, "value")}
    assert shown["Search"] == "bm25" and shown["Passages (top-k)"] == 2
    assert shown["mode"] == "bm25" and shown["k"] == 2  # the named `ask` endpoint's
    body = TestClient(api.create_api(service)).post("/v1/search", json={"query": "Nederland"})
    assert body.status_code == 200 and len(body.json()["hits"]) == 2


def test_a_preset_sits_below_the_environment_and_the_options(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(PRESETS) >= {"fast", "accurate"}
    assert preset_values("fast")["retrieval"]["granularity"] == "chunk"
    assert Settings(preset="fast").retrieval.granularity == "chunk"
    monkeypatch.setenv("CITEQA_PRESET", "fast")
    assert Settings().retrieval.pool == preset_values("fast")["retrieval"]["pool"]
    monkeypatch.setenv("CITEQA_RETRIEVAL__POOL", "70")  # the environment over the preset
    assert (Settings().retrieval.pool, Settings().retrieval.granularity) == (70, "chunk")
    assert Settings(preset="accurate").retrieval.granularity == "adaptive"  # the option wins
    monkeypatch.setenv("CITEQA_PRESET", "nope")
    with pytest.raises(BadInput, match="unknown preset 'nope'; choose one of: accurate, fast"):
        Settings()


def test_cli_preset_option(small_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.factory
    from frontends.cli import app

    seen: list[Settings] = []

    def capture(settings: Settings, *args: Any) -> Any:
        seen.append(settings)
        raise Captured("captured")

    monkeypatch.setattr(qa.factory, "open_retriever", capture)
    monkeypatch.setenv("CITEQA_RETRIEVAL__POOL", "70")
    CliRunner().invoke(app, ["search", "x", "--preset", "fast", "--index", str(small_index)])
    assert (seen[0].retrieval.granularity, seen[0].retrieval.pool) == ("chunk", 70)
    result = CliRunner().invoke(app, ["search", "x", "--preset", "slow"])
    assert result.exit_code == 2 and "unknown preset 'slow'" in result.output
