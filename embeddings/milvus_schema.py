"""A Milvus collection as citeqa's store, `--index milvus:<uri>[#collection]`: its layout,
the connection and the small helpers the reader (`milvus_store`) and the writer
(`milvus_writer`) share.

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
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from embeddings.analysis import STOPWORDS
from embeddings.errors import BadInput, IndexNotFound
from embeddings.store import ChunkRecord

log = logging.getLogger(__name__)

PREFIX = "milvus:"
DEFAULT_COLLECTION = "citeqa"
FORMAT = "citeqa-milvus-1"
INSTALL = "pip install 'citeqa[milvus]'"
LANGUAGE_FIELD = {"nl": "text_nl", "en": "text_en"}
SPARSE_FIELD = {"text_nl": "bm25_nl", "text_en": "bm25_en"}
TEXT_BYTES = 65_535  # a VARCHAR's limit in Milvus
PART_CHARS = 16_000  # document text parts: at most 4 bytes a character
CHUNK_FIELDS = [
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


def literal(values: Iterable[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


class Collections:
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
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("lang", DataType.VARCHAR, max_length=16)
        schema.add_field("title", DataType.VARCHAR, max_length=1024)
        schema.add_field("text_hash", DataType.VARCHAR, max_length=32)
        for lang, field in LANGUAGE_FIELD.items():
            schema.add_field(
                field, DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True,
                analyzer_params=_analyzer(lang),
            )  # fmt: skip
            schema.add_field(SPARSE_FIELD[field], DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name=f"{field}_bm25", function_type=FunctionType.BM25,
                    input_field_names=[field], output_field_names=[SPARSE_FIELD[field]],
                )
            )  # fmt: skip
        index = c.prepare_index_params()
        # exact inner product, as the embedded store below 50k chunks (Lite has FLAT, IVF_FLAT
        # and AUTOINDEX; a server would take HNSW here)
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        for sparse in SPARSE_FIELD.values():
            index.add_index(sparse, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        c.create_collection(
            self.chunks_name, schema=schema, index_params=index, consistency_level="Strong"
        )
        docs = c.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("key", DataType.VARCHAR, is_primary=True, max_length=4200)
        docs.add_field("source", DataType.VARCHAR, max_length=4096)
        docs.add_field("part", DataType.INT64)
        docs.add_field("info", DataType.VARCHAR, max_length=TEXT_BYTES)  # JSON, part 0 only
        docs.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
        docs.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field
        self._create_small(self.docs_name, docs)
        meta = c.create_schema(auto_id=False, enable_dynamic_field=False)
        meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        meta.add_field("value", DataType.VARCHAR, max_length=TEXT_BYTES)
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


def record(row: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(
        int(row["id"]), row["chunk_id"], row["doc_id"], row["source"], int(row["ordinal"]),
        int(row["start_char"]), int(row["end_char"]), row["text"], row["lang"],
        int(row["n_tokens"]), row["title"],
    )  # fmt: skip
