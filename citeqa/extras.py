"""The optional parts of citeqa and the pip extra that installs each (pyproject.toml).

The core (index, search, ask, the CLI) needs none of them. A missing one is a `MissingExtra`
error in one line that names the extra, never an ImportError traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

EXTRAS = {
    "ui": "the chat UI (gradio)",
    "api": "the OpenAI-compatible API and MCP (fastapi, uvicorn, mcp)",
    "st": "sentence-transformers embedders (sentence-transformers, torch)",
    "llm": "LLM answers (langchain-openai, langchain-ollama)",
    "eval": "citeqa eval's metrics (ranx)",
    "fast": "the OpenVINO / ONNX Runtime embedding engines (openvino, onnxruntime, onnx)",
}


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or raise `MissingExtra` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _missing(exc.name or module, extra) from None


def check(module: str, extra: str) -> None:
    """Like `require`, without importing `module` (for a check before a slow import)."""
    if importlib.util.find_spec(module) is None:
        raise _missing(module, extra)


def _missing(module: str, extra: str) -> Exception:
    from citeqa.errors import MissingExtra

    return MissingExtra(
        f"{EXTRAS[extra]} is not installed ({module} is missing): pip install 'citeqa[{extra}]'"
    )


__all__ = ["EXTRAS", "check", "require"]
