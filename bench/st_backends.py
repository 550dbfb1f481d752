"""A local sentence-transformers model on ONNX Runtime and OpenVINO, for bench/embed_levers.py.

sentence-transformers' own `backend="onnx"`/`"openvino"` and `export_dynamic_quantized_onnx_model`
need optimum-onnx / optimum-intel, which pin transformers<4.58 / <5.6 (citeqa runs 5.x), so
this module does what they do with the runtimes directly: export the model's transformer
with `torch.onnx.export`, quantize it dynamically with onnxruntime (int8 weights, uint8
activations, per tensor: ST's "avx512_vnni" recipe), and run tokenizer -> graph -> mean
pooling -> L2 normalisation like the model's modules.json says. Offline; writes only under
the folder it is given. Not part of citeqa: a benchmark harness.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model_dir: Path, target: Path) -> Path:
    """fp32 ONNX graph of the model's transformer (token embeddings out), dynamic batch/length."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    target.mkdir(parents=True, exist_ok=True)
    out = target / "model.onnx"
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # padding in the example, so the traced graph keeps the attention-mask path
    example = tokenizer(["a short one", "and a longer example sentence"], padding=True)
    args = tuple(torch.tensor(example[name]) for name in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")}
    with torch.no_grad():
        torch.onnx.export(
            TokenEmbeddings(model),
            args,
            str(out),
            input_names=list(INPUTS),
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs no onnxscript
        )
    return out


def quantize_int8(onnx_path: Path, target: Path) -> Path:
    """Dynamic int8 quantization, as sentence-transformers' 'avx512_vnni' config does it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = target / "model_qint8.onnx"
    quantize_dynamic(
        str(onnx_path),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=False,
        reduce_range=False,
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )
    return out


class GraphEmbedder:
    """citeqa's Embedder contract over an ONNX graph run by onnxruntime or OpenVINO."""

    def __init__(
        self,
        model_dir: Path,
        graph: Path,
        runtime: str,
        embedder_id: str,
        precision: str | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config.get("max_seq_length", 256))
        self.id = embedder_id  # the id citeqa's index records for this model, whatever runs it
        self.runtime = runtime
        if runtime == "onnxruntime":
            import onnxruntime as ort

            self._session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
            names = {i.name for i in self._session.get_inputs()}
        elif runtime == "openvino":
            import openvino as ov

            core = ov.Core()
            # OpenVINO's default precision is bf16 on CPUs with AVX512_BF16 or AMX
            config = {"INFERENCE_PRECISION_HINT": precision} if precision else {}
            self._compiled = core.compile_model(core.read_model(str(graph)), "CPU", config)
            self.hint = ", ".join(
                f"{key}={self._compiled.get_property(key)}"
                for key in ("PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT")
            )
            names = {n for port in self._compiled.inputs for n in port.get_names()}
        else:
            raise ValueError(f"unknown runtime {runtime!r}")
        self._inputs = [n for n in INPUTS if n in names]
        self.dim = int(self._forward(["x"]).shape[1])

    def _forward(self, texts: Sequence[str]) -> np.ndarray:
        batch = self._tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="np",
        )
        feeds = {n: np.asarray(batch[n], dtype=np.int64) for n in self._inputs}
        if self.runtime == "onnxruntime":
            tokens = self._session.run(None, feeds)[0]
        else:
            tokens = self._compiled(feeds)[self._compiled.output(0)]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # longest first, as SentenceTransformer.encode orders a call's texts
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(order), batch_size):
            picked = order[i : i + batch_size]
            out[picked] = self._forward([texts[j] for j in picked])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._forward([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
