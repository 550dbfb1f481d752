"""Document-level signals: counts, scores, and the fusion that beats a document's best chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.settings import ChunkingConfig, IndexingConfig
from embeddings.analysis import analyse, analyse_query
from embeddings.embedders import FakeEmbedder
from embeddings.indexer import index_paths
from embeddings.lexical import LexicalIndex, TermCounts
from embeddings.store import Index
from qa.doclevel import DocumentLevel, document_counts
from qa.retrieval import Retriever
from qa.settings import RetrievalConfig

QUERY = "solar panels, batteries and inverters for a house"
FILLER = (
    "Cooking pasta takes ten minutes in salted water, and the sauce can simmer meanwhile. "
    "Fresh basil goes in at the end, with grated cheese and a little olive oil. "
    "Some cooks add a spoon of the cooking water to bind the sauce to the pasta. "
)
# The relevant document answers every part of the question, one part per sentence (so one
# part per chunk); each distractor holds one or two parts in one short sentence, so its one
# chunk beats every chunk of the relevant document, on BM25 and on dense similarity.
SPREAD = {
    "house.txt": (
        "Last spring we put solar cells on the roof, twelve of them in a neat row. "
        "The batteries in the garage keep what the roof makes during the day for later. "
        "Two inverters turn that stored current into something the sockets can use. "
        "The panels face south and were cleaned once by a man with a long brush. "
        "Our house now buys almost nothing from the grid in summer."
    ),
    "d1.txt": "Solar panels got cheap again since May.",
    "d2.txt": "Spare batteries, new inverters: sold out since May.",
    "d3.txt": "Solar, solar, solar: the word of the year.",
    "d4.txt": "Inverters hum at night.",
    "pasta.txt": FILLER,
}
# Dense vectors as angles from the question's (0): the distractors' chunks are closer than
# any chunk of the house, whose chunks lie on both sides of the question, so their mean
# points at it (what a document-level vector is for).
ANGLES = {
    "Last spring": 0.5, "The batteries": -0.5, "Two inverters": 0.5, "The panels": -0.5,
    "Our house": 0.5, "Solar panels got": 0.2, "Spare batteries": 0.25, "Solar, solar": 0.3,
    "Inverters hum": 0.35, "solar panels, batteries": 0.0,
}  # fmt: skip

NO_WHOLE = IndexingConfig(document_vectors=False)  # indexing.document_vectors=false


class AngleEmbedder(FakeEmbedder):
    """Vectors on a circle, by the first key found in the text (1.5 rad when none)."""

    def __init__(self) -> None:
        super().__init__(8)

    def _vector(self, text: str) -> np.ndarray:
        angle = next((a for key, a in ANGLES.items() if key in text), 1.5)
        vector = np.zeros(self.dim, dtype=np.float32)
        vector[0], vector[1] = np.cos(angle), np.sin(angle)
        return vector


def build(tmp_path: Path, docs: dict[str, str], max_tokens: int = 24, window: int = 512) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    root = tmp_path / "index"
    embedder = AngleEmbedder()
    embedder.max_tokens = window
    index_paths(
        [folder],
        root,
        lambda: embedder,
        "fake:8",
        ChunkingConfig(max_tokens=max_tokens, overlap_tokens=0),
        progress=False,
    )
    return root


def retriever(root: Path, **config: object) -> Retriever:
    return Retriever(Index(root), AngleEmbedder(), RetrievalConfig(**config))  # type: ignore[arg-type]


def ranking(root: Path, query: str, **config: object) -> list[str]:
    return [Path(h.chunk.source).name for h in retriever(root, **config).search(query, k=20)]


def test_document_counts_are_the_sum_of_chunk_counts() -> None:
    counts = TermCounts.from_terms([3, 5, 9], ["a b b", "b c", "d"])
    docs = document_counts(counts, np.array([0, 0, 1]), 2)
    vocab = docs.vocab
    as_dict = [
        {vocab[t]: int(n) for t, n in zip(docs.terms[s:e], docs.tf[s:e], strict=True)}
        for s, e in zip(docs.indptr[:-1], docs.indptr[1:], strict=True)
    ]
    assert as_dict == [{"a": 1, "b": 3, "c": 1}, {"d": 1}]


def test_document_bm25_matches_bm25_over_whole_documents(tmp_path: Path) -> None:
    root = build(tmp_path, SPREAD)
    docs = DocumentLevel(Index(root))
    assert len(docs.rows_of(docs.sources.index(str((tmp_path / "docs/house.txt").resolve())))) > 1
    # reference: BM25 built from each document's whole text (no overlap, so the same counts)
    texts = [Path(s).read_text(encoding="utf-8") for s in docs.sources]
    reference = LexicalIndex.build(
        np.arange(len(texts)), [" ".join(analyse(t, "en")) for t in texts]
    )
    terms = analyse(QUERY, "en")
    np.testing.assert_allclose(docs.bm25(terms), reference.scores(terms), rtol=1e-5)


@pytest.mark.parametrize("vector", ["best", "mean"])
def test_document_fusion_beats_the_best_chunk(tmp_path: Path, vector: str) -> None:
    root = build(tmp_path, SPREAD)
    by_chunk = list(dict.fromkeys(ranking(root, QUERY, granularity="chunk")))
    by_document = list(
        dict.fromkeys(ranking(root, QUERY, granularity="document", document_vector=vector))
    )
    assert by_chunk[:5] == ["d1.txt", "d2.txt", "d3.txt", "d4.txt", "house.txt"]
    # the house's chunks rank low, its document ranks first on document BM25 (and, with the
    # mean vector, on document dense too): it moves up among the distractors
    assert by_document.index("house.txt") <= (3 if vector == "best" else 2)


def test_hits_stay_exact_passages(tmp_path: Path) -> None:
    root = build(tmp_path, SPREAD)
    r = retriever(root, granularity="document")
    hits = r.search(QUERY, k=20)
    assert sum(Path(h.chunk.source).name == "house.txt" for h in hits) > 1
    for h in hits:
        text = Path(h.chunk.source).read_text(encoding="utf-8")
        assert text[h.chunk.start : h.chunk.end] == h.chunk.text


@pytest.mark.parametrize(
    "query", [QUERY, "Zonnepanelen op het dak van het huis, een pasta", "Solar"]
)
def test_one_passage_documents_rank_as_before(tmp_path: Path, query: str) -> None:
    # every document is one chunk (like Tatoeba's sentences): document signals equal the
    # chunk ones, so the fused order is the chunk order
    root = build(tmp_path, SPREAD, max_tokens=200)
    index = Index(root)
    docs = DocumentLevel(index)
    assert all(len(docs.rows_of(d)) == 1 for d in range(len(docs)))
    assert ranking(root, query, granularity="document") == ranking(root, query, granularity="chunk")


def test_filters_hold_with_document_signals(tmp_path: Path) -> None:
    root = build(tmp_path, SPREAD)
    r = retriever(root, granularity="document")
    hits = r.search(QUERY, k=20, source="d2")
    assert hits and all(Path(h.chunk.source).name == "d2.txt" for h in hits)


def test_each_passage_meets_the_question_stemmed_in_its_language(small_index: Path) -> None:
    index = Index(small_index)
    r = Retriever(index, FakeEmbedder(64), RetrievalConfig())
    question = "How many bicycles does the Netherlands have, fietsen?"
    dutch = np.isin(
        index.lexical.rows,
        index.rows_where(lang="nl"),
    )
    assert dutch.any() and not dutch.all()
    expected = np.where(
        dutch,
        index.lexical.scores(analyse(question, "nl")),
        index.lexical.scores(analyse(question, "en")),
    )
    np.testing.assert_allclose(r.lexical_scores(question), expected)
    both = Retriever(index, FakeEmbedder(64), RetrievalConfig(query_stemming="both"))
    np.testing.assert_allclose(
        both.lexical_scores(question), index.lexical.scores(analyse_query(question, True))
    )
    docs = r.documents()
    assert docs.dutch.sum() == 2  # nl_hulp.txt, nl_fiets.txt
    np.testing.assert_allclose(
        r.lexical_scores(question, docs),
        np.where(
            docs.dutch,
            docs.bm25(analyse(question, "nl")),
            docs.bm25(analyse(question, "en")),
        ),
    )


def test_document_vector_by_length(tmp_path: Path) -> None:
    # the house is five chunks at +-0.5 rad from the question: its mean points nearly at
    # the question, its best chunk is 0.5 rad off; the distractors are one chunk
    root = build(tmp_path, SPREAD)
    docs = DocumentLevel(Index(root))
    house = docs.sources.index(str((tmp_path / "docs/house.txt").resolve()))
    d1 = docs.sources.index(str((tmp_path / "docs/d1.txt").resolve()))
    assert len(docs.rows_of(house)) == 5
    q = AngleEmbedder().embed_query(QUERY)
    best = docs.dense(q, [house, d1], "best")
    mean = docs.dense(q, [house, d1], "mean")
    assert best[house] == pytest.approx(np.cos(0.5), abs=1e-3)
    assert mean[house] > 0.99 and mean[d1] == pytest.approx(best[d1])
    assert docs.dense(q, [house, d1], "length", mean_up_to=4) == best  # longer: best passage
    # short enough: the house embedded whole at indexing time ("Last spring ..." is read
    # as its first key, 0.5 rad), not the mean of its chunks
    whole = docs.dense(q, [house, d1], "length", mean_up_to=5)
    assert whole[house] == pytest.approx(np.cos(0.5), abs=1e-3) and whole[d1] == best[d1]
    # an index without document vectors (built before them): the mean stands in
    forget_document_vectors(root)
    old = DocumentLevel(Index(root))
    assert old.dense(q, [house, d1], "length", mean_up_to=5) == mean


def forget_document_vectors(root: Path) -> None:
    """Make the index one from before document vectors: no table of them."""
    import sqlite3

    from embeddings.generations import live_generation
    from tests.test_store import reseal

    generation = live_generation(root)
    with sqlite3.connect(generation / "chunks.sqlite") as db:
        db.execute("DROP TABLE document_vectors")
    reseal(generation)


class WholeEmbedder(AngleEmbedder):
    """AngleEmbedder that also records what it embeds, and sees the house's whole text
    (first and last sentence together) pointing at the question."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed_documents(texts)

    def _vector(self, text: str) -> np.ndarray:
        if "Last spring" in text and "Our house" in text:
            vector = np.zeros(self.dim, dtype=np.float32)
            vector[0] = 1.0
            return vector
        return super()._vector(text)


LONG = {
    f"long{i}.txt": " ".join(
        f"Report {i} notes that canal {j} was dredged in year {1900 + 7 * j + i}."
        for j in range(14)
    )
    for i in range(7)
}  # seven documents of many passages: beside SPREAD's six, most are longer than a window


def test_among_long_documents_a_short_one_keeps_its_mean(tmp_path: Path) -> None:
    # most documents are longer than a window (the fake reads 5 passages here): the house
    # (five passages) is scored by its mean, as before document vectors, and none is computed
    root = build(tmp_path, SPREAD | LONG, window=5 * 24)
    docs = DocumentLevel(Index(root))
    house = docs.sources.index(str((tmp_path / "docs/house.txt").resolve()))
    assert len(docs.rows_of(house)) == 5 and not docs.whole_vectors([house])
    assert not docs.mostly_short(5) and docs.mostly_short(100)
    q = AngleEmbedder().embed_query(QUERY)
    mean = docs.dense(q, [house], "mean")
    assert docs.dense(q, [house], "length", mean_up_to=5) == mean
    # the long reports removed: now most documents are short, and the next run gives the
    # short ones their vectors, though none of them changed
    folder = tmp_path / "docs"
    for name in LONG:
        (folder / name).unlink()
    embedder = WholeEmbedder()
    embedder.max_tokens = 5 * 24
    chunking = ChunkingConfig(max_tokens=24, overlap_tokens=0)
    report = index_paths([folder], root, lambda: embedder, "fake:8", chunking, progress=False)
    assert report.removed and not report.added and report.chunks_embedded == 0
    assert report.documents_embedded == 2  # the house and the pasta
    assert [t for t in embedder.embedded if "Last spring" in t] == [SPREAD["house.txt"]]
    docs = DocumentLevel(Index(root))
    assert docs.dense(q, [house], "length", mean_up_to=5) == {house: pytest.approx(1.0)}


def test_documents_read_whole_get_a_vector_of_their_own(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in SPREAD.items():
        (folder / name).write_text(text, encoding="utf-8")
    embedder = WholeEmbedder()
    chunking = ChunkingConfig(max_tokens=24, overlap_tokens=0)
    root = tmp_path / "index"
    report = index_paths([folder], root, lambda: embedder, "fake:8", chunking, progress=False)
    index = Index(root)
    house = str((folder / "house.txt").resolve())
    pasta = str((folder / "pasta.txt").resolve())
    # the documents of several passages: each embedded whole once, from its passages' spans
    assert report.documents_embedded == 2
    wholes = [t for t in embedder.embedded if "Last spring" in t and "Our house" in t]
    assert wholes == [SPREAD["house.txt"]]  # its sentences, one space apart as in the file
    vectors = index.document_vectors([d.source for d in index.documents()])
    assert sorted(vectors) == [house, pasta]  # one passage: the passage is the vector
    np.testing.assert_allclose(vectors[house], embedder.embed_documents(wholes)[0])
    # it scores the document: the whole house points at the question, no passage does
    r = Retriever(index, WholeEmbedder(), RetrievalConfig())
    docs = r.documents()
    q = r.embed_query(QUERY)
    assert docs.dense(q, [docs.sources.index(house)], "length", r.mean_up_to()) == {
        docs.sources.index(house): pytest.approx(1.0)
    }

    def rank(**config: object) -> int:
        hits = Retriever(index, WholeEmbedder(), RetrievalConfig(**config)).search(QUERY, k=20)
        return [Path(h.chunk.source).name for h in hits].index("house.txt")

    assert rank() < rank(document_vector="best")
    # too long for one window: no document vector (the best passage scores it)
    tight = tmp_path / "tight"
    small = WholeEmbedder()
    small.max_tokens = 2 * 24
    index_paths([folder], tight, lambda: small, "fake:8", chunking, progress=False)
    assert Index(tight).document_vectors([house]) == {}
    # indexing.document_vectors=false: none computed (faster), the mean stands in
    off = tmp_path / "off"
    report = index_paths(
        [folder], off, WholeEmbedder, "fake:8", chunking, progress=False, indexing=NO_WHOLE
    )
    assert report.documents_embedded == 0 and Index(off).document_vectors([house]) == {}


def test_document_vectors_follow_updates(tmp_path: Path) -> None:
    root = build(tmp_path, SPREAD)
    folder = tmp_path / "docs"
    house = str((folder / "house.txt").resolve())
    before = Index(root).document_vectors([house])[house]
    # another file added: the house's vector is carried over, not embedded again
    (folder / "d5.txt").write_text("Inverters and batteries, again.", encoding="utf-8")
    embedder = WholeEmbedder()
    chunking = ChunkingConfig(max_tokens=24, overlap_tokens=0)
    report = index_paths([folder], root, lambda: embedder, "fake:8", chunking, progress=False)
    assert report.added == [str((folder / "d5.txt").resolve())] and report.documents_embedded == 0
    np.testing.assert_array_equal(Index(root).document_vectors([house])[house], before)
    # the house rewritten: a new vector; then deleted: gone with it
    (folder / "house.txt").write_text(SPREAD["house.txt"] + " Our house is warm.", "utf-8")
    report = index_paths([folder], root, lambda: embedder, "fake:8", chunking, progress=False)
    assert report.documents_embedded == 1
    after = Index(root).document_vectors([house])[house]
    assert not np.allclose(after, before)  # the whole text now points at the question
    (folder / "house.txt").unlink()
    index_paths([folder], root, lambda: embedder, "fake:8", chunking, progress=False)
    assert Index(root).document_vectors([house]) == {}


def test_an_index_from_before_document_vectors_loads_and_updates(tmp_path: Path) -> None:
    root = build(tmp_path, SPREAD)
    forget_document_vectors(root)
    index = Index(root)
    assert not index.has_document_vectors and index.document_vectors(["x"]) == {}
    assert retriever(root).search(QUERY, k=3)  # the mean stands in
    # the next run, though no file changed, adds the table and the short documents' vectors
    folder = tmp_path / "docs"
    chunking = ChunkingConfig(max_tokens=24, overlap_tokens=0)
    report = index_paths([folder], root, AngleEmbedder, "fake:8", chunking, progress=False)
    assert report.unchanged == len(SPREAD) and report.chunks_embedded == 0
    assert report.documents_embedded == 2
    house, pasta = (str((folder / n).resolve()) for n in ("house.txt", "pasta.txt"))
    assert sorted(Index(root).document_vectors([house, pasta, "x"])) == [house, pasta]
    again = index_paths([folder], root, AngleEmbedder, "fake:8", chunking, progress=False)
    assert again.documents_embedded == 0 and not again.changed


def test_a_document_vector_of_the_wrong_size_is_damage(tmp_path: Path) -> None:
    import sqlite3

    from embeddings.errors import IndexCorrupt
    from embeddings.generations import live_generation
    from tests.test_store import reseal

    root = build(tmp_path, SPREAD)
    generation = live_generation(root)
    with sqlite3.connect(generation / "chunks.sqlite") as db:
        db.execute("UPDATE document_vectors SET vector = x'00000000'")
    reseal(generation)
    with pytest.raises(IndexCorrupt, match=r"document vectors.*--rebuild"):
        Index(root)


def test_documents_an_embedder_reads_whole_are_scored_by_their_mean(tmp_path: Path) -> None:
    # default: document_vector=length, the cut from the embedder's window and the chunking
    assert RetrievalConfig().document_vector == "length"
    root = build(tmp_path, SPREAD)  # 24-token chunks, no overlap; the fake reads 512
    r = retriever(root)
    assert r.mean_up_to() == 512 // 24
    assert retriever(root, mean_up_to=2).mean_up_to() == 2
    # the default index chunking: 100-token passages overlapping 20 -> (512 - 20) // 80
    r.index.manifest["chunking"] = {"max_tokens": 100, "overlap_tokens": 20}
    assert r.mean_up_to() == 6


def test_a_word_the_question_repeats_weighs_again(small_index: Path) -> None:
    # BM25 as Lucene and bm25s score a query: once per occurrence of a term. Counting each
    # term once cost CISI's long questions a quarter of chunk BM25's nDCG@10 (0.374 -> 0.295).
    index = Index(small_index)
    once, twice = "How long do cats sleep?", "Cats: how long do cats sleep?"
    assert analyse_query(twice, repeats=True).count("cat") == 2
    assert set(analyse_query(twice)) == set(analyse_query(once))  # the term set, for others
    for stemming in ("language", "both"):
        r = Retriever(index, FakeEmbedder(64), RetrievalConfig(query_stemming=stemming))
        cats = r.lexical_scores("cats")
        assert cats.any()
        np.testing.assert_allclose(
            r.lexical_scores(twice), r.lexical_scores(once) + cats, rtol=1e-5
        )


def _change_vectors(root: Path, sql: str) -> None:
    import sqlite3

    from embeddings.generations import live_generation
    from tests.test_store import reseal

    generation = live_generation(root)
    with sqlite3.connect(generation / "chunks.sqlite") as db:
        db.execute(sql)
    reseal(generation)


def _sources(tmp_path: Path, *names: str) -> list[str]:
    return [str((tmp_path / "docs" / n).resolve()) for n in names]


def test_a_whole_text_longer_than_the_window_gets_no_vector() -> None:
    # a window's passages can hold more than a window's tokens (sentences are carried whole,
    # so the overlap varies): counted, such a text gets None, not a vector of its beginning
    from embeddings.docvectors import embed_whole

    embedder = FakeEmbedder(8)
    out = embed_whole({"a": "word " * 100, "b": "word " * 600}, embedder, 4)
    assert out["a"] is not None and out["b"] is None


def test_a_document_too_long_for_the_window_is_scored_by_its_best_passage(tmp_path: Path) -> None:
    root = build(tmp_path, SPREAD)
    (house,) = _sources(tmp_path, "house.txt")
    _change_vectors(root, f"UPDATE document_vectors SET vector = NULL WHERE source = '{house}'")
    docs = DocumentLevel(Index(root))
    d = docs.sources.index(house)
    q = AngleEmbedder().embed_query(QUERY)
    assert docs.whole_ready(5)
    assert docs.dense(q, [d], "length", mean_up_to=5) == docs.dense(q, [d], "best")


def test_short_documents_without_their_vector_are_all_scored_by_the_mean(
    tmp_path: Path,
) -> None:
    # one vector missing (a run cut short) or made for older content (a writer that did not
    # know them): none is used, so every short document is scored alike; the next run
    # fills them in
    root = build(tmp_path, SPREAD)
    house, pasta = _sources(tmp_path, "house.txt", "pasta.txt")
    q = AngleEmbedder().embed_query(QUERY)
    for sql in (
        f"DELETE FROM document_vectors WHERE source = '{pasta}'",
        f"UPDATE document_vectors SET doc_id = 'older' WHERE source = '{house}'",
    ):
        _change_vectors(root, sql)
        docs = DocumentLevel(Index(root))
        d = docs.sources.index(house)
        assert not docs.whole_ready(5)
        assert docs.dense(q, [d], "length", mean_up_to=5) == docs.dense(q, [d], "mean")
        chunking = ChunkingConfig(max_tokens=24, overlap_tokens=0)
        folder = tmp_path / "docs"
        report = index_paths([folder], root, AngleEmbedder, "fake:8", chunking, progress=False)
        assert report.documents_embedded == 1 and report.chunks_embedded == 0
        assert DocumentLevel(Index(root)).whole_ready(5)


def test_turning_document_vectors_off_drops_them(tmp_path: Path) -> None:
    root = build(tmp_path, SPREAD)
    assert Index(root).document_vector_sources()
    chunking = ChunkingConfig(max_tokens=24, overlap_tokens=0)
    folder = tmp_path / "docs"
    index_paths(
        [folder], root, AngleEmbedder, "fake:8", chunking, progress=False, indexing=NO_WHOLE
    )
    index = Index(root)
    assert not index.document_vector_sources() and not DocumentLevel(index).whole_ready(21)


def test_progress_counts_the_documents_embedded_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from embeddings.indexer import Batching

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in SPREAD.items():
        (folder / name).write_text(text, encoding="utf-8")
    index_paths(
        [folder], tmp_path / "index", AngleEmbedder, "fake:8",
        ChunkingConfig(max_tokens=24, overlap_tokens=0), progress=True,
        batching=Batching(progress_seconds=0.0),
    )  # fmt: skip
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert "2 short documents whole" in lines[-1]  # the house and the pasta


def test_adaptive_is_the_document_level_for_documents_that_fit_the_window(
    tmp_path: Path,
) -> None:
    root = build(tmp_path, SPREAD)  # the house is 5 passages; the window holds more
    assert ranking(root, QUERY, granularity="adaptive", mean_up_to=5) == ranking(
        root, QUERY, granularity="document", mean_up_to=5
    )


def test_adaptive_ranks_long_documents_by_their_passages(tmp_path: Path) -> None:
    # every document is longer than the window (2 passages): no passage is ranked by its
    # document, so the order is the passage-level one, where the document level reorders
    long_docs = {
        "house.txt": SPREAD["house.txt"],
        "pasta.txt": FILLER * 2,
        "mixed.txt": " ".join(SPREAD[f"d{i}.txt"] + " " + FILLER for i in range(1, 5)),
    }
    root = build(tmp_path, long_docs)
    docs = DocumentLevel(Index(root))
    assert all(len(docs.rows_of(d)) > 2 for d in range(len(docs)))
    by_chunk = ranking(root, QUERY, granularity="chunk")
    assert ranking(root, QUERY, granularity="adaptive", mean_up_to=2) == by_chunk
    assert ranking(root, QUERY, granularity="document", mean_up_to=2) != by_chunk
