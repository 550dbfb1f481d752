from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from embeddings.embedders import FakeEmbedder
from embeddings.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from embeddings.indexer import ChunkingSettings, index_paths
from embeddings.store import Index, live_generation

CHUNKING = ChunkingSettings(max_tokens=24, overlap_tokens=6)


def reseal(generation: Path) -> None:
    """Recompute a generation's checksums after a test changed it on purpose, so the
    loader's structural checks (not the checksums) must find the damage."""
    from embeddings.manifest import SELF, file_entries, seal

    path = generation / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.pop(SELF, None)
    manifest["files"] = file_entries(generation)
    path.write_text(json.dumps(seal(manifest)))


def run(folder: Path, root: Path, embedder: FakeEmbedder, **kw):  # type: ignore[no-untyped-def]
    return index_paths([folder], root, lambda: embedder, "fake:64", CHUNKING, progress=False, **kw)


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(64)
        self.embedded: list[str] = []

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed_documents(texts)


def test_faiss_results_equal_brute_force(small_index: Path, fake_embedder: FakeEmbedder) -> None:
    index = Index(small_index)
    rows = [c.row for c in index.iter_chunks()]
    matrix = index.vectors(rows)
    for question in ["extra bijdrage Rode Kruis", "how long do cats sleep", "budget 2025"]:
        q = fake_embedder.embed_query(question)
        brute = matrix @ q
        order = np.argsort(-brute, kind="stable")[:5]
        got = index.search(q, 5)
        # same scores in the same order; ties may be broken differently, so check each row's
        # own brute-force score too
        assert np.allclose([s for _, s in got], brute[order], atol=1e-5)
        by_row = dict(zip(rows, brute, strict=True))
        assert all(abs(by_row[r] - s) < 1e-5 for r, s in got)


def test_save_load_same_results(small_index: Path, fake_embedder: FakeEmbedder) -> None:
    q = fake_embedder.embed_query("fietsen in Nederland")
    first = Index(small_index).search(q, 3)
    again = Index(small_index).search(q, 3)
    assert first == again
    manifest = Index(small_index).manifest
    assert manifest["embedder"] == "fake-64" and manifest["dim"] == 64
    assert manifest["documents"] == 5 and manifest["chunks"] == len(Index(small_index))


def test_chunk_offsets_point_into_document_text(small_index: Path) -> None:
    index = Index(small_index)
    for chunk in index.iter_chunks():
        assert index.document_text(chunk.source)[chunk.start : chunk.end] == chunk.text


def test_unchanged_folder_embeds_nothing(small_corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    root = tmp_path / "ix"
    first = run(small_corpus, root, embedder)
    assert first.chunks_embedded > 0 and len(first.added) == 5
    generation = live_generation(root)
    embedder.embedded.clear()
    second = run(small_corpus, root, embedder)
    assert second.chunks_embedded == 0 and embedder.embedded == []
    assert second.unchanged == 5 and not second.changed
    assert live_generation(root) == generation  # nothing rewritten


def test_touched_but_identical_file_is_not_reembedded(small_corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    root = tmp_path / "ix"
    run(small_corpus, root, embedder)
    path = small_corpus / "en_cats.txt"
    os.utime(path, (1, 1))
    embedder.embedded.clear()
    report = run(small_corpus, root, embedder)
    assert report.chunks_embedded == 0 and report.unchanged == 5


def test_changed_file_reembeds_only_its_new_chunks(small_corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    root = tmp_path / "ix"
    run(small_corpus, root, embedder)
    path = small_corpus / "nl_hulp.txt"
    path.write_text(
        path.read_text() + "\n\nDe Tweede Kamer debatteert volgende week over "
        "de hulp aan Gaza en Libanon."
    )
    embedder.embedded.clear()
    report = run(small_corpus, root, embedder)
    assert report.updated == [str(path.resolve())]
    assert embedder.embedded and all("Tweede Kamer" in t for t in embedder.embedded)
    assert report.chunks_reused > 0
    index = Index(root)
    texts = [c.text for c in index.iter_chunks() if c.source == str(path.resolve())]
    assert any("Tweede Kamer" in t for t in texts)


def test_removed_file_leaves_the_index(small_corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    root = tmp_path / "ix"
    run(small_corpus, root, embedder)
    gone = small_corpus / "en_cats.txt"
    gone.unlink()
    report = run(small_corpus, root, embedder)
    assert report.removed == [str(gone.resolve())]
    index = Index(root)
    assert all(c.source != str(gone.resolve()) for c in index.iter_chunks())
    assert len(index) == index.faiss.ntotal == len(list(index.iter_chunks()))
    assert "Cats" not in " ".join(c.text for c in index.iter_chunks())


def test_indexing_another_folder_keeps_the_first(small_corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    root = tmp_path / "ix"
    run(small_corpus / "sub", root, embedder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("Windmills pump water out of the polders.")
    run(other, root, embedder)
    sources = {d.source for d in Index(root).documents()}
    assert len(sources) == 2


def test_other_embedder_is_refused(small_index: Path, small_corpus: Path) -> None:
    with pytest.raises(IndexMismatch, match="--rebuild"):
        index_paths(
            [small_corpus],
            small_index,
            lambda: FakeEmbedder(32),
            "fake:32",
            CHUNKING,
            progress=False,
        )
    from embeddings.store import check_embedder

    with pytest.raises(IndexMismatch, match="fake-64"):
        check_embedder(Index(small_index).manifest, "e5-small-q4", small_index)


def test_other_chunking_is_refused_and_rebuild_works(small_index: Path, small_corpus: Path) -> None:
    other = ChunkingSettings(max_tokens=50, overlap_tokens=0)
    with pytest.raises(IndexMismatch, match="rebuild"):
        index_paths(
            [small_corpus], small_index, lambda: FakeEmbedder(64), "fake:64", other, progress=False
        )
    report = index_paths(
        [small_corpus],
        small_index,
        lambda: FakeEmbedder(32),
        "fake:32",
        other,
        progress=False,
        rebuild=True,
    )
    assert len(report.added) == 5
    assert Index(small_index).manifest["embedder"] == "fake-32"


def test_crash_before_commit_keeps_previous_index(small_index: Path, small_corpus: Path) -> None:
    before = Index(small_index)
    rows_before = len(before)

    class Boom(FakeEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    (small_corpus / "new.txt").write_text("A brand new document about harbours and ships.")
    with pytest.raises(KeyboardInterrupt):
        index_paths(
            [small_corpus], small_index, lambda: Boom(64), "fake:64", CHUNKING, progress=False
        )
    after = Index(small_index)
    assert len(after) == rows_before and after.generation == before.generation
    assert len(list(small_index.glob("gen-*"))) == 1  # the half-built copy was removed
    report = run(small_corpus, small_index, FakeEmbedder(64))
    assert len(report.added) == 1


def test_missing_index_and_damaged_files(small_index: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="citeqa index"):
        Index(tmp_path / "nothing")
    generation = live_generation(small_index)
    vectors = generation / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match="damaged"):
        Index(small_index)


def test_future_format_version_is_refused(small_index: Path) -> None:
    manifest_path = live_generation(small_index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt, match="newer"):
        Index(small_index)


def test_corrupt_sqlite_is_a_clear_error(small_index: Path) -> None:
    database = live_generation(small_index) / "chunks.sqlite"
    database.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IndexCorrupt, match="chunks.sqlite is damaged"):
        Index(small_index)
    reseal(live_generation(small_index))  # the checksums agree: SQLite itself must refuse it
    with pytest.raises(IndexCorrupt, match="not a database"):
        Index(small_index)


def test_no_pickle_files_in_the_index(small_index: Path) -> None:
    names = [p.name for p in small_index.rglob("*") if p.is_file()]
    assert not [n for n in names if n.endswith((".pkl", ".pickle"))]
    for path in small_index.rglob("*.npy"):
        np.load(path, allow_pickle=False)


def test_bm25_updates_incrementally_and_equals_a_rebuild(
    small_corpus: Path, tmp_path: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from embeddings.lexical import LexicalIndex, TermCounts

    root = tmp_path / "index"
    run(small_corpus, root, fake_embedder)

    def no_full_read(*args: object) -> None:
        raise AssertionError("an update re-read every chunk's terms")

    monkeypatch.setattr(TermCounts, "from_terms", no_full_read)
    cats = small_corpus / "en_cats.txt"
    for text in ("Cats sleep a lot. Dogs do not.", "Cats sleep. Dogs bark. Birds sing loudly."):
        cats.write_text(text, encoding="utf-8")  # replaced: its new chunks may reuse row ids
        run(small_corpus, root, fake_embedder)
    (small_corpus / "nl_fiets.txt").unlink()
    (small_corpus / "new.txt").write_text("Nieuwe fietsen en honden in Utrecht.", encoding="utf-8")
    run(small_corpus, root, fake_embedder)
    monkeypatch.undo()

    index = Index(root)
    db = sqlite3.connect(index.generation / "chunks.sqlite")
    rows_terms = db.execute("SELECT id, terms FROM chunks ORDER BY id").fetchall()
    rebuilt = LexicalIndex.build([r for r, _ in rows_terms], [t for _, t in rows_terms])
    assert list(index.lexical.rows) == [r for r, _ in rows_terms]
    for query in (["dog", "hond"], ["cat", "sleep"], ["fiets", "utrecht"], ["budget"]):
        assert np.allclose(index.lexical.scores(query), rebuilt.scores(query), atol=1e-6)
