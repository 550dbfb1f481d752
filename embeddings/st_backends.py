"""A sentence-transformers model run by OpenVINO or ONNX Runtime instead of torch.

`sentence-transformers:<path>?backend=openvino|onnx|torch[&precision=f32|bf16]` (bf16:
OpenVINO only, on CPUs that run it natively). For openvino and onnx the model is loaded with
sentence-transformers as usual, then its whole module chain (transformer, pooling, any dense
layers, Normalize) is exported with `torch.onnx.export` into a bytes buffer and compiled, so
the model's own pooling and `max_seq_length` apply; tokenising stays the model's own
`preprocess`. At load the exported graph is checked against torch on a few texts and refused
below `MIN_COSINE`. It does not use optimum, quantise to int8, write files or fetch anything:
the export is redone on every load (a few seconds).
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import runtimes
from embeddings.errors import ModelNotAvailable
from embeddings.runtimes import Runner

log = logging.getLogger(__name__)

BACKENDS = ("torch", "openvino", "onnx")
# the module that runs each exported backend (torch needs nothing more than the st extra)
_RUNTIME = {"openvino": "openvino", "onnx": "onnxruntime"}
# what each backend can be asked for; bf16 is OpenVINO's on CPUs with AVX512_BF16 or AMX (it
# falls back to f32 elsewhere, and the manifest records what ran)
PRECISIONS = {"torch": ("f32",), "onnx": ("f32",), "openvino": ("f32", "bf16")}
MIN_COSINE = 0.999  # exported graph vs torch: below this the backend is refused
BATCH_SIZE = 32  # as SentenceTransformer.encode, so both backends see the same batches
# Checked at load: padding (texts of unequal length), one text alone, punctuation, no letters.
PROBE_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Één zin in het Nederlands, met accenten: café, naïef.",
    "x",
    "Tabel 3 ~ 12,5 % ± 0,2 (n = 481) — zie §4.2 & bijlage B.",
)


def split_spec(arg: str) -> tuple[str, str, str]:
    """`<path>[?backend=X][&precision=Y]` -> (path, backend, precision); torch and f32 when
    not named."""
    if Path(arg).expanduser().exists():  # a folder whose name holds a '?'
        return arg, "torch", "f32"
    path, sep, options = arg.partition("?")
    chosen = {"backend": "torch", "precision": "f32"}
    for option in options.split("&") if sep else ():
        key, eq, value = option.partition("=")
        if key not in chosen or not eq:
            raise ModelNotAvailable(
                f"Unknown option {option!r} in sentence-transformers:{arg}; the options are "
                "backend=" + "|".join(BACKENDS) + " and precision=f32|bf16 (openvino only)"
            )
        chosen[key] = value
    if not path:
        raise ModelNotAvailable(
            "Name the model: sentence-transformers:<local model folder>[?backend=...]"
        )
    check_backend(chosen["backend"], chosen["precision"])
    return path, chosen["backend"], chosen["precision"]


def check_backend(backend: str, precision: str = "f32") -> None:
    if backend not in BACKENDS:
        raise ModelNotAvailable(
            f"Unknown backend {backend!r} for sentence-transformers; choose one of: "
            + ", ".join(BACKENDS)
        )
    if precision not in PRECISIONS[backend]:
        raise ModelNotAvailable(
            f"backend={backend} runs precision "
            + " or ".join(PRECISIONS[backend])
            + f", not {precision!r}"
        )


def check_runtime(backend: str) -> None:
    """The package that runs `backend` is installed (said before the slow import of torch)."""
    if backend in _RUNTIME:
        from citeqa.extras import check

        check(_RUNTIME[backend], "fast")


def dtype_name(model: Any) -> str:
    """The precision of the model's weights: f32, f16 or bf16."""
    import torch

    dtype = next(model.parameters()).dtype
    return {torch.float16: "f16", torch.bfloat16: "bf16"}.get(dtype, "f32")


def encode_torch(model: Any, texts: Sequence[str]) -> np.ndarray:
    """The reference: sentence-transformers' own encode, L2-normalised float32."""
    vectors = model.encode(list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)


class ExportedModel:
    """One sentence-transformers model's module chain as an ONNX graph on `backend`.

    `encode(texts)` matches `encode_torch` (cosine >= MIN_COSINE, checked at load): the same
    tokens (the model's `preprocess`, truncation at `max_seq_length`), batches of 32 texts
    sorted by length, the model's pooling, then L2 normalisation.
    """

    def __init__(
        self, model: Any, backend: str, threads: int | None = None, precision: str = "f32"
    ) -> None:
        if backend not in _RUNTIME:
            raise ModelNotAvailable(f"No exported graph for backend {backend!r}")
        check_backend(backend, precision)
        check_runtime(backend)
        self._model = model
        self.backend = backend
        self._lock = threading.Lock()  # an OpenVINO infer request serves one call at a time
        blob, self._inputs = export(model)
        if backend == "openvino":
            self._run, self.precision = _openvino(blob, threads or 0, precision)
        else:
            self._run, self.precision = _onnxruntime(blob, threads or 0)
        cosine = float(
            np.min(np.sum(self.encode(PROBE_TEXTS) * encode_torch(model, PROBE_TEXTS), axis=1))
        )
        if cosine < MIN_COSINE:
            raise ModelNotAvailable(
                f"backend={backend} gives vectors that differ from torch's for this model "
                f"(cosine {cosine:.4f} < {MIN_COSINE}); use backend=torch"
            )
        log.info(
            "%s (%s): cosine %.5f vs torch on the probe texts", backend, self.precision, cosine
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # as encode: longest first
        out: np.ndarray | None = None
        for start in range(0, len(texts), BATCH_SIZE):
            part = order[start : start + BATCH_SIZE]
            with self._lock:  # a fast tokenizer that pads and truncates is not reentrant either
                features = self._model.preprocess([texts[i] for i in part])
                feed = {name: features[name].numpy().astype(np.int64) for name in self._inputs}
                vectors = self._run(feed)
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[part] = vectors
        if out is None:
            raise ValueError("encode() needs at least one text")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def export(model: Any) -> tuple[bytes, list[str]]:
    """The model's modules (token ids -> sentence embedding) as ONNX bytes, and the graph's
    input names (those of the model's tokenizer output: input_ids, attention_mask, ...)."""
    import torch

    features = model.preprocess(list(PROBE_TEXTS))  # unequal lengths: the mask is traced
    names = [
        name
        for name, value in features.items()
        if isinstance(value, torch.Tensor) and value.dim() == 2 and not value.is_floating_point()
    ]
    if "input_ids" not in names or "attention_mask" not in names:
        raise ModelNotAvailable(
            f"This model's tokenizer gives {sorted(features)}, not input_ids and an "
            "attention_mask; only backend=torch can run it"
        )

    class Chain(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]

    axes = {name: {0: "batch", 1: "length"} for name in names}
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes
            torch.onnx.export(
                Chain().eval(),
                tuple(features[name] for name in names),
                buffer,  # type: ignore[arg-type]  # a file object works (stubs say path)
                input_names=names,
                output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
            )
    except Exception as exc:  # torch raises many kinds for unsupported operators
        raise ModelNotAvailable(
            f"Cannot export this model to ONNX ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); use backend=torch"
        ) from exc
    return buffer.getvalue(), names


def _openvino(blob: bytes, threads: int, precision: str) -> tuple[Runner, str]:
    return runtimes.openvino(blob, threads, precision)


def _onnxruntime(blob: bytes, threads: int) -> tuple[Runner, str]:
    return runtimes.onnxruntime(blob, threads, "embedding"), "f32"
