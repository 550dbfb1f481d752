"""citeqa as MCP tools for agents: `search`, `ask` (with optional earlier turns) and
`list_documents`, typed in and structured out, over a `QAService` (official MCP SDK, v2).

`citeqa mcp --index DIR` serves them over stdio. The tools only read the index; adding or
removing documents stays with `citeqa index` and the UI. The LLM is server configuration.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from embeddings.errors import CiteqaError
from qa.names import names_of, publish
from qa.service import QAService

INSTRUCTIONS = (
    "Answers questions from a local document collection (Dutch and English) with checked "
    "citations. Use `ask` for an answer with [n] markers and its citations, `search` for "
    "the raw passages, `list_documents` to see what is indexed. An answer with "
    "abstained=true means the documents do not hold it: say so rather than guess."
)


class Hit(BaseModel):
    """A retrieved passage (the fields of `citeqa search --json`)."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    source: str
    title: str
    lang: str
    text: str
    start: int
    end: int


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]


class Citation(BaseModel):
    """What an [n] marker in the answer points at: a quote from a passage of a document."""

    n: int
    doc_id: str
    source: str
    title: str
    chunk_id: str
    quote: str
    start: int = Field(description="Character offset of the passage in the document.")
    end: int
    supported: bool = Field(description="Whether the cited sentence matches its passage.")


class Span(BaseModel):
    start: int = Field(description="Character offset in the answer text.")
    end: int
    text: str


class AnswerResult(BaseModel):
    question: str
    answer: str = Field(description="The answer text, with [n] citation markers.")
    abstained: bool = Field(description="True when the documents do not answer the question.")
    citations: list[Citation]
    related: list[Hit] = Field(
        default_factory=list,
        description="For an abstention: the closest passages, not evidence for an answer.",
    )
    answer_span: Span | None = Field(
        default=None, description="The short answer inside the answer text, when one is marked."
    )


class Turn(BaseModel):
    question: str
    answer: str


class Document(BaseModel):
    doc_id: str
    source: str
    title: str
    lang: str
    chunks: int


class DocumentList(BaseModel):
    documents: list[Document]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("citeqa")
    except PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


def one_line(error: Any) -> str:
    """A pydantic ValidationError as `field: message; field: message`."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in error.errors()
    )


def create_mcp(service: QAService) -> Any:
    """The MCP server object (mcp.server.mcpserver.MCPServer) with citeqa's three tools."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
    from pydantic import ValidationError

    class Server(MCPServer):
        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            """Arguments that fail their schema are one line, field by field (the SDK sends
            pydantic's multi-line text with a documentation URL per error)."""
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                cause = exc.__cause__
                if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                    raise
                raise ToolError(f"Error executing tool {name}: {one_line(cause)}") from cause

    server = Server("citeqa", instructions=INSTRUCTIONS, version=_version())

    def tool(fn: Any) -> Any:
        """Registered with its docstring on one line (the SDK keeps its indentation)."""
        return server.tool(description=" ".join((fn.__doc__ or "").split()))(fn)

    @tool
    def search(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to find.")],
        k: Annotated[
            int | None, Field(ge=1, le=100, description="Passages to return [setting: 5].")
        ] = None,
        mode: Literal["hybrid", "dense", "bm25"] | None = None,
        lang: Annotated[str | None, Field(description="Only passages in this language.")] = None,
    ) -> SearchResult:
        """Find the passages of the indexed documents that best match the query."""
        try:
            retriever = service.current_retriever()
            hits = retriever.search(query, k=k, mode=mode, lang=lang)
        except CiteqaError as exc:
            raise ToolError(str(exc)) from None
        found = publish({"hits": [h.as_json() for h in hits]}, retriever.index)
        return SearchResult(query=query, hits=[Hit(**h) for h in found["hits"]])

    @tool
    def ask(
        question: Annotated[
            str, Field(min_length=1, max_length=2000, description="In Dutch or English.")
        ],
        history: Annotated[
            list[Turn] | None,
            Field(description="Earlier turns of this conversation, oldest first."),
        ] = None,
        k: Annotated[
            int | None, Field(ge=1, le=100, description="Passages to read [setting: 5].")
        ] = None,
    ) -> AnswerResult:
        """Answer a question from the documents, with numbered, checked citations; follow-up
        questions ("and in 2024?") use the earlier turns."""
        turns = [(t.question, t.answer) for t in history or []]
        try:
            index = service.current_retriever().index
            answer = service.ask(question, turns, k=k)
        except CiteqaError as exc:
            raise ToolError(str(exc)) from None
        return AnswerResult.model_validate(publish(answer.as_json(), index))

    @tool
    def list_documents() -> DocumentList:
        """The indexed documents: name in the collection, title, language and number of passages."""
        index = service.current_retriever().index
        names = names_of(index)
        return DocumentList(
            documents=[
                Document(
                    doc_id=d.doc_id,
                    source=names.get(d.source, d.source),
                    title=d.title,
                    lang=d.lang,
                    chunks=d.chunks,
                )
                for d in index.documents()
            ]
        )

    return server


__all__ = ["create_mcp"]
