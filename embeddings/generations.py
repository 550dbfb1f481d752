"""The generations of an index folder: which is live, which are complete, and how a
finished folder becomes the next one (renamed into place, then CURRENT replaced, each step
fsynced), so that a kill at any moment leaves a complete generation live.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from pathlib import Path

from embeddings.errors import IndexCorrupt, IndexNotFound
from embeddings.manifest import MANIFEST, rebuild_hint

log = logging.getLogger(__name__)

GENERATION = re.compile(r"gen-\d{6,}-[0-9a-f]{6}")
BUILDING = ".building-"  # a writer's unfinished generation: `.building-<random>`


def complete_generations(root: Path) -> list[Path]:
    """`gen-*` folders with a manifest, oldest first (every one a writer renamed into place)."""
    found = [p for p in root.glob("gen-*") if GENERATION.fullmatch(p.name) and p.is_dir()]
    return sorted(p for p in found if (p / MANIFEST).is_file())


def live_generation(root: Path) -> Path:
    """The generation CURRENT names. Without CURRENT (a first build killed between renaming
    its generation and writing CURRENT) the newest complete generation; none is no index."""
    current = root / "CURRENT"
    try:
        raw = current.read_bytes()
    except FileNotFoundError:
        found = complete_generations(root) if root.is_dir() else []
        if found:
            log.warning("%s: CURRENT is missing; using %s", root, found[-1].name)
            return found[-1]
        raise IndexNotFound(
            f"No index at {root}. Build one first: citeqa index PATH [--index {root}]"
        ) from None
    except OSError as exc:
        raise IndexCorrupt(
            f"{current} cannot be read ({exc.strerror}). {rebuild_hint(root)}"
        ) from exc
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise IndexCorrupt(f"{current} is not UTF-8 text. {rebuild_hint(root)}") from None
    if not GENERATION.fullmatch(name) or not (root / name).is_dir():
        raise IndexCorrupt(
            f"{root}: CURRENT names a missing generation ({name[:40]!r}). {rebuild_hint(root)}"
        )
    return root / name


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            fsync_dir(path)
    fsync_dir(folder)


def swap_in(root: Path, stage: Path, previous: Path | None) -> Path:
    """`stage` (complete, fsynced) as the next generation of `root`, made live; the live
    one before it (`previous`) stays for readers still using it, older ones go."""
    number = 1 + max(
        (int(p.name.split("-")[1]) for p in root.glob("gen-*") if GENERATION.fullmatch(p.name)),
        default=0,
    )
    generation = root / f"gen-{number:06d}-{secrets.token_hex(3)}"
    # two generations stay: the new one and the live one. The others go before the new
    # one appears, so a kill at any moment leaves at most two.
    keep = {previous.name} if previous is not None else set()
    for gen in root.glob("gen-*"):
        if gen.name not in keep and gen.is_dir():
            shutil.rmtree(gen, ignore_errors=True)
    os.rename(stage, generation)
    fsync_dir(root)
    pointer = root / f"CURRENT.{secrets.token_hex(4)}.tmp"
    try:
        pointer.write_text(generation.name + "\n", encoding="utf-8")
        with pointer.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer, root / "CURRENT")
    finally:
        pointer.unlink(missing_ok=True)
    fsync_dir(root)
    return generation


__all__ = [
    "GENERATION",
    "complete_generations",
    "fsync_dir",
    "fsync_tree",
    "live_generation",
    "swap_in",
]


def collect_garbage(root: Path, live: Path | None) -> None:
    """Remove what no reader can be using: unfinished `.building-*` folders (the caller holds
    the lock, so their writers are dead) and generations other than `live` and the one
    published before it."""
    for stale in root.glob(f"{BUILDING}*"):
        shutil.rmtree(stale, ignore_errors=True)
    keep = {live.name} if live else set()
    gens = [g for g in root.glob("gen-*") if g.is_dir()]
    if live is not None:
        older = sorted(g for g in complete_generations(root) if g < live)
        keep |= {g.name for g in older[-1:]}
    for gen in gens:
        if gen.name not in keep:
            shutil.rmtree(gen, ignore_errors=True)
