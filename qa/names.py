"""Documents as remote clients see them: named relative to the collection, never by the
server's absolute path (which tells a client the server's user, folders and layout).

The index keeps each document's real path (`source`), which `citeqa index` needs to notice
changed and removed files. The API and MCP show instead the path below the folder that the
collection's documents share, and files added from the chat UI as `uploads/NAME`. The name
is for reading; `doc_id` stays the document's identifier.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from citeqa.paths import is_below
from embeddings.store import Index

UPLOADS = "uploads"

_cache: weakref.WeakKeyDictionary[Index, dict[str, str]] = weakref.WeakKeyDictionary()


def public_names(sources: Iterable[str], uploads: str | None = None) -> dict[str, str]:
    """source -> its name below the collection's shared folder (`uploads/...` for files
    under `uploads`)."""
    sources = list(sources)
    inside = {s for s in sources if uploads and is_below(s, uploads)}
    rest = [s for s in sources if s not in inside]
    names = {s: f"{UPLOADS}/{PurePath(os.path.relpath(s, uploads)).as_posix()}" for s in inside}
    if rest:
        try:
            shared = os.path.commonpath([os.path.dirname(s) for s in rest])
        except ValueError:  # relative and absolute paths mixed: file names only
            shared = None
        for s in rest:
            name = os.path.relpath(s, shared) if shared is not None else os.path.basename(s)
            names[s] = PurePath(name).as_posix()
    return names


def names_of(index: Index) -> dict[str, str]:
    """`public_names` of an index generation's documents, computed once per generation."""
    names = _cache.get(index)
    if names is None:
        uploads = os.path.realpath(index.root / UPLOADS)
        names = public_names((d.source for d in index.documents()), uploads)
        _cache[index] = names
    return names


def publish(payload: dict[str, Any], index: Index) -> dict[str, Any]:
    """`payload` (an answer's or a search's JSON) with every `source` in its citations,
    related passages, hits and documents replaced by the document's public name."""
    names = names_of(index)
    out = dict(payload)
    for key in ("citations", "related", "hits", "documents"):
        if isinstance(out.get(key), list):
            out[key] = [
                {**item, "source": names.get(item["source"], PurePath(item["source"]).name)}
                if isinstance(item, dict) and "source" in item
                else item
                for item in out[key]
            ]
    return out


__all__ = ["names_of", "public_names", "publish"]
