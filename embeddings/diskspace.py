"""A full disk, said in one line: which disk, how much is free, how much the write needs.

This module only describes; the writer decides when a write failed for want of space.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from pathlib import Path

from embeddings.errors import DiskFull


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or EDQUOT, from Python, SQLite (SQLITE_FULL) or FAISS."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == 13 or "disk is full" in str(exc)
    return isinstance(exc, RuntimeError) and "No space left" in str(exc)


def mount_of(path: Path) -> tuple[str, str]:
    """(mount point, device) of the file system holding `path`."""
    point = Path(os.path.realpath(path))
    while not os.path.ismount(point) and point != point.parent:
        point = point.parent
    device = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 1 and parts[1] == str(point):
                device = parts[0]
    return str(point), device


def size_text(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 2**10:,.0f} KiB"


def tree_size(folder: Path | None) -> int:
    if folder is None or not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def disk_full(root: Path, need: int, published: bool) -> DiskFull:
    free = shutil.disk_usage(root).free
    point, device = mount_of(root)
    state = "the last published generation stays live" if published else "nothing was published"
    return DiskFull(
        f"The disk holding {root} is full ({device} at {point}, {size_text(free)} free); "
        f"the new generation needs at least {size_text(need)}. Free some space or use "
        f"--index on another disk; {state}."
    )
