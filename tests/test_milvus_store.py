"""The Milvus store (Milvus Lite, a local file) against the embedded store, on the fake embedder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

if importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None:
    pytest.skip("needs the milvus extra: pip install 'citeqa[milvus]'", allow_module_level=True)

from embeddings.embedders import FakeEmbedder
from embeddings.errors import BadInput, IndexMismatch, IndexNotFound
from embeddings.indexed import IndexedDocument
from embeddings.indexer import ChunkingSettings, chunking_manifest, index_paths, remove_sources
from embeddings.milvus_schema import MilvusSpec
from embeddings.milvus_store import MilvusStore
from embeddings.milvus_writer import MilvusWriter
from embeddings.store import Index
from embeddings.stores import LexicalStore, Store, is_remote, open_store
from qa.retrieval import Retriever

# Every test here but the first starts a real Milvus Lite server (about 3.5 s each): the slow tier.
pytestmark = pytest.mark.slow

CHUNKING = ChunkingSettings(max_tokens=24, overlap_tokens=6)


def build(paths: list[Path], index: str | Path, embedder: FakeEmbedder, **kw: object):
    return index_paths(
        paths, Path(index) if not is_remote(index) else index, lambda: embedder, "fake:64",
        CHUNKING, progress=False, **kw,
    )  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def milvus_index(tmp_path: Path, small_corpus: Path, fake_embedder: FakeEmbedder) -> str:
    spec = f"milvus:{tmp_path / 'm.db'}#t"
    build([small_corpus], spec, fake_embedder)
    return spec


def test_spec_parsing() -> None:
    assert MilvusSpec.parse("milvus:x.db") == MilvusSpec("x.db", "citeqa")
    assert MilvusSpec.parse(Path("milvus:http://h:19530#c")) == MilvusSpec("http://h:19530", "c")
    for bad in ("milvus:", "milvus:x.db#1a", "milvus:x.db#a-b", "x.db"):
        with pytest.raises(BadInput):
            MilvusSpec.parse(bad)


def test_both_stores_meet_the_contract(small_index: Path, milvus_index: str) -> None:
    assert isinstance(Index(small_index), Store)
    store = open_store(milvus_index)
    assert isinstance(store, LexicalStore) and not isinstance(Index(small_index), LexicalStore)


def test_same_chunks_documents_and_vectors(small_index: Path, milvus_index: str) -> None:
    embedded, milvus = Index(small_index), MilvusStore(milvus_index)
    assert len(milvus) == len(embedded) > 0
    key = lambda c: (c.chunk_id, c.source, c.start, c.end, c.text, c.lang, c.title)  # noqa: E731
    assert sorted(map(key, milvus.iter_chunks())) == sorted(map(key, embedded.iter_chunks()))
    strip = lambda d: (d.source, d.doc_id, d.title, d.lang, d.size, d.chunks)  # noqa: E731
    assert list(map(strip, milvus.documents())) == list(map(strip, embedded.documents()))
    source = embedded.documents()[0].source
    assert milvus.document_text(source) == embedded.document_text(source)
    by_id = {c.chunk_id: c.row for c in embedded.iter_chunks()}
    m_rows = {c.chunk_id: c.row for c in milvus.iter_chunks()}
    ids = sorted(by_id)
    a = embedded.vectors([by_id[i] for i in ids])
    b = milvus.vectors([m_rows[i] for i in ids])
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_same_top_passages(
    small_index: Path, milvus_index: str, fake_embedder: FakeEmbedder, mode: str
) -> None:
    embedded = Retriever(Index(small_index), fake_embedder)
    milvus = Retriever(MilvusStore(milvus_index), fake_embedder)
    for question in ("Hoeveel geld geeft Nederland aan het Rode Kruis?", "How long do cats sleep?"):
        a = [h.chunk.chunk_id for h in embedded.search(question, k=3, mode=mode)]  # type: ignore[arg-type]
        b = [h.chunk.chunk_id for h in milvus.search(question, k=3, mode=mode)]  # type: ignore[arg-type]
        assert a[0] == b[0], (mode, question, a, b)


def test_filters(milvus_index: str, fake_embedder: FakeEmbedder) -> None:
    retriever = Retriever(MilvusStore(milvus_index), fake_embedder)
    hits = retriever.search("geld fiets regen", k=5, lang="nl")
    assert hits and all(h.chunk.lang == "nl" for h in hits)
    hits = retriever.search("sleep", k=5, source="en_cats")
    assert hits and all("en_cats" in h.chunk.source for h in hits)
    assert retriever.search("sleep", k=5, source="100%_no_such") == []


def test_incremental_update_and_removal(
    tmp_path: Path, small_corpus: Path, milvus_index: str, fake_embedder: FakeEmbedder
) -> None:
    again = build([small_corpus], milvus_index, fake_embedder)
    assert again.unchanged == 5 and not again.changed
    (small_corpus / "en_cats.txt").write_text("Dogs bark at the postman every morning.")
    (small_corpus / "nl_fiets.txt").unlink()
    report = build([small_corpus], milvus_index, fake_embedder)
    assert report.updated == [str(small_corpus / "en_cats.txt")]
    assert report.removed == [str(small_corpus / "nl_fiets.txt")]
    store = MilvusStore(milvus_index)
    texts = " ".join(c.text for c in store.iter_chunks())
    assert "postman" in texts and "Cats sleep" not in texts and "fiets" not in texts
    assert {d.source for d in store.documents()} == {
        str(p) for p in small_corpus.rglob("*.txt")
    } | {str(small_corpus / "en_weather.md")}
    rows = [c.row for c in store.iter_chunks()]
    assert len(rows) == len(set(rows))  # row ids never handed out twice
    assert remove_sources(Path(milvus_index), [str(small_corpus / "en_cats.txt")]) == [
        str(small_corpus / "en_cats.txt")
    ]
    assert "postman" not in " ".join(c.text for c in MilvusStore(milvus_index).iter_chunks())


def test_refuses_another_embedder_and_a_missing_index(
    tmp_path: Path, milvus_index: str, small_corpus: Path
) -> None:
    with pytest.raises(IndexMismatch):
        MilvusWriter(milvus_index, "fake-32", chunking_manifest(CHUNKING))
    with pytest.raises(IndexMismatch):
        MilvusStore(milvus_index, expect_embedder="fake-32")
    with pytest.raises(IndexNotFound):
        MilvusStore(f"milvus:{tmp_path / 'm.db'}#other")
    report = build([small_corpus], milvus_index, FakeEmbedder(64), rebuild=True)
    assert len(report.added) == 5 and len(MilvusStore(milvus_index)) == report.chunks


def _add(
    writer: MilvusWriter, source: str, text: str, lang: str, pages: list | None = None
) -> None:
    doc = SimpleNamespace(
        source=source, doc_id=source, title=source, lang=lang, text=text, pages=pages or []
    )
    chunk = SimpleNamespace(
        chunk_id=f"{source}-0", doc_id=source, ordinal=0, start=0, end=len(text), text=text[:2000],
        n_tokens=len(text.split()),
    )  # fmt: skip
    vectors = FakeEmbedder(64).embed_documents([text])
    writer.add(IndexedDocument(doc, len(text), 0.0, [chunk], vectors, [lang], [""]))


def test_dutch_stemming_is_real(tmp_path: Path) -> None:
    """The same sentence once as Dutch, once as English: "pannenkoek" finds "pannenkoeken"
    only through the Dutch field's Snowball stemmer. A Milvus that ignores the Dutch stemmer
    (milvus-lite 3.x) or analyses both fields alike fails here."""
    spec = f"milvus:{tmp_path / 's.db'}"
    sentence = "Op zondag bakken wij pannenkoeken met stroop voor de fietsers"
    with MilvusWriter(spec, "fake-64", chunking_manifest(CHUNKING)) as writer:
        _add(writer, "/nl.txt", sentence, "nl")
        _add(writer, "/en.txt", sentence, "en")
        writer.commit(64)
    store = MilvusStore(spec)
    rows = {c.source: c.row for c in store.iter_chunks()}
    for query in ("pannenkoek", "pannenkoeken", "fietser"):
        assert [r for r, _ in store.bm25(query, "nl", 5)] == [rows["/nl.txt"]], query
    assert store.bm25("pannenkoek", "en", 5) == []  # English stemming cannot produce it
    assert store.bm25("pannenkoeken", "en", 5)[0][0] == rows["/en.txt"]  # the exact word can
    assert store.bm25("op voor de met", "nl", 5) == []  # Dutch stopwords dropped


def test_the_stemming_proof_fails_without_the_dutch_stemmer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the proof above tells apart: the same build with the stemmer filter left out
    finds nothing for "pannenkoek" (so the proof is not passing on, say, a prefix match)."""
    import embeddings.milvus_schema as ms

    real = ms._analyzer

    def unstemmed(lang: str) -> dict:
        params = real(lang)
        params["filter"] = [
            f for f in params["filter"] if not isinstance(f, dict) or f["type"] != "stemmer"
        ]
        return params

    monkeypatch.setattr(ms, "_analyzer", unstemmed)
    spec = f"milvus:{tmp_path / 'u.db'}"
    with MilvusWriter(spec, "fake-64", chunking_manifest(CHUNKING)) as writer:
        _add(writer, "/nl.txt", "Op zondag bakken wij pannenkoeken", "nl")
        writer.commit(64)
    assert MilvusStore(spec).bm25("pannenkoek", "nl", 5) == []


def test_pages_and_long_document_text(tmp_path: Path) -> None:
    """Pages are kept (the UI cites them); text longer than one VARCHAR comes back whole."""
    spec = f"milvus:{tmp_path / 'p.db'}"
    text = "Het regent vandaag weer. " * 3000  # 75,000 characters: five parts
    with MilvusWriter(spec, "fake-64", chunking_manifest(CHUNKING)) as writer:
        _add(writer, "/paged.pdf", text, "nl", pages=[(0, 1), (40_000, 2)])
        writer.commit(64)
    store = MilvusStore(spec)
    assert store.document_pages("/paged.pdf") == [(0, 1), (40_000, 2)]
    assert store.document_pages("/not/indexed") == []
    assert store.document_text("/paged.pdf") == text


def test_cli_index_and_search_on_milvus(tmp_path: Path, small_corpus: Path, small_index: Path):
    """`citeqa index ... --index milvus:x.db`, then `citeqa search --json` on both stores."""
    import json

    from typer.testing import CliRunner

    from frontends.cli import app

    runner = CliRunner()
    spec = f"milvus:{tmp_path / 'cli.db'}"
    args = ["--embedder", "fake:64", "--max-tokens", "24", "--overlap-tokens", "6", "-q"]
    done = runner.invoke(app, ["index", str(small_corpus), "--index", spec, *args])
    assert done.exit_code == 0, done.output
    assert "5 documents" in done.output
    found = {}
    for index in (spec, str(small_index)):
        out = runner.invoke(
            app, ["search", "Hoeveel geld voor het Rode Kruis?", "--index", index, "--json"]
        )
        assert out.exit_code == 0, out.output
        hits = json.loads(out.output)
        hits = hits["hits"] if isinstance(hits, dict) else hits
        found[index] = [h["chunk_id"] for h in hits][:1]
    assert found[spec] == found[str(small_index)]
