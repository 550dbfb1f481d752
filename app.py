"""The Gradio chat UI (a thin adapter): `create_app(...)` builds it, `__main__` serves it.

Minimal for now: each question returns the best passages with their sources.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gradio as gr

from qa.factory import open_retriever
from qa.retrieval import Retriever
from qa.settings import Settings


def create_app(retriever: Retriever) -> gr.Blocks:
    def respond(message: str, history: list) -> str:
        hits = retriever.search(message, k=3)
        if not hits:
            return "Nothing found."
        return "\n\n".join(
            f"**[{h.rank}] {h.chunk.title}** ({h.chunk.lang}, `{Path(h.chunk.source).name}`)\n\n"
            f"> {h.chunk.text}"
            for h in hits
        )

    return gr.ChatInterface(respond, title="citeqa")


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the citeqa chat UI.")
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    settings = Settings() if args.index is None else Settings(index=args.index)
    create_app(open_retriever(settings)).launch(
        server_name=args.host, server_port=args.port, share=False
    )


if __name__ == "__main__":
    main()
