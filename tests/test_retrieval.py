from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.settings import ChunkingConfig
from embeddings.embedders import FakeEmbedder
from embeddings.errors import BadInput
from embeddings.indexer import index_paths
from embeddings.store import Index
from frontends.langchain_adapter import CiteqaRetriever
from qa.fusion import neutral_words
from qa.retrieval import Retriever
from qa.settings import RetrievalConfig


def retriever(index: Path, embedder, **config) -> Retriever:  # type: ignore[no-untyped-def]
    return Retriever(Index(index), embedder, RetrievalConfig(**config))


def test_modes_rank_the_matching_passage_first(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    r = retriever(small_index, fake_embedder)
    for mode in ("dense", "bm25", "hybrid"):
        hits = r.search("fietsen in Nederland", k=3, mode=mode)
        assert hits[0].chunk.source.endswith("nl_fiets.txt"), mode
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    hybrid = r.search("fietsen in Nederland", k=3)[0]
    assert hybrid.dense is not None and hybrid.bm25 is not None and hybrid.fused is not None


def test_bm25_stems_dutch_and_english(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    r = retriever(small_index, fake_embedder)
    assert r.search("fiets", mode="bm25")[0].chunk.source.endswith("nl_fiets.txt")
    assert r.search("sleeping cat", mode="bm25")[0].chunk.source.endswith("en_cats.txt")


def test_filters_on_language_and_source(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    r = retriever(small_index, fake_embedder)
    assert {h.chunk.lang for h in r.search("geld euro", k=10, lang="en")} == {"en"}
    hits = r.search("geld euro", k=10, source="en_budget")
    assert hits and all("en_budget" in h.chunk.source for h in hits)
    assert r.search("geld", source="nothing-like-this") == []


def test_language_aware_fusion_keeps_dense_order_across_languages(
    small_index: Path, fake_embedder
) -> None:  # type: ignore[no-untyped-def]
    # An English question: Dutch passages get no BM25 vote, English ones do.
    plain = retriever(small_index, fake_embedder, fusion="rrf")
    aware = retriever(small_index, fake_embedder, fusion="language")
    q = "How many people live in the Netherlands and how long do cats sleep"
    dense_nl = [h.chunk.row for h in plain.search(q, k=10, mode="dense") if h.chunk.lang == "nl"]
    aware_nl = [h.chunk.row for h in aware.search(q, k=10) if h.chunk.lang == "nl"]
    assert aware_nl == dense_nl  # among the other language, the dense order stands


def test_near_duplicates_collapse(small_corpus: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    from embeddings.indexer import index_paths

    copy = small_corpus / "copy.txt"
    copy.write_text((small_corpus / "en_cats.txt").read_text() + " ")  # other bytes, same text
    root = tmp_path / "ix"
    index_paths(
        [small_corpus],
        root,
        lambda: fake_embedder,
        "fake:64",
        ChunkingConfig(max_tokens=24, overlap_tokens=6),
        progress=False,
    )
    hits = retriever(root, fake_embedder).search("cats sleep", k=5)
    assert sum("Cats sleep" in h.chunk.text for h in hits) == 1


def test_bad_queries(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    r = retriever(small_index, fake_embedder)
    with pytest.raises(BadInput):
        r.search("  ")
    with pytest.raises(BadInput):
        r.search("x", mode="magic")  # type: ignore[arg-type]


def test_langchain_retriever_adapter(small_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    lc = CiteqaRetriever(retriever=retriever(small_index, fake_embedder), k=2)
    docs = lc.invoke("fietsen in Nederland")
    assert len(docs) == 2
    top = docs[0]
    assert top.metadata["source"].endswith("nl_fiets.txt")
    assert (
        Path(top.metadata["source"]).read_text()[top.metadata["start"] : top.metadata["end"]]
        == top.page_content
    )


def test_neutral_words_are_names_and_numbers() -> None:
    assert neutral_words("What did Joe Biden say to Netanyahu on 7 October?") == [
        "Joe",
        "Biden",
        "Netanyahu",
        "7",
        "October",
    ]
    assert neutral_words("Wie is de minister? Hoeveel kost het?") == []


class ScriptedEmbedder(FakeEmbedder):
    """Vectors chosen per passage, so the dense ranks are known exactly."""

    def __init__(self, angles: dict[str, float]) -> None:
        super().__init__(8)
        self.angles = angles

    def _vector(self, text: str) -> np.ndarray:
        angle = next((a for key, a in self.angles.items() if key in text), 1.5)
        vector = np.zeros(self.dim, dtype=np.float32)
        vector[0], vector[1] = np.cos(angle), np.sin(angle)
        return vector


def test_names_and_numbers_count_across_languages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # English question; dense ranks e1 > n1 > e2; BM25 on the whole question ranks e2 > e1
    # (n1 is Dutch: only the name Biden links it to the question). Without the name, n1 falls
    # behind e2; with it, n1 comes second.
    docs = {
        "e1.txt": "The minister spoke.",
        "e2.txt": "Weather, harvest, minister.",
        "n1.txt": "Rutte sprak gisteren met Biden over de oorlog en de wapenleveranties.",
    }
    for name, text in docs.items():
        (tmp_path / "docs").mkdir(exist_ok=True)
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    embedder = ScriptedEmbedder({"What did": 0.0, "spoke": 0.1, "Rutte": 0.2, "Weather,": 0.3})
    index_paths(
        [tmp_path / "docs"],
        tmp_path / "index",
        lambda: embedder,
        "fake:8",
        ChunkingConfig(max_tokens=64, overlap_tokens=0),
        progress=False,
    )
    r = Retriever(Index(tmp_path / "index"), embedder, RetrievalConfig(fusion="language"))
    q = "What did the minister tell Biden about the weather and the harvest?"
    names = lambda: [Path(h.chunk.source).name for h in r.search(q, k=3)]  # noqa: E731
    assert [Path(h.chunk.source).name for h in r.search(q, k=3, mode="dense")] == [
        "e1.txt",
        "n1.txt",
        "e2.txt",
    ]
    with_names = names()
    monkeypatch.setattr("qa.query.neutral_words", lambda question: [])
    r.clear_cache()
    without = names()
    assert without.index("n1.txt") > with_names.index("n1.txt")
