"""Whether a path lies below a folder, by whole path components: `/a/bc` is not below `/a/b`.

String work only: nothing on disk is resolved (pass `os.path.realpath` paths where links
matter). Used for index roots (`embeddings.plan`) and the uploads folder (`qa.names`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def is_below(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """`path` is `folder` or inside it. A relative and an absolute path never are."""
    try:
        return os.path.commonpath([path, folder]) == os.path.normpath(folder)
    except ValueError:  # one relative, one absolute (or different drives)
        return False


def below_any(path: str | os.PathLike[str], folders: Iterable[str | os.PathLike[str]]) -> bool:
    """`is_below` one of `folders`."""
    return any(is_below(path, folder) for folder in folders)


__all__ = ["below_any", "is_below"]
