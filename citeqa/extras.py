"""The optional parts of citeqa and the pip extra that installs each (pyproject.toml).

The core (index, search, ask, the CLI) needs none of them. A missing one is a `MissingExtra`
error in one line that names the extra, never an ImportError traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {
    "ui": "the chat UI (gradio)",
    "api": "the OpenAI-compatible API and MCP (fastapi, uvicorn, mcp)",
    "st": "sentence-transformers embedders (sentence-transformers, torch)",
    "llm": "LLM answers (langchain-openai, langchain-ollama)",
    "eval": "citeqa eval's metrics (ranx)",
}


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or raise `MissingExtra` naming the extra that installs it."""
    from citeqa.errors import MissingExtra

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{EXTRAS[extra]} is not installed ({exc.name or module} is missing): "
            f"pip install 'citeqa[{extra}]'"
        ) from None


__all__ = ["EXTRAS", "require"]
