"""Writing a Milvus index (`embeddings.milvus_schema` has its layout): no generations, so a
document's update is a delete and an insert, visible at once; the manifest is published last."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from embeddings.errors import IndexMismatch
from embeddings.indexed import IndexedDocument
from embeddings.milvus_schema import (
    FORMAT,
    LANGUAGE_FIELD,
    PART_CHARS,
    Collections,
    MilvusSpec,
    quote,
)
from embeddings.store import text_hash

log = logging.getLogger(__name__)


class MilvusWriter:
    """Changing an index held in Milvus, with the surface `embeddings.indexer` uses of
    `IndexWriter`. Each document is deleted and inserted as a whole; there is no
    generation to publish, so `publish` and `commit` only record the manifest."""

    def __init__(
        self, index: object, embedder_id: str, chunking: dict[str, Any], rebuild: bool = False
    ) -> None:
        self.spec = MilvusSpec.parse(index)
        self.root = self.spec
        self.c = Collections(self.spec)
        self.embedder_id, self.chunking = embedder_id, chunking
        self.published = 0
        self.committed = False
        self.manifest: dict[str, Any] | None = None
        if rebuild:
            self.c.drop()
        elif self.c.exists():
            manifest = self.c.read_meta()
            if manifest.get("embedder") != embedder_id:
                raise IndexMismatch(
                    f"The index in {self.spec} was built with embedder "
                    f"{manifest.get('embedder')!r}, not {embedder_id!r}. Rebuild it: "
                    f"citeqa index PATH --index {self.spec} --rebuild"
                )
            if manifest.get("chunking") != chunking:
                raise IndexMismatch(
                    f"The index in {self.spec} was chunked with {manifest.get('chunking')}, "
                    f"not {chunking}. Rebuild it: citeqa index PATH --index {self.spec} --rebuild"
                )
            self.manifest = manifest
        # the indexer asks whether an index was there before (`None`: a first build)
        self.previous: MilvusSpec | None = self.spec if self.manifest is not None else None

    def __enter__(self) -> MilvusWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.manifest is not None:
            self.client.flush(self.c.chunks_name)

    @property
    def client(self) -> Any:
        return self.c.client

    @property
    def dim(self) -> int | None:
        return int(self.manifest["dim"]) if self.manifest is not None else None

    def ensure_vectors(self, dim: int) -> None:
        if self.manifest is None:
            self.c.create(dim)
            now = time.time()
            self.manifest = {
                "format": FORMAT, "embedder": self.embedder_id, "dim": dim,
                "metric": "inner_product", "normalized": True, "chunking": self.chunking,
                "max_row": 0, "created_at": now, "updated_at": now,
            }  # fmt: skip
            self.c.write_meta(self.manifest)
        elif int(self.manifest["dim"]) != dim:
            raise IndexMismatch(
                f"Vectors of dimension {dim} cannot go into a {self.manifest['dim']}-d index"
            )

    def known_sources(self) -> dict[str, tuple[str, int, float]]:
        if self.manifest is None:
            return {}
        out = {}
        for r in self.c.query_all(self.c.docs_name, "part == 0", ["source", "info"]):
            info = json.loads(r["info"])
            out[r["source"]] = (info["doc_id"], int(info["size"]), float(info["mtime"]))
        return out

    def vectors_by_text_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        if self.manifest is None:
            return {}
        out: dict[str, np.ndarray] = {}
        wanted = sorted(set(hashes))
        for i in range(0, len(wanted), 500):
            found = self.c.query_all(
                self.c.chunks_name, f"text_hash in [{','.join(map(quote, wanted[i : i + 500]))}]",
                ["text_hash", "vector"],
            )  # fmt: skip
            for r in found:
                out.setdefault(r["text_hash"], np.asarray(r["vector"], dtype=np.float32))
        return out

    def counts(self) -> tuple[int, int]:
        if self.manifest is None:
            return 0, 0
        docs = self.client.query(self.c.docs_name, filter="part == 0", output_fields=["count(*)"])
        chunks = self.client.query(self.c.chunks_name, filter="", output_fields=["count(*)"])
        return int(docs[0]["count(*)"]), int(chunks[0]["count(*)"])

    def touch(self, source: str, size: int, mtime: float) -> None:
        if self.manifest is None:
            return
        rows = self.client.query(
            self.c.docs_name, filter=f"source == {quote(source)} and part == 0",
            output_fields=["key", "source", "part", "info", "text", "v"],
        )  # fmt: skip
        for row in rows:
            info = json.loads(row["info"])
            info.update(size=size, mtime=mtime)
            row["info"] = json.dumps(info)
            self.client.upsert(self.c.docs_name, [row])

    def remove(self, source: str) -> int:
        if self.manifest is None:
            return 0
        expr = f"source == {quote(source)}"
        gone = self.client.delete(self.c.chunks_name, filter=expr)
        self.client.delete(self.c.docs_name, filter=expr)
        return int(gone.get("delete_count", 0)) if isinstance(gone, dict) else 0

    def add(self, entry: IndexedDocument) -> None:
        """Insert one document with its chunks and their (normalised) vectors; `terms` (the
        embedded store's BM25 input) is unused: Milvus analyses the text itself."""
        doc, chunks, vectors, langs = entry.doc, entry.chunks, entry.vectors, entry.langs
        self.ensure_vectors(int(vectors.shape[1]))
        assert self.manifest is not None
        self.remove(doc.source)
        first = int(self.manifest["max_row"]) + 1
        rows = []
        for i, (c, lang) in enumerate(zip(chunks, langs, strict=True)):
            field = LANGUAGE_FIELD["nl"] if lang == "nl" else LANGUAGE_FIELD["en"]
            rows.append(
                {
                    "id": first + i, "vector": vectors[i].astype(np.float32).tolist(),
                    "chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": doc.source,
                    "ordinal": c.ordinal, "start_char": c.start, "end_char": c.end,
                    "text": c.text, "lang": lang, "n_tokens": c.n_tokens,
                    "title": doc.title[:250], "text_hash": text_hash(c.text),
                    "text_nl": c.text if field == "text_nl" else "",
                    "text_en": c.text if field == "text_en" else "",
                }
            )  # fmt: skip
        info = {
            "doc_id": doc.doc_id, "title": doc.title, "lang": doc.lang, "pages": doc.pages,
            "size": entry.size, "mtime": entry.mtime, "indexed_at": time.time(),
        }  # fmt: skip
        parts = [doc.text[i : i + PART_CHARS] for i in range(0, len(doc.text), PART_CHARS)]
        docs = [
            {
                "key": f"{doc.source}#{n}",
                "source": doc.source,
                "part": n,
                "info": json.dumps(info) if n == 0 else "",
                "text": text,
                "v": [0.0, 0.0],
            }
            for n, text in enumerate(parts or [""])
        ]
        # the row ids first, so a crash mid-insert never hands the same ids out twice
        self.manifest["max_row"] = first + len(rows) - 1
        self.c.write_meta(self.manifest)
        for i in range(0, len(rows), 500):
            self.client.insert(self.c.chunks_name, rows[i : i + 500])
        self.client.insert(self.c.docs_name, docs)

    def publish(
        self,
        dim: int,
        extra: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
        final: bool = False,
    ) -> MilvusSpec:
        """Record the manifest (every change is already live in Milvus)."""
        self.ensure_vectors(dim)
        assert self.manifest is not None
        kept = {k: v for k, v in (extra or {}).items() if v is not None}  # see livecopy.CARRIED
        self.manifest.update(kept, updated_at=time.time())
        if calibration is not None:
            self.manifest["calibration"] = calibration
        self.c.write_meta(self.manifest)
        self.client.flush(self.c.chunks_name)
        self.published += 1
        return self.spec

    def commit(
        self,
        dim: int,
        extra: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
    ) -> MilvusSpec:
        spec = self.publish(dim, extra, calibration, final=True)
        self.committed = True
        return spec
