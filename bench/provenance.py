"""Which code a benchmark measured: the git version, '-dirty' with uncommitted changes.

Shared by the scripts in bench/ that record it in their results.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def source_version() -> str:
    """The commit measured, '-dirty' when the working tree had uncommitted changes."""
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"
