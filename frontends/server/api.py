"""An OpenAI-compatible HTTP API over a `QAService`: /v1/models, /v1/chat/completions (plain
or streamed as server-sent events) and /v1/search, with errors in OpenAI's shape.

The answer text keeps its [n] markers; each response also carries `citations` (the fields
of `citeqa ask --json`), `abstained`, and `related` (empty unless refused). Nothing in a
request can choose the LLM or its endpoint: that is server configuration. This module builds
the FastAPI app; listen.py opens its socket and serving.py mounts the Gradio UI on it.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.exceptions import HTTPException

from citeqa.errors import BadInput, CiteqaError, LLMUnavailable
from embeddings.store import Index
from frontends.server.lock import bearer_ok, error_json
from qa.answer import Answer, Delta, Done
from qa.names import publish
from qa.service import QAService, bounded

log = logging.getLogger(__name__)
MODEL_ID = "citeqa"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
        self.code = code or ("invalid_api_key" if status == 401 else None)


class TextPart(BaseModel):
    type: str = "text"
    text: str = ""


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    # OpenAI clients send temperature, top_p, stream_options, ... : accepted and ignored
    model_config = ConfigDict(extra="ignore")
    model: str = MODEL_ID
    # a conversation longer than this is refused; the service reads its last 20 turns anyway
    messages: list[Message] = Field(min_length=1, max_length=200)
    stream: StrictBool = False  # "yes" or 1 is refused, not taken for true
    max_tokens: int | None = Field(None, ge=1, description="Accepted; answers are quotes.")
    k: int | None = Field(None, ge=1, le=100, description="Passages to read (citeqa extra).")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=2000)
    k: int | None = Field(None, ge=1, le=100, description="Unset: the retrieval.k setting.")
    mode: Literal["hybrid", "dense", "bm25"] | None = None  # unset: retrieval.mode
    lang: str | None = None
    source: str | None = None


def conversation(messages: list[Message]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message, and the earlier (question, answer) turns before it."""
    if messages[-1].role != "user":
        raise ApiError(400, "The last message must come from the user.")
    history: list[tuple[str, str]] = []
    question: str | None = None
    for m in messages[:-1]:
        if m.role == "user":
            question = m.text()
        elif m.role == "assistant" and question is not None:
            history.append((question, m.text()))
            question = None
    return messages[-1].text(), history


def usage(embedder: Any, question: str, history: list[tuple[str, str]], answer: Answer) -> dict:
    """Tokens counted with the embedder's tokenizer (multilingual-e5's SentencePiece by
    default; words for an embedder without one). The prompt is what the answer was read
    from: the question, the earlier turns the service reads, and the passages retrieved; the
    completion is the answer text."""
    count = getattr(embedder, "count_tokens", None) or (lambda text: len(text.split()))
    read = [question, *(t for turn in bounded(history) for t in turn)]
    prompt = sum(count(t) for t in read) + sum(count(h.chunk.text) for h in answer.hits)
    completion = count(answer.text)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def answer_fields(answer: Answer, index: Index) -> dict[str, Any]:
    """The top-level extras of a response: citations, abstained, and related and
    answer_span when present; documents named relative to the collection (`qa.names`)."""
    data = publish(answer.as_json(), index)
    extra = {"citations": data["citations"], "abstained": data["abstained"]}
    extra["related"] = data.get("related", [])  # always there, as the documented shape has it
    if data.get("answer_span"):
        extra["answer_span"] = data["answer_span"]
    return extra


def _status_of(exc: CiteqaError) -> tuple[int, str]:
    if isinstance(exc, BadInput):
        return 400, "invalid_request_error"
    if isinstance(exc, LLMUnavailable):
        return 502, "api_error"
    return 503, "api_error"  # index missing, locked or damaged: the server's, not the caller's


def _key_ok(authorization: str, api_key: str | None) -> bool:
    """Whether an Authorization header carries the key (always, when there is no key)."""
    return api_key is None or bearer_ok(authorization, api_key)


def _bearer_check(api_key: str | None) -> Any:
    def check(request: Request) -> None:
        if not _key_ok(request.headers.get("authorization", ""), api_key):
            raise ApiError(401, "Missing or wrong API key: send 'Authorization: Bearer KEY'.")

    return check


def add_error_handlers(app: FastAPI) -> None:
    """Every error in OpenAI's shape: ours, FastAPI's, and any unexpected one."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_json(exc.message, exc.kind, exc.code), status_code=exc.status)

    @app.exception_handler(CiteqaError)
    async def citeqa_error(_: Request, exc: CiteqaError) -> JSONResponse:
        status, kind = _status_of(exc)
        return JSONResponse(error_json(str(exc), kind), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":  # was "1: JSON decode error"
            at = next((p for p in first.get("loc", ())[1:] if isinstance(p, int)), None)
            reason = (first.get("ctx") or {}).get("error", "")
            message = "The body is not valid JSON" + (f" (at character {at})" if at else "")
            message += f": {reason}." if reason else "."
            return JSONResponse(error_json(message, "invalid_request_error"), status_code=400)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid body"
        return JSONResponse(error_json(message, "invalid_request_error"), status_code=400)

    @app.exception_handler(Exception)
    async def failed(_: Request, exc: Exception) -> JSONResponse:  # a bug: still OpenAI's shape
        log.exception("request failed")
        message = "The server failed to answer (its log has the details)."
        return JSONResponse(error_json(message, "api_error"), status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            error_json(
                f"{exc.detail}: {request.method} {request.url.path}", "invalid_request_error"
            ),
            status_code=exc.status_code,
        )


def create_api(service: QAService, api_key: str | None = None) -> FastAPI:
    """The API app; with `api_key`, every /v1 route wants `Authorization: Bearer <key>`."""
    app = FastAPI(title="citeqa", docs_url=None, redoc_url=None, openapi_url=None)
    auth = [Depends(_bearer_check(api_key))]

    add_error_handlers(app)

    @app.get("/v1/models", dependencies=auth)
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card()]}

    @app.get("/v1/models/{model}", dependencies=auth)
    def model(model: str) -> dict[str, Any]:
        if model != MODEL_ID:
            raise ApiError(
                404,
                f"The model {model!r} does not exist; use {MODEL_ID!r}.",
                code="model_not_found",
            )
        return _model_card()

    @app.post("/v1/search", dependencies=auth)
    def search(body: SearchRequest) -> dict[str, Any]:
        retriever = service.current_retriever()
        hits = retriever.search(
            body.query, k=body.k, mode=body.mode, lang=body.lang, source=body.source
        )
        return publish({"query": body.query, "hits": [h.as_json() for h in hits]}, retriever.index)

    @app.post("/v1/chat/completions", dependencies=auth, response_model=None)
    def chat(body: ChatRequest) -> dict[str, Any] | StreamingResponse:
        if body.model != MODEL_ID:
            raise ApiError(
                404,
                f"The model {body.model!r} does not exist; use {MODEL_ID!r}.",
                code="model_not_found",
            )
        question, history = conversation(body.messages)
        if not question.strip():
            raise ApiError(400, "The last user message is empty.")
        retriever = service.current_retriever()  # the generation this answer reads
        index = retriever.index
        events = service.stream(question, history, k=body.k)
        if body.stream:
            # the first event (retrieval) runs here, so its errors still get a status code
            first = next(events)
            return StreamingResponse(
                _sse(first, events, body.model, index),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer = next(e.answer for e in events if isinstance(e, Done))
        return {
            "id": _completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage(retriever.embedder, question, history, answer),
            **answer_fields(answer, index),
        }

    # last: any other /v1 path is an OpenAI-shaped 404 (else the UI mounted at / answers)
    @app.api_route(
        "/v1/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], dependencies=auth
    )
    def unknown(request: Request, rest: str) -> None:
        raise ApiError(404, f"No such endpoint: {request.method} /v1/{rest}")

    return app


def add_mcp(app: FastAPI, service: QAService, api_key: str | None, host: str) -> None:
    """The MCP tools of `citeqa mcp` over streamable HTTP at /mcp, behind the same key.

    Call before the UI is mounted at /. The SDK's session manager runs in the app's lifespan.
    """
    from contextlib import asynccontextmanager

    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from starlette.routing import Route

    from frontends.server.mcp_server import create_mcp

    server = create_mcp(service)
    # builds the session manager; with a loopback host it also refuses other Host headers
    server.streamable_http_app(host=host)
    manager = server.session_manager

    guarded = _KeyGuard(StreamableHTTPASGIApp(manager), api_key)
    app.router.routes.append(Route("/mcp", endpoint=guarded, methods=["GET", "POST", "DELETE"]))
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> Any:
        async with previous(a), manager.run():
            yield

    app.router.lifespan_context = lifespan


class _KeyGuard:
    """An ASGI app (an object, so Starlette routes to it as one) that wants the Bearer key."""

    def __init__(self, app: Any, api_key: str | None) -> None:
        self.app, self.api_key = app, api_key

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not _key_ok(header.decode("latin-1"), self.api_key):
            message = "Missing or wrong API key: send 'Authorization: Bearer KEY'."
            body = error_json(message, "invalid_request_error", "invalid_api_key")
            await JSONResponse(body, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "citeqa"}


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _sse(first: object, events: Iterator[object], model: str, index: Index) -> Iterator[str]:
    """Chat completion chunks: the role, one chunk per piece of text, then a last chunk with
    finish_reason "stop" and the answer's citations; then [DONE].

    The streamed pieces are the answer as written; the last chunk's `answer` is the checked
    text (markers renumbered 1..n as cited), which a client that shows citations should use.
    """
    base = {"id": _completion_id(), "object": "chat.completion.chunk", "created": int(time.time())}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {**base, "model": model, "choices": [choice], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for e in itertools.chain([first], events):
            if isinstance(e, Delta) and e.text:
                yield chunk({"content": e.text})
            elif isinstance(e, Done):
                yield chunk({}, "stop", answer=e.answer.text, **answer_fields(e.answer, index))
    except CiteqaError as exc:  # headers are sent: the error travels as an event
        yield f"data: {json.dumps(error_json(str(exc), _status_of(exc)[1]))}\n\n"
    yield "data: [DONE]\n\n"


__all__ = ["MODEL_ID", "add_mcp", "create_api"]
