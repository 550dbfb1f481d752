"""The OpenAI-compatible API, driven by the official `openai` client against a real server on
loopback: cited answers, follow-ups, streaming, search, the API key, errors in OpenAI's shape.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from embeddings.errors import BadInput
from embeddings.store import Index
from frontends.server import api, listen
from qa.answering import ExtractiveAnswerer
from qa.citations import CitationChecker
from qa.retrieval import Retriever
from qa.service import QAService
from tests.conftest import ROOT
from tests.helpers import free_port, running_server, serve_asgi

RED_CROSS = "Hoeveel geeft Nederland aan het Rode Kruis?"


@pytest.fixture
def service(small_index: Path, fake_embedder) -> QAService:  # type: ignore[no-untyped-def]
    retriever = Retriever(Index(small_index), fake_embedder)
    return QAService(retriever, ExtractiveAnswerer(fake_embedder), CitationChecker(fake_embedder))


def _serve(app: object) -> Iterator[str]:
    for url in serve_asgi(app):
        yield f"{url}/v1"


@pytest.fixture
def base_url(service: QAService) -> Iterator[str]:
    yield from _serve(api.create_api(service))


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)


def test_models_lists_citeqa(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["citeqa"]


def test_cited_answer_with_citations_beside_the_text(
    client: openai.OpenAI, small_corpus: Path
) -> None:
    done = client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": RED_CROSS}]
    )
    text = done.choices[0].message.content or ""
    assert "3 miljoen euro" in text and "[1]" in text
    assert done.choices[0].finish_reason == "stop"
    used = done.usage
    assert used is not None and used.completion_tokens > 0 and used.prompt_tokens > 0
    assert used.total_tokens == used.prompt_tokens + used.completion_tokens
    extra = done.model_extra or {}
    assert extra["abstained"] is False
    first = extra["citations"][0]
    assert set(first) >= {"n", "doc_id", "source", "title", "chunk_id", "quote", "start", "end"}
    assert first["n"] == 1 and first["source"].endswith("nl_hulp.txt") and first["supported"]
    # named below the collection's folder, not by the server's path
    assert not Path(first["source"]).is_absolute() and str(small_corpus) not in str(extra)
    text = (small_corpus / first["source"]).read_text()
    assert text[first["start"] : first["end"]] == first["quote"]


def test_follow_up_uses_the_earlier_messages(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": RED_CROSS}]
    )
    earlier = first.choices[0].message.content or ""
    follow_up = client.chat.completions.create(
        model="citeqa",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": RED_CROSS},
            {"role": "assistant", "content": earlier},
            {"role": "user", "content": "En hoeveel was dat?"},
        ],
    )
    assert "3 miljoen euro" in (follow_up.choices[0].message.content or "")
    assert follow_up.usage and first.usage  # the earlier turns are read, so counted
    assert follow_up.usage.prompt_tokens > first.usage.prompt_tokens
    alone = client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": "En hoeveel was dat?"}]
    )
    assert "3 miljoen euro" not in (alone.choices[0].message.content or "")


def test_stream_sends_chunks_then_the_citations_then_done(
    client: openai.OpenAI, base_url: str
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="citeqa",
            messages=[{"role": "user", "content": [{"type": "text", "text": RED_CROSS}]}],
            stream=True,
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "3 miljoen euro" in text and len(chunks) >= 3
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    extra = last.model_extra or {}
    assert extra["citations"][0]["source"].endswith("nl_hulp.txt")
    assert extra["abstained"] is False and "[1]" in extra["answer"]
    # on the wire: server-sent events ending with [DONE]
    body = {"model": "citeqa", "stream": True, "messages": [{"role": "user", "content": "cats"}]}
    raw = httpx.post(f"{base_url}/chat/completions", json=body, timeout=30)
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = [line for line in raw.text.splitlines() if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"


def test_search_returns_the_cli_search_json(base_url: str) -> None:
    done = httpx.post(f"{base_url}/search", json={"query": "Rode Kruis", "k": 2}, timeout=30)
    assert done.status_code == 200
    data = done.json()
    assert data["query"] == "Rode Kruis" and len(data["hits"]) == 2
    assert set(data["hits"][0]) == {
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
    assert data["hits"][0]["source"].endswith("nl_hulp.txt")


def test_errors_have_openai_shape_and_status(client: openai.OpenAI, base_url: str) -> None:
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": " "}])
    assert "empty" in empty.value.message
    with pytest.raises(openai.BadRequestError, match="last message"):
        client.chat.completions.create(
            model="citeqa", messages=[{"role": "assistant", "content": "hi"}]
        )
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.chat.completions.create(
            model="citeqa", messages=[{"role": "user", "content": "why " * 1000}]
        )
    for response in (
        httpx.post(f"{base_url}/chat/completions", json={"messages": []}),
        httpx.post(f"{base_url}/search", json={"query": "x", "k": 0}),
        httpx.post(f"{base_url}/chat/completions", content=b"{not json"),
    ):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"]
    missing = httpx.get(f"{base_url}/embeddings")
    assert missing.status_code == 404 and "No such endpoint" in missing.json()["error"]["message"]


def test_a_request_cannot_choose_the_llm(client: openai.OpenAI) -> None:
    """Fields naming an LLM endpoint are ignored: the server's answerer answers."""
    plain = client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": RED_CROSS}]
    )
    with pytest.raises(openai.NotFoundError):  # a model name cannot pick one either
        client.chat.completions.create(
            model="ollama:evil", messages=[{"role": "user", "content": RED_CROSS}]
        )
    steered = client.chat.completions.create(
        model="citeqa",
        messages=[{"role": "user", "content": RED_CROSS}],
        extra_body={
            "llm_base_url": "http://127.0.0.1:9/v1",
            "base_url": "http://127.0.0.1:9/v1",
            "answerer": "llm",
            "llm": "openai:x",
        },
    )
    assert steered.choices[0].message.content == plain.choices[0].message.content


def test_api_key_guards_every_v1_route(service: QAService) -> None:
    for base in _serve(api.create_api(service, api_key="s3cret")):
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
        for path, body in (("/models", None), ("/search", {"query": "x"}), ("/nope", None)):
            bare = httpx.request("POST" if body else "GET", base + path, json=body)
            assert bare.status_code == 401, path
            assert bare.json()["error"]["code"] == "invalid_api_key"
        keyed = openai.OpenAI(base_url=base, api_key="s3cret", max_retries=0)
        assert [m.id for m in keyed.models.list()] == ["citeqa"]
        answer = keyed.chat.completions.create(
            model="citeqa", messages=[{"role": "user", "content": RED_CROSS}]
        )
        assert "3 miljoen euro" in (answer.choices[0].message.content or "")


def test_exposure_warning_only_off_loopback_without_a_key() -> None:
    assert listen.exposure_warning("127.0.0.1", None) is None
    assert listen.exposure_warning("::1", None) is None
    assert listen.exposure_warning("localhost", None) is None
    assert listen.exposure_warning("0.0.0.0", "key") is None
    warning = listen.exposure_warning("0.0.0.0", None)
    assert warning and "WARNING" in warning and "--api-key" in warning


def test_busy_port_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(BadInput, match=f"Port {port} on 127.0.0.1 is already in use"):
            listen.bind("127.0.0.1", port)


def test_a_port_outside_the_range_is_refused_not_wrapped() -> None:
    for port in (-1, 65536, 99999):  # the OS would have listened on 99999 - 65536
        with pytest.raises(BadInput, match=f"Port {port} is not a port: choose one from 1"):
            listen.bind("127.0.0.1", port)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "frontends.cli", *args]


def test_serve_busy_port_prints_one_line(small_index: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            _cli("serve", "--index", str(small_index), "--port", str(port)),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"citeqa: Port {port} on 127.0.0.1 is already in use; "
        "stop the other server or choose --port."
    )


def _mcp_over_http(url: str, key: str) -> tuple[list[str], dict]:
    import anyio
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def main() -> tuple[list[str], dict]:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            answer = await client.call_tool("ask", {"question": RED_CROSS})
            return tools, answer.structured_content or {}

    return anyio.run(main)


def test_serve_puts_ui_and_keyed_api_on_one_port(small_index: Path, tmp_path: Path) -> None:
    """`citeqa serve` with a key: the UI at / (the sign-in page without the key), the API
    at /v1 (401 without the key), and the MCP tools at /mcp behind the same key."""
    port = free_port()
    command = _cli("serve", "--index", str(small_index), "--port", str(port))
    command += ["--api-key", "k3y"]
    ready = f"http://127.0.0.1:{port}/login"  # the one page open without the key
    with running_server(command, ready, tmp_path / "serve.log", ROOT):
        base = f"http://127.0.0.1:{port}/v1"
        keyed = {"Authorization": "Bearer k3y"}
        assert "gradio" in httpx.get(f"http://127.0.0.1:{port}/", headers=keyed).text.lower()
        page = httpx.get(f"http://127.0.0.1:{port}/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert httpx.get(f"{base}/models").status_code == 401
        client = openai.OpenAI(base_url=base, api_key="k3y", max_retries=0)
        stream = client.chat.completions.create(
            model="citeqa", messages=[{"role": "user", "content": RED_CROSS}], stream=True
        )
        assert "3 miljoen euro" in "".join(c.choices[0].delta.content or "" for c in stream)
        mcp_url = f"http://127.0.0.1:{port}/mcp"
        assert httpx.post(mcp_url, json={}).status_code == 401
        tools, answer = _mcp_over_http(mcp_url, "k3y")
        assert set(tools) == {"search", "ask", "list_documents"}
        assert "3 miljoen euro" in answer["answer"] and answer["citations"]


@pytest.mark.slow
def test_real_embedder_answers_through_serve(e5_index: Path, tmp_path: Path) -> None:
    """From the CLI as a user runs it, with the bundled embedder: answer, follow-up, stream."""
    port = free_port()
    command = _cli("serve", "--index", str(e5_index), "--port", str(port))
    with running_server(
        command, f"http://127.0.0.1:{port}/v1/models", tmp_path / "serve.log", ROOT, timeout=300
    ):
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", timeout=300)
        question = "How much extra money does the Netherlands give to the Dutch Red Cross?"
        first = client.chat.completions.create(
            model="citeqa", messages=[{"role": "user", "content": question}]
        )
        text = first.choices[0].message.content or ""
        assert "3 miljoen" in text and "[1]" in text
        assert (first.model_extra or {})["citations"][0]["supported"]
        messages = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": text},
            {"role": "user", "content": "And who announced that?"},
        ]
        stream = client.chat.completions.create(model="citeqa", messages=messages, stream=True)  # type: ignore[arg-type]
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks).strip()
        last = chunks[-1].model_extra or {}
        assert "citations" in last and "abstained" in last
        json.dumps(last)  # plain JSON all the way


class FailingLLM:
    """Retrieves, then the configured LLM server fails (as qa.llm reports it)."""

    def current_retriever(self) -> object:
        from types import SimpleNamespace

        return SimpleNamespace(index=None, embedder=None)

    def stream(self, question: str, history: object = (), k: object = None) -> Iterator[object]:
        from citeqa.errors import LLMUnavailable
        from qa.answer import Retrieved

        yield Retrieved(question, question, [])
        raise LLMUnavailable("The LLM server at http://127.0.0.1:8080/v1 did not answer.")


def test_llm_failure_is_502_or_an_error_event() -> None:
    for base in _serve(api.create_api(FailingLLM())):  # type: ignore[arg-type]
        client = openai.OpenAI(base_url=base, api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(
                model="citeqa", messages=[{"role": "user", "content": "hi"}]
            )
        assert failed.value.status_code == 502 and "did not answer" in failed.value.message
        body = {"model": "citeqa", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        raw = httpx.post(f"{base}/chat/completions", json=body, timeout=30)
        events = [e.removeprefix("data: ") for e in raw.text.split("\n\n") if e]
        assert events[-1] == "[DONE]"
        error = json.loads(events[-2])["error"]
        assert "did not answer" in error["message"] and error["type"] == "api_error"


def test_bodies_that_are_not_text_or_json_get_a_clear_400(service: QAService) -> None:
    from fastapi.testclient import TestClient

    app = api.create_api(service)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, app.router.routes.pop())  # before the catch-all /v1 route
    client = TestClient(app, raise_server_exceptions=False)
    url, kind = "/v1/chat/completions", {"content-type": "application/json"}
    bad = client.post(url, content=b'{"model": "citeqa", "messages": [', headers=kind)
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("The body is not valid JSON (at character")
    raw = b'{"model":"citeqa","messages":[{"role":"user","content":"\xff Gaza?"}]}'
    assert client.post(url, content=raw, headers=kind).status_code == 400
    lone = '{"model":"citeqa","messages":[{"role":"user","content":"\\udcff Rode Kruis?"}]}'
    answered = client.post(url, content=lone, headers=kind)
    assert answered.status_code == 200 and "3 miljoen" in answered.text  # cleaned, answered
    failed = client.get("/v1/boom")
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "api_error"


def test_unknown_models_and_bad_limits_get_openai_errors(service: QAService) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(api.create_api(service))
    ask = {"messages": [{"role": "user", "content": RED_CROSS}]}
    other = client.post("/v1/chat/completions", json={**ask, "model": "gpt-4o"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
    assert client.get("/v1/models/gpt-4o").json()["error"]["code"] == "model_not_found"
    negative = client.post("/v1/chat/completions", json={**ask, "max_tokens": -5})
    assert negative.status_code == 400 and "max_tokens" in negative.json()["error"]["message"]
    for loose in ("yes", 1, "true"):
        said = client.post("/v1/chat/completions", json={**ask, "stream": loose})
        assert said.status_code == 400 and "stream" in said.json()["error"]["message"]
    long = {"messages": [{"role": "user", "content": "Rode Kruis?"}] * 201}
    assert client.post("/v1/chat/completions", json=long).status_code == 400
    answered = client.post("/v1/chat/completions", json={**ask, "model": "citeqa"}).json()
    assert answered["related"] == [] and answered["citations"]
