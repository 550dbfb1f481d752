"""One lock in front of the whole server (the chat UI, Gradio's API and file routes, /v1,
/mcp, the docs pages): an ASGI wrapper, so a route added later is locked too.

With a key, a request passes with `Authorization: Bearer <key>` or with the session cookie
that the login page (`/login`) sets once the key is typed; anything else gets a 401 in
OpenAI's error shape (a browser asking for a page is sent to the login page instead), and
its body is never read. Keys and cookies are compared in constant time; the cookie holds an
HMAC of the key, never the key. Every request's body is held to a size limit, counted as it
arrives (a missing or false Content-Length does not get past it): past it the app is told
the client left, so it acts on no cut body. A read-only server refuses Gradio's upload route
and any multipart body outright. The login page is plain HTML, no scripts and no remote
content. What the lock covers, and what it does not, is in docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "citeqa_session"
LOGIN = "/login"
LOGOUT = "/logout"
MAX_BODY = 4 * 2**20  # any request but an upload: a question and its conversation
MAX_LOGIN_BODY = 4096
UPLOAD_PATHS = ("/gradio_api/upload",)

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>citeqa: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 26rem; margin: 4rem auto; padding: 0 1rem;
  color: #1f2328; background: #ffffff; }}
@media (prefers-color-scheme: dark) {{ body {{ color: #e6edf3; background: #0d1117; }}
  input {{ color: #e6edf3; background: #161b22; border-color: #8b949e; }} }}
input, button {{ font: inherit; padding: .5rem; width: 100%; box-sizing: border-box;
  margin-top: .5rem; }}
.error {{ color: #cf222e; }}
@media (prefers-color-scheme: dark) {{ .error {{ color: #ff7b72; }} }}
</style></head>
<body><h1>citeqa</h1><p>This server asks for its key.</p>{error}
<form method="post" action="/login"><label for="key">Key</label>
<input id="key" name="key" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Sign in</button></form></body></html>
"""


def session_token(api_key: str) -> str:
    """What the cookie holds: an HMAC of the key (the key itself never leaves the form)."""
    return hmac.new(api_key.encode(), b"citeqa session v1", hashlib.sha256).hexdigest()


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def bearer_ok(authorization: str, api_key: str) -> bool:
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        # headers arrive decoded as latin-1: their raw bytes are compared with the UTF-8 key
        token.strip().encode("latin-1", "replace"),
        api_key.encode(),
    )


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    kind: str,
    extra: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
) -> None:
    headers = [
        (b"content-type", kind.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_json(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape (the lock's refusals and every API error)."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def error_body(message: str, code: str, kind: str = "invalid_request_error") -> bytes:
    """`error_json` as the bytes of a response body."""
    return json.dumps(error_json(message, kind, code)).encode()


class ServerLock:
    """Wraps the server's ASGI app: the key (when set) before anything, then the body limit."""

    def __init__(
        self,
        app: ASGIApp,
        api_key: str | None,
        read_only: bool = False,
        max_body: int = MAX_BODY,
        max_upload: int = 256 * 2**20,
    ) -> None:
        self.app = app
        self.api_key = api_key or None
        self.token = session_token(api_key) if api_key else ""
        self.read_only = read_only
        self.max_body, self.max_upload = max_body, max_upload

    def allowed(self, headers: dict[str, str]) -> bool:
        if self.api_key is None:
            return True
        if bearer_ok(headers.get("authorization", ""), self.api_key):
            return True
        cookie = _cookie(headers.get("cookie", ""), COOKIE)
        return hmac.compare_digest(cookie.encode("utf-8", "surrogateescape"), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = _headers(scope)
        if self.api_key is not None and path in (LOGIN, LOGOUT) and scope["type"] == "http":
            await self.login(scope, receive, send, headers)
            return
        if not self.allowed(headers):
            await self.refuse(scope, send, headers)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        kind = headers.get("content-type", "")
        if self.read_only and (path.rstrip("/") in UPLOAD_PATHS or "multipart/" in kind):
            # every Gradio route that takes files takes them as multipart (recordings too)
            body = error_body("This server is read-only: documents cannot be added.", "read_only")
            await _respond(send, 403, body, "application/json")
            return
        limit = self.max_upload if path.rstrip("/") in UPLOAD_PATHS else self.max_body
        await self.limited(scope, receive, send, headers, limit)

    async def refuse(self, scope: Scope, send: Send, headers: dict[str, str]) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        wants_page = scope.get("method") == "GET" and "text/html" in headers.get("accept", "")
        if wants_page:
            await _respond(send, 303, b"", "text/plain", [(b"location", LOGIN.encode())])
            return
        body = error_body(
            "This server needs its key: send 'Authorization: Bearer <key>', or sign in at /login.",
            "invalid_api_key",
        )
        await _respond(
            send, 401, body, "application/json", [(b"www-authenticate", b'Bearer realm="citeqa"')]
        )

    async def limited(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], limit: int
    ) -> None:
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await self.too_large(send, limit)
            return
        seen = 0
        over = replaced = False

        async def counted() -> Message:
            # past the limit the app is told the client went away, so it stops rather than
            # act on a cut body; the 413 is sent in its place
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal replaced
            if over:
                if not replaced and message["type"] == "http.response.start":
                    replaced = True
                    await self.too_large(send, limit)
                return
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not over:
                raise
        if over and not replaced:
            replaced = True
            await self.too_large(send, limit)

    @staticmethod
    async def too_large(send: Send, limit: int) -> None:
        body = error_body(
            f"The request is larger than this server takes ({limit // 2**20} MiB).",
            "request_too_large",
        )
        await _respond(send, 413, body, "application/json")

    async def login(self, scope: Scope, receive: Receive, send: Send, h: dict[str, str]) -> None:
        if scope["path"] == LOGOUT:
            await _respond(
                send,
                303,
                b"",
                "text/plain",
                [(b"location", LOGIN.encode()), (b"set-cookie", _set_cookie("", 0))],
            )
            return
        if scope.get("method") != "POST":
            await _respond(send, 200, _page(""), "text/html; charset=utf-8")
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_LOGIN_BODY:
                await _respond(send, 413, _page("That is not a key."), "text/html; charset=utf-8")
                return
        typed = parse_qs(body.decode("utf-8", "replace")).get("key", [""])[0]
        assert self.api_key is not None
        if not hmac.compare_digest(typed.encode("utf-8", "replace"), self.api_key.encode()):
            await _respond(
                send, 401, _page("That key is not this server's."), "text/html; charset=utf-8"
            )
            return
        await _respond(
            send,
            303,
            b"",
            "text/plain",
            [(b"location", b"/"), (b"set-cookie", _set_cookie(self.token, 30 * 86400))],
        )


def _set_cookie(value: str, max_age: int) -> bytes:
    return f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict".encode()


def _page(error: str) -> bytes:
    shown = f"<p class='error' role='alert'>{error}</p>" if error else ""
    return _LOGIN_PAGE.format(error=shown).encode()


__all__ = ["COOKIE", "LOGIN", "MAX_BODY", "ServerLock", "error_body", "error_json", "session_token"]
