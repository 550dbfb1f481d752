"""A Milvus collection as citeqa's store: `--index milvus:<uri>[#collection]`.

`<uri>` is what `pymilvus.MilvusClient` takes: a local file (Milvus Lite) or
`http://host:19530` (Standalone, Distributed). Three collections hold an index:

    <name>        one row per chunk: id (the row id), dense vector, text, offsets, language,
                  title, source, content hash; `text_en` and `text_nl`, each with its own
                  analyzer (English / Dutch Snowball) and a BM25 function into a sparse field
    <name>_docs   documents (source, id, title, language, pages, size, mtime), their text in parts
    <name>_meta   the manifest: embedder, dimension, chunking, highest row id given out

A chunk's text goes into the field of its own language (Dutch into `text_nl`, everything
else into `text_en`), as the embedded store analyses it. Searches return candidates (dense
top-k, BM25 top-k per language field, exact scores of given rows); ranking is the client's
(`qa.storesearch`). Unlike the embedded store there are no generations: a document's update is
a delete and an insert, visible at once. This module does not decide what to index.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.analysis import STOPWORDS
from embeddings.errors import BadInput, IndexMismatch, IndexNotFound
from embeddings.store import ChunkRecord, DocumentRecord, text_hash

log = logging.getLogger(__name__)

PREFIX = "milvus:"
DEFAULT_COLLECTION = "citeqa"
FORMAT = "citeqa-milvus-1"
INSTALL = "pip install 'citeqa[milvus]'"
LANGUAGE_FIELD = {"nl": "text_nl", "en": "text_en"}
_SPARSE = {"text_nl": "bm25_nl", "text_en": "bm25_en"}
_TEXT_BYTES = 65_535  # a VARCHAR's limit in Milvus
_PART_CHARS = 16_000  # document text parts: at most 4 bytes a character
_CHUNK_FIELDS = [
    "id", "chunk_id", "doc_id", "source", "ordinal", "start_char", "end_char", "text",
    "lang", "n_tokens", "title",
]  # fmt: skip
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")


def is_milvus(index: object) -> bool:
    return str(index).startswith(PREFIX)


@dataclass(frozen=True)
class MilvusSpec:
    uri: str
    collection: str = DEFAULT_COLLECTION

    @classmethod
    def parse(cls, index: object) -> MilvusSpec:
        """`milvus:<uri>[#collection]`; also from a `Path`, which folds `http://` to `http:/`."""
        text = str(index)
        if not text.startswith(PREFIX):
            raise BadInput(f"{text!r} is not a Milvus index; write milvus:<uri>[#collection]")
        uri, _, name = text[len(PREFIX) :].partition("#")
        uri = re.sub(r"^(https?|tcp|unix):/(?!/)", r"\1://", uri)
        name = name or DEFAULT_COLLECTION
        if not uri:
            raise BadInput("milvus: needs a URI: milvus:index.db or milvus:http://host:19530")
        if not _NAME.fullmatch(name):
            raise BadInput(f"Collection name {name!r}: letters, digits and _, not first a digit")
        return cls(uri, name)

    def __str__(self) -> str:
        return f"{PREFIX}{self.uri}#{self.collection}"


def _analyzer(lang: str) -> dict[str, Any]:
    """The chunk field's analyzer: citeqa's own analysis (`embeddings.analysis`) in Milvus
    terms: words, lowercased, diacritics folded, stopwords dropped, Snowball-stemmed."""
    stemmer = {"nl": "dutch", "en": "english"}[lang]
    return {
        "tokenizer": "standard",
        "filter": [
            "lowercase",
            "asciifolding",
            {"type": "stop", "stop_words": sorted(STOPWORDS[lang])},
            {"type": "stemmer", "language": stemmer},
        ],
    }


def _pkg_resources_shim() -> None:
    """milvus-lite 2.5.1 reads its version with `pkg_resources`, gone from setuptools>=81;
    its only use there, so a stand-in from importlib.metadata spares pinning setuptools<70."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import importlib.metadata as metadata

        shim = types.ModuleType("pkg_resources")

        class DistributionNotFound(Exception):
            pass

        def get_distribution(name: str) -> Any:
            try:
                return types.SimpleNamespace(version=metadata.version(name))
            except metadata.PackageNotFoundError:
                raise DistributionNotFound(name) from None

        shim.DistributionNotFound = DistributionNotFound  # type: ignore[attr-defined]
        shim.get_distribution = get_distribution  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim


def connect(uri: str) -> Any:
    """A `MilvusClient` for `uri`; Milvus Lite for a local file (no server, nothing fetched)."""
    _pkg_resources_shim()
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise BadInput(f"The Milvus store needs pymilvus and milvus-lite: {INSTALL}") from exc
    try:
        return MilvusClient(uri)
    except Exception as exc:  # pymilvus raises many kinds; one line for the user
        raise BadInput(f"Cannot open Milvus at {uri}: {str(exc).splitlines()[0][:200]}") from exc


def quote(text: str) -> str:
    """A string literal for a Milvus filter expression (milvus-lite 2.5.1 has no templates)."""
    return json.dumps(text, ensure_ascii=False)


def _literal(values: Iterable[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


class _Collections:
    """The three collections of one index and the helpers both reader and writer use."""

    def __init__(self, spec: MilvusSpec, client: Any | None = None) -> None:
        self.spec = spec
        self.client = client if client is not None else connect(spec.uri)
        self.chunks_name = spec.collection
        self.docs_name = f"{spec.collection}_docs"
        self.meta_name = f"{spec.collection}_meta"

    def exists(self) -> bool:
        return bool(self.client.has_collection(self.meta_name))

    def read_meta(self) -> dict[str, Any]:
        rows = self.client.query(
            self.meta_name, filter="key == 'manifest'", output_fields=["value"]
        )
        if not rows:
            raise IndexNotFound(
                f"No index in {self.spec}. Build one first: citeqa index PATH --index {self.spec}"
            )
        return dict(json.loads(rows[0]["value"]))

    def write_meta(self, manifest: dict[str, Any]) -> None:
        self.client.upsert(
            self.meta_name, [{"key": "manifest", "value": json.dumps(manifest), "v": [0.0, 0.0]}]
        )

    def drop(self) -> None:
        for name in (self.chunks_name, self.docs_name, self.meta_name):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def create(self, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for name, length in (("chunk_id", 64), ("doc_id", 64), ("source", 4096)):
            schema.add_field(name, DataType.VARCHAR, max_length=length)
        for name in ("ordinal", "start_char", "end_char", "n_tokens"):
            schema.add_field(name, DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=_TEXT_BYTES)
        schema.add_field("lang", DataType.VARCHAR, max_length=16)
        schema.add_field("title", DataType.VARCHAR, max_length=1024)
        schema.add_field("text_hash", DataType.VARCHAR, max_length=32)
        for lang, field in LANGUAGE_FIELD.items():
            schema.add_field(
                field, DataType.VARCHAR, max_length=_TEXT_BYTES, enable_analyzer=True,
                analyzer_params=_analyzer(lang),
            )  # fmt: skip
            schema.add_field(_SPARSE[field], DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name=f"{field}_bm25", function_type=FunctionType.BM25,
                    input_field_names=[field], output_field_names=[_SPARSE[field]],
                )
            )  # fmt: skip
        index = c.prepare_index_params()
        # exact inner product, as the embedded store below 50k chunks (Lite has FLAT, IVF_FLAT
        # and AUTOINDEX; a server would take HNSW here)
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        for sparse in _SPARSE.values():
            index.add_index(sparse, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        c.create_collection(
            self.chunks_name, schema=schema, index_params=index, consistency_level="Strong"
        )
        docs = c.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("key", DataType.VARCHAR, is_primary=True, max_length=4200)
        docs.add_field("source", DataType.VARCHAR, max_length=4096)
        docs.add_field("part", DataType.INT64)
        docs.add_field("info", DataType.VARCHAR, max_length=_TEXT_BYTES)  # JSON, part 0 only
        docs.add_field("text", DataType.VARCHAR, max_length=_TEXT_BYTES)
        docs.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field
        self._create_small(self.docs_name, docs)
        meta = c.create_schema(auto_id=False, enable_dynamic_field=False)
        meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        meta.add_field("value", DataType.VARCHAR, max_length=_TEXT_BYTES)
        meta.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        self._create_small(self.meta_name, meta)

    def _create_small(self, name: str, schema: Any) -> None:
        index = self.client.prepare_index_params()
        index.add_index("v", index_type="FLAT", metric_type="L2")
        self.client.create_collection(
            name, schema=schema, index_params=index, consistency_level="Strong"
        )

    def query_all(self, name: str, expr: str, fields: list[str], **params: Any) -> list[dict]:
        """Every row matching `expr` (pages through the query iterator)."""
        out: list[dict] = []
        iterator = self.client.query_iterator(
            name, batch_size=1000, filter=expr, output_fields=fields, **params
        )
        try:
            while batch := iterator.next():
                out.extend(batch)
        finally:
            iterator.close()
        return out


def _record(row: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(
        int(row["id"]), row["chunk_id"], row["doc_id"], row["source"], int(row["ordinal"]),
        int(row["start_char"]), int(row["end_char"]), row["text"], row["lang"],
        int(row["n_tokens"]), row["title"],
    )  # fmt: skip


class MilvusStore:
    """Reading an index held in Milvus: the `embeddings.stores.Store` contract, plus BM25
    candidates per language field for the client-side fusion."""

    def __init__(self, index: object, expect_embedder: str | None = None, client: Any = None):
        self.spec = MilvusSpec.parse(index)
        # what messages name; as a Path, a reload check (qa.service) finds no generation
        # file under it and keeps this store: Milvus has no generations to swap
        self.root = Path(str(self.spec))
        self.generation = self.root
        self.c = _Collections(self.spec, client)
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
        return f"id in {_literal(allowed)}" if allowed is not None else ""

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
            self.c.chunks_name, data=[query], anns_field=_SPARSE[field],
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
                self.c.chunks_name, filter=f"id in {_literal(part)}", output_fields=_CHUNK_FIELDS
            ):
                out[int(r["id"])] = _record(r)
        return out

    def iter_chunks(self) -> Iterator[ChunkRecord]:
        rows = self.c.query_all(self.c.chunks_name, "id >= 0", _CHUNK_FIELDS)
        yield from (_record(r) for r in sorted(rows, key=lambda r: int(r["id"])))

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, int(self.manifest["dim"])), dtype=np.float32)
        found = {
            int(r["id"]): r["vector"]
            for r in self.client.query(
                self.c.chunks_name, filter=f"id in {_literal(rows)}", output_fields=["vector"]
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


class MilvusWriter:
    """Changing an index held in Milvus, with the surface `embeddings.indexer` uses of
    `IndexWriter`. Each document is deleted and inserted as a whole; there is no
    generation to publish, so `publish` and `commit` only record the manifest."""

    def __init__(
        self, index: object, embedder_id: str, chunking: dict[str, Any], rebuild: bool = False
    ) -> None:
        self.spec = MilvusSpec.parse(index)
        self.root = self.spec
        self.c = _Collections(self.spec)
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

    def add(
        self,
        doc: Any,
        size: int,
        mtime: float,
        chunks: Sequence[Any],
        vectors: np.ndarray,
        langs: Sequence[str],
        terms: Sequence[str],
    ) -> None:
        """Insert one document with its chunks and their (normalised) vectors; `terms` (the
        embedded store's BM25 input) is unused: Milvus analyses the text itself."""
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
            "size": size, "mtime": mtime, "indexed_at": time.time(),
        }  # fmt: skip
        parts = [doc.text[i : i + _PART_CHARS] for i in range(0, len(doc.text), _PART_CHARS)]
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
        kept = {k: v for k, v in (extra or {}).items() if v is not None}  # see writer.CARRIED
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
