"""`citeqa mcp` over stdio, driven by the MCP SDK's own client: the tools, their typed inputs
and structured outputs, follow-ups through `ask`'s history, and errors as tool errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ROOT

RED_CROSS = "Hoeveel geeft Nederland aan het Rode Kruis?"


def _params(index: Path) -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "frontends.cli", "mcp", "--index", str(index)], env=env
    )


def _session(index: Path, steps: Any) -> Any:
    async def main() -> Any:
        async with Client(_params(index), read_timeout_seconds=120) as client:
            return await steps(client)

    return anyio.run(main)


def test_mcp_lists_typed_tools_and_answers(small_index: Path) -> None:
    async def steps(client: Client) -> dict[str, Any]:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        asked = await client.call_tool("ask", {"question": RED_CROSS})
        follow = await client.call_tool(
            "ask",
            {
                "question": "En hoeveel was dat?",
                "history": [{"question": RED_CROSS, "answer": "3 miljoen euro [1]"}],
            },
        )
        found = await client.call_tool("search", {"query": "Rode Kruis", "k": 2})
        listed = await client.call_tool("list_documents", {})
        blank = await client.call_tool("ask", {"question": "   "})
        bad = await client.call_tool("ask", {"question": "why " * 1000})
        wrong_type = await client.call_tool("search", {"query": "x", "k": "many"})
        return {
            "version": client.server_info.version,
            "tools": tools,
            "asked": asked,
            "follow": follow,
            "found": found,
            "listed": listed,
            "blank": blank,
            "bad": bad,
            "wrong_type": wrong_type,
        }

    r = _session(small_index, steps)
    assert set(r["tools"]) == {"search", "ask", "list_documents"}
    ask = r["tools"]["ask"]
    assert ask.input_schema["required"] == ["question"]
    assert {"question", "history", "k"} <= set(ask.input_schema["properties"])
    assert {"answer", "abstained", "citations"} <= set(ask.output_schema["properties"])
    answer = r["asked"].structured_content
    assert not r["asked"].is_error and answer["abstained"] is False
    assert "3 miljoen euro" in answer["answer"] and "[1]" in answer["answer"]
    assert answer["citations"][0]["source"].endswith("nl_hulp.txt")
    assert "3 miljoen euro" in r["follow"].structured_content["answer"]
    hits = r["found"].structured_content["hits"]
    assert len(hits) == 2 and hits[0]["source"].endswith("nl_hulp.txt")
    documents = r["listed"].structured_content["documents"]
    assert len(documents) == 5 and {d["lang"] for d in documents} == {"nl", "en"}
    assert not any(d["source"].startswith("/") for d in documents)  # no server paths
    assert not answer["citations"][0]["source"].startswith("/")
    assert r["blank"].is_error and "The question is empty." in r["blank"].content[0].text
    assert r["bad"].is_error and "2000 characters" in r["bad"].content[0].text
    assert r["wrong_type"].is_error
    for bad in (r["bad"], r["wrong_type"]):  # one line per call, no pydantic URL
        text = bad.content[0].text
        assert "\n" not in text and "pydantic.dev" not in text, text
    assert r["wrong_type"].content[0].text.startswith("Error executing tool search: k: ")
    assert all("  " not in (t.description or "") for t in r["tools"].values())
    assert r["version"] and r["version"] != "0.0.0"  # the server says which citeqa it is


@pytest.mark.slow
def test_mcp_with_the_real_embedder(e5_index: Path) -> None:
    async def steps(client: Client) -> Any:
        return await client.call_tool(
            "ask",
            {"question": "How much extra money does the Netherlands give to the Dutch Red Cross?"},
        )

    result = _session(e5_index, steps)
    assert "3 miljoen" in result.structured_content["answer"]
    assert result.structured_content["citations"][0]["supported"]
