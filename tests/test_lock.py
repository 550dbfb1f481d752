"""One lock for the whole server (frontends/server/lock.py, serving.build_server), on a real
server on loopback: every route the app mounts, and every endpoint Gradio's API lists,
refuses a request without the key; the chat page signs in with it; `gradio_client` cannot list or
upload without it; bodies are held to a limit; a read-only server has no write at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from embeddings.store import Index
from frontends.server.lock import COOKIE, LOGIN, LOGOUT, MAX_BODY
from qa.answering import ExtractiveAnswerer
from qa.citations import CitationChecker
from qa.retrieval import Retriever
from qa.service import QAService
from qa.settings import Settings
from tests.helpers import serve_asgi

KEY = "k3y-for-tests"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = {"Accept": "application/json"}


def serve(small_index: Path, fake_embedder, **options: Any) -> Iterator[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    from frontends.server.serving import build_server

    retriever = Retriever(Index(small_index), fake_embedder)
    service = QAService(
        retriever, ExtractiveAnswerer(fake_embedder), CitationChecker(fake_embedder)
    )
    app = build_server(service, "fake:64", Settings(index=small_index), **options)
    for url in serve_asgi(app):
        yield url, app


@pytest.fixture
def locked(small_index: Path, fake_embedder) -> Iterator[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    yield from serve(small_index, fake_embedder, api_key=KEY)


def routes(app: Any, prefix: str = "") -> Iterator[tuple[str, frozenset[str]]]:
    """Every (path, methods) the app serves, through its mounts (Gradio is mounted at /)."""
    for route in getattr(app, "routes", []):
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            yield from routes(included, prefix + route.include_context.prefix)
            continue
        path = prefix + getattr(route, "path", "")
        inner = getattr(route, "app", None)
        if hasattr(route, "routes") or (inner is not None and hasattr(inner, "routes")):
            yield from routes(inner if hasattr(inner, "routes") else route, path)
        else:
            yield path, frozenset(set(getattr(route, "methods", None) or {"GET"}) - {"HEAD"})


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path) or "/"


def test_every_route_refuses_without_the_key(locked: tuple[str, Any]) -> None:
    url, app = locked
    found = sorted(set(routes(app.app)))
    paths = {p for p, _ in found}
    # the parts a user would name: the UI's config and API, file routes, /v1, /mcp, docs
    for needed in ("/v1/chat/completions", "/mcp", "/config", "/gradio_api/info", "/openapi.json"):
        assert any(p.endswith(needed) for p in paths), needed
    assert any("upload" in p for p in paths) and any("file" in p for p in paths)
    checked = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        for path, methods in found:
            if path in (LOGIN, LOGOUT):  # the lock's own doors (Gradio's are behind it)
                continue
            for method in sorted(methods):
                r = client.request(method, concrete(path), headers=JSON, content=b"{}")
                assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
                assert r.json()["error"]["code"] == "invalid_api_key"
                checked += 1
        info = client.get("/gradio_api/info", headers=AUTH).json()
        named = list(info["named_endpoints"])
        assert {"/ask", "/upload", "/remove", "/documents"} <= set(named)
        for name in named:
            r = client.post(f"/gradio_api/call{name}", json={"data": []}, headers=JSON)
            assert r.status_code == 401, name
        assert client.get("/gradio_api/heartbeat/abc", timeout=5).status_code == 401
        assert client.get("/", headers={"Accept": "text/html"}).status_code == 303
    assert checked > 30


def test_the_key_opens_every_door(locked: tuple[str, Any]) -> None:
    url, _ = locked
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/v1/models", headers=AUTH).status_code == 200
        assert client.get("/config", headers=AUTH).status_code == 200
        wrong = {"Authorization": "Bearer " + KEY[:-1] + "X"}
        assert client.get("/v1/models", headers=wrong).status_code == 401


def test_the_chat_page_signs_in_with_the_key(locked: tuple[str, Any]) -> None:
    url, _ = locked
    with httpx.Client(base_url=url, timeout=30) as client:
        first = client.get("/", headers={"Accept": "text/html"})
        assert first.status_code == 303 and first.headers["location"] == "/login"
        page = client.get("/login")
        assert page.status_code == 200 and 'type="password"' in page.text
        assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]
        bad = client.post("/login", data={"key": "guess"})
        assert bad.status_code == 401 and COOKIE not in client.cookies
        good = client.post("/login", data={"key": KEY})
        assert good.status_code == 303 and "HttpOnly" in good.headers["set-cookie"]
        assert KEY not in good.headers["set-cookie"]  # an HMAC of it, not the key
        assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
        assert client.get("/config").status_code == 200  # what the page's script fetches
        client.get("/logout")
        assert client.get("/config", headers=JSON).status_code == 401


def test_gradio_client_needs_the_key(locked: tuple[str, Any], tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    url, _ = locked
    with pytest.raises(Exception):  # noqa: B017  # any refusal; what matters is no access
        Client(url, verbose=False).predict(api_name="/documents")
    note = tmp_path / "note.txt"
    note.write_text("Een notitie over de begroting van 2026.", encoding="utf-8")
    client = Client(url, verbose=False, headers=AUTH)
    documents = client.predict(api_name="/documents")
    assert isinstance(documents, list) and documents
    message, _ = client.predict([handle_file(str(note))], api_name="/upload")
    assert message.startswith("Added 1")


def test_a_body_over_the_limit_is_refused_unread(locked: tuple[str, Any]) -> None:
    url, _ = locked
    big = b"x" * (MAX_BODY + 1)
    with httpx.Client(base_url=url, timeout=30) as client:
        r = client.post("/v1/chat/completions", content=big, headers=AUTH)
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(MAX_BODY // 2**16 + 2):
                yield b"x" * 2**16

        r = client.post("/v1/chat/completions", content=chunks(), headers=AUTH)
        assert r.status_code == 413
        assert client.post("/v1/chat/completions", content=big).status_code == 401


def test_past_the_limit_the_app_acts_on_no_cut_body() -> None:
    """The app behind the lock is told the client left, never handed a body that ends
    early (a JSON prefix that parses would be acted on, whatever the 413 says)."""
    import asyncio

    from frontends.server.lock import ServerLock

    seen: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen.append("left")
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                seen.append(f"acted on {len(body)} bytes")
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"ok"})
                return

    chunks = [b'{"data": ["x"]}' + b" " * 60, b" " * 60, b" " * 60]
    sent: list[dict] = []

    async def receive():  # type: ignore[no-untyped-def]
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    lock = ServerLock(app, None, max_body=100)
    asyncio.run(lock({"type": "http", "path": "/x", "headers": []}, receive, send))
    assert seen == ["left"]
    assert sent[0]["status"] == 413


def test_a_key_outside_ascii_works_as_a_bearer_token(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    for url, _ in serve(small_index, fake_embedder, api_key="clé-sleutel"):
        header = {"Authorization": "Bearer clé-sleutel".encode()}  # as a client sends it
        assert httpx.get(f"{url}/v1/models", headers=header).status_code == 200


def test_a_read_only_server_has_no_write(small_index: Path, fake_embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for url, _ in serve(small_index, fake_embedder, read_only=True):
        with httpx.Client(base_url=url, timeout=30) as client:
            named = set(client.get("/gradio_api/info").json()["named_endpoints"])
            assert named == {"/ask", "/documents"}
            files = {"files": ("a.txt", b"hallo", "text/plain")}
            r = client.post("/gradio_api/upload", files=files)
            assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"
            # nor any other route that takes files (recordings, component servers)
            for route in ("/gradio_api/process_recording", "/gradio_api/component_server"):
                assert client.post(route, files=files).status_code == 403, route
            asked = client.post(
                "/gradio_api/call/ask", json={"data": ["Rode Kruis?", [], "hybrid", 3, "any"]}
            )
            assert asked.status_code == 200  # reading still works
