"""Reading a Milvus index (`embeddings.milvus_schema` has its layout): candidates for
`qa.storesearch` (dense top-k, BM25 top-k per language field, exact scores of given rows),
chunks, documents and their text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import IndexMismatch, IndexNotFound
from embeddings.milvus_schema import (
    CHUNK_FIELDS,
    LANGUAGE_FIELD,
    SPARSE_FIELD,
    Collections,
    MilvusSpec,
    literal,
    quote,
    record,
)
from embeddings.store import ChunkRecord, DocumentRecord

log = logging.getLogger(__name__)


class MilvusStore:
    """Reading an index held in Milvus: the `embeddings.stores.Store` contract, plus BM25
    candidates per language field for the client-side fusion."""

    def __init__(self, index: object, expect_embedder: str | None = None, client: Any = None):
        self.spec = MilvusSpec.parse(index)
        # what messages name; as a Path, a reload check (qa.service) finds no generation
        # file under it and keeps this store: Milvus has no generations to swap
        self.root = Path(str(self.spec))
        self.generation = self.root
        self.c = Collections(self.spec, client)
        if not self.c.exists():
            raise IndexNotFound(
                f"No index in {self.spec}. Build one first: citeqa index PATH --index {self.spec}"
            )
        self.manifest = self.c.read_meta()
        if expect_embedder is not None and self.manifest.get("embedder") != expect_embedder:
            raise IndexMismatch(
                f"The index in {self.spec} was built with embedder "
                f"{self.manifest.get('embedder')!r}, not {expect_embedder!r}. Search it with "
                f"--embedder {self.manifest.get('embedder')}, or rebuild it with --rebuild"
            )
        self.client = self.c.client

    @property
    def embedder(self) -> str:
        return str(self.manifest["embedder"])

    @property
    def calibration(self) -> dict[str, Any] | None:
        value = self.manifest.get("calibration")
        return value if isinstance(value, dict) else None

    def __len__(self) -> int:
        stats = self.client.query(self.c.chunks_name, filter="", output_fields=["count(*)"])
        return int(stats[0]["count(*)"]) if stats else 0

    def close(self) -> None:
        """The client is shared by the process (pymilvus caches connections); nothing to do."""

    def _filter(self, allowed: np.ndarray | None) -> str:
        return f"id in {literal(allowed)}" if allowed is not None else ""

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(row id, inner product) of the `k` nearest chunks, best first."""
        if k <= 0 or (allowed is not None and not len(allowed)):
            return []
        found = self.client.search(
            self.c.chunks_name, data=[np.asarray(query, dtype=np.float32).tolist()],
            anns_field="vector", limit=min(k, 16_384), filter=self._filter(allowed),
            search_params={"metric_type": "IP"}, output_fields=["id"],
        )  # fmt: skip
        return [(int(h["id"]), float(h["distance"])) for h in found[0]]

    def bm25(
        self, query: str, lang: str, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """BM25 top-k of the chunks in `lang`'s field, the query analysed as that field is."""
        field = LANGUAGE_FIELD.get(lang, "text_en")
        if k <= 0 or not query.strip() or (allowed is not None and not len(allowed)):
            return []
        found = self.client.search(
            self.c.chunks_name, data=[query], anns_field=SPARSE_FIELD[field],
            limit=min(k, 16_384), filter=self._filter(allowed),
            search_params={"metric_type": "BM25"}, output_fields=["id"],
        )  # fmt: skip
        return [(int(h["id"]), float(h["distance"])) for h in found[0] if h["distance"] > 0]

    def rows_where(self, lang: str | None = None, source: str | None = None) -> np.ndarray:
        """Row ids of the chunks in `lang` and/or whose source contains `source`."""
        clauses = []
        if lang:
            clauses.append(f"lang == {quote(lang)}")
        if source:
            # LIKE narrows (a superset: `_` and `%` in `source` may match more); the exact
            # substring test is ours
            clauses.append(f"source like {quote('%' + source + '%')}")
        expr = " and ".join(clauses) or "id >= 0"
        rows = self.c.query_all(self.c.chunks_name, expr, ["id", "source"])
        rows = [r for r in rows if not source or source in r["source"]]
        return np.asarray(sorted(int(r["id"]) for r in rows), dtype=np.int64)

    def chunks(self, rows: Iterable[int]) -> dict[int, ChunkRecord]:
        rows = list(rows)
        out: dict[int, ChunkRecord] = {}
        for i in range(0, len(rows), 1000):
            part = rows[i : i + 1000]
            for r in self.client.query(
                self.c.chunks_name, filter=f"id in {literal(part)}", output_fields=CHUNK_FIELDS
            ):
                out[int(r["id"])] = record(r)
        return out

    def iter_chunks(self) -> Iterator[ChunkRecord]:
        rows = self.c.query_all(self.c.chunks_name, "id >= 0", CHUNK_FIELDS)
        yield from (record(r) for r in sorted(rows, key=lambda r: int(r["id"])))

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, int(self.manifest["dim"])), dtype=np.float32)
        found = {
            int(r["id"]): r["vector"]
            for r in self.client.query(
                self.c.chunks_name, filter=f"id in {literal(rows)}", output_fields=["vector"]
            )
        }
        return np.asarray([found[int(r)] for r in rows], dtype=np.float32)

    def _doc_infos(self) -> list[dict[str, Any]]:
        rows = self.c.query_all(self.c.docs_name, "part == 0", ["source", "info"])
        return [{"source": r["source"], **json.loads(r["info"])} for r in rows]

    def documents(self) -> list[DocumentRecord]:
        counts: dict[str, int] = {}
        for r in self.c.query_all(self.c.chunks_name, "id >= 0", ["source"]):
            counts[r["source"]] = counts.get(r["source"], 0) + 1
        return sorted(
            (
                DocumentRecord(
                    d["source"],
                    d["doc_id"],
                    d["title"],
                    d["lang"],
                    int(d["size"]),
                    float(d["mtime"]),
                    counts.get(d["source"], 0),
                )
                for d in self._doc_infos()
            ),
            key=lambda d: d.source,
        )

    def document_pages(self, source: str) -> list[tuple[int, int]]:
        """(start offset, page number) pairs of a paged document; empty otherwise."""
        rows = self.client.query(
            self.c.docs_name, filter=f"source == {quote(source)} and part == 0",
            output_fields=["info"],
        )  # fmt: skip
        pages = json.loads(rows[0]["info"]).get("pages", []) if rows else []
        return [(int(start), int(number)) for start, number in pages]

    def document_text(self, source: str) -> str | None:
        parts = self.c.query_all(self.c.docs_name, f"source == {quote(source)}", ["part", "text"])
        if not parts:
            return None
        return "".join(p["text"] for p in sorted(parts, key=lambda p: int(p["part"])))
