"""The files an index is built from: every supported file below the paths given, each with
the reason it cannot be read where there is one.

It lists; it does not open the files (`embeddings.documents`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from citeqa.errors import BadInput
from embeddings.reading import READERS


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Every supported file under `paths` (recursively), as (path, reason-to-skip or None).

    A folder that cannot be listed comes with its reason. Symlinked folders are not
    followed (no loops); hidden files and folders are ignored; any depth works (no
    recursion). Files come depth first, in name order.
    """
    seen: set[str] = set()
    for root in paths:
        if not root.exists():
            raise BadInput(f"{root}: no such file or folder")
        if root.is_file():
            yield (
                root,
                None
                if root.suffix.lower() in READERS
                else (f"unsupported file type {root.suffix or '(none)'}"),
            )
            continue
        for path, reason in _walk(root):
            if reason is None:
                real = os.path.realpath(path)  # not Path.resolve(): it raises on a link loop
                if real in seen:
                    continue
                seen.add(real)
            yield path, reason


def _walk(root: Path) -> Iterator[tuple[Path, str | None]]:
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            yield folder, f"cannot list the folder: {exc.strerror or exc}"
            continue
        below = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:  # a link loop or a broken link: a file, whose stat will fail
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    below.append(folder / entry.name)
            elif Path(entry.name).suffix.lower() in READERS:
                yield folder / entry.name, None
        folders.extend(reversed(below))
