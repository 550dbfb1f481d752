"""citeqa's retriever as a LangChain `BaseRetriever`, so it plugs into LangChain chains.

Each `Document` carries the passage text and, in its metadata, everything a citation needs
(source, title, language, character offsets, chunk id, and the dense/BM25/fused scores).
"""

from __future__ import annotations

from typing import Any

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError:
    from citeqa.errors import MissingExtra

    raise MissingExtra("LangChain is not installed: pip install 'citeqa[llm]'") from None
from pydantic import ConfigDict

from qa.retrieval import Retriever


class CiteqaRetriever(BaseRetriever):
    """`CiteqaRetriever(retriever=open_retriever(settings), k=5, mode="hybrid")`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: Retriever
    k: int = 5
    mode: str = "hybrid"
    lang: str | None = None
    source: str | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.retriever.search(
            query,
            k=self.k,
            mode=self.mode,  # type: ignore[arg-type]
            lang=self.lang,
            source=self.source,
        )
        return [
            Document(page_content=h.chunk.text, id=h.chunk.chunk_id, metadata=_metadata(h))
            for h in hits
        ]


def _metadata(hit: Any) -> dict[str, Any]:
    c = hit.chunk
    return {
        "rank": hit.rank,
        "score": hit.score,
        "dense": hit.dense,
        "bm25": hit.bm25,
        "fused": hit.fused,
        "chunk_id": c.chunk_id,
        "doc_id": c.doc_id,
        "source": c.source,
        "title": c.title,
        "lang": c.lang,
        "start": c.start,
        "end": c.end,
    }
