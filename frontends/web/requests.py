"""What the chat page and its API send, checked into plain values: search options, an API
call's history, Gradio's raw file data, the answer in progress. Every bad value is a
`BadInput` whose message says what is expected; nothing here renders or answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from embeddings.errors import BadInput
from frontends.web.backend import Upload
from frontends.web.views import MAX_TURNS

MODES = ["hybrid", "dense", "bm25"]
LANGS = ["any", "nl", "en"]


def search_options(mode: Any, k: Any, lang: Any) -> dict[str, Any]:
    """The search settings a question is asked with (the page's or an API call's)."""
    if mode not in MODES:
        raise BadInput(f"mode must be one of {', '.join(MODES)}.")
    if lang not in LANGS:
        raise BadInput(f"lang must be one of {', '.join(LANGS)}.")
    try:
        top = int(k)
    except (TypeError, ValueError):
        raise BadInput("k must be a whole number from 1 to 50.") from None
    if not 1 <= top <= 50:
        raise BadInput("k must be a whole number from 1 to 50.")
    return {"k": top, "mode": mode, "lang": None if lang == "any" else lang}


def history_pairs(value: Any) -> list[tuple[str, str]]:
    """The API's `history`: earlier [question, answer] pairs."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list) or not all(
        isinstance(t, list | tuple) and len(t) == 2 and all(isinstance(x, str) for x in t)
        for t in value
    ):
        raise BadInput("history must be a list of [question, answer] pairs of strings.")
    return [(t[0], t[1]) for t in value][-MAX_TURNS:]


def file_payload(payload: Any) -> list[Upload]:
    """Gradio's raw file data (the endpoint skips preprocessing so the original name survives:
    Gradio's own copy of `a<b.txt` is `ab.txt`). Only `path` and `orig_name` are read."""
    items = payload if isinstance(payload, list) else [payload] if payload else []
    uploads = []
    for item in items:
        path = item.get("path") if isinstance(item, dict) else item
        if not isinstance(path, str) or not path:
            raise BadInput("files must be uploaded files.")
        name = item.get("orig_name") if isinstance(item, dict) else None
        uploads.append(Upload(Path(path), name if isinstance(name, str) and name else path))
    return uploads


def text_of(value: Any, key: str) -> str:
    """`value[key]` when `value` is a dict holding a string there, else ''."""
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else ""


__all__ = ["LANGS", "MODES", "file_payload", "history_pairs", "search_options", "text_of"]
