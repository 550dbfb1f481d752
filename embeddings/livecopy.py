"""What a writer starts from: the live generation, checked against the writer's embedder
and chunking and copied (its database into the writer's, its vectors, BM25 counts, row ids,
removed rows and calibration), or nothing for a new index or a rebuild.

It reads the live generation and copies it; changing and publishing the copy is
`embeddings.writer`.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embeddings.errors import IndexCorrupt, IndexMismatch
from embeddings.lexical import TermCounts
from embeddings.store import LEXICAL, Index, check_embedder

# the embedder's spec and engine: queries are embedded in the engine that embedded the documents
CARRIED = ("embedder_spec", "embedder_engine")


@dataclass
class Start:
    """A writer's starting state; the defaults are a new index's."""

    previous: Path | None = None  # the generation last published (live)
    created_at: float = field(default_factory=time.time)
    tombstones: set[int] = field(default_factory=set)  # rows removed from an HNSW graph
    max_row: int = 0  # the highest row id ever given out: ids are never reused
    calibration: dict[str, Any] | None = None
    # manifest fields a run that embeds nothing (a removal, an update by Ray) keeps
    carried: dict[str, Any] = field(default_factory=dict)
    vectors: Any = None  # the FAISS index; None until the first add of a new index
    counts: TermCounts | None = None  # the last published BM25 term counts


def copy_live(
    root: Path, db: sqlite3.Connection, embedder_id: str, chunking: dict[str, Any]
) -> Start:
    """The live generation of `root`, its database backed up into `db`. Raises
    `IndexMismatch` when it was built with another embedder or chunking."""
    live = Index(root)  # checks every file and structure before anything is used
    try:
        check_embedder(live.manifest, embedder_id, root)
        if live.manifest["chunking"] != chunking:
            raise IndexMismatch(
                f"The index at {root} was chunked with {live.manifest['chunking']}"
                f", not {chunking}. Rebuild it: "
                f"citeqa index PATH --index {root} --rebuild"
            )
        start = Start(
            previous=live.generation,
            created_at=float(live.manifest["created_at"]),
            tombstones=set(live.tombstones.tolist()),
            max_row=int(live.manifest["max_row"]),
            calibration=live.calibration,
            carried={k: live.manifest.get(k) for k in CARRIED if live.manifest.get(k)},
        )
        if live.db is not None:
            live.db.backup(db)
        start.vectors = live.faiss
        start.counts = TermCounts.load(live.generation / LEXICAL)
        return start
    except ValueError as exc:  # term counts that do not check out
        raise IndexCorrupt(f"{live.generation}: {exc}. Rebuild the index.") from exc
    finally:
        live.close()
