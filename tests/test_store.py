from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from citeqa.settings import ChunkingConfig
from embeddings.embedders import FakeEmbedder
from embeddings.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from embeddings.generations import live_generation
from embeddings.indexer import chunking_manifest, index_paths
from embeddings.store import Index

CHUNKING = ChunkingConfig(max_tokens=24, overlap_tokens=6)


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
    other = ChunkingConfig(max_tokens=50, overlap_tokens=0)
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
    with pytest.raises(IndexCorrupt, match=r"chunks\.sqlite is damaged"):
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


# -- a killed first build, generations kept, format versions -------------------------------
def test_a_first_build_killed_part_way_is_repaired_by_the_next_run(
    small_corpus: Path, tmp_path: Path
) -> None:
    """A first build killed before its commit leaves `.building-*` (and, from older versions,
    a `gen-*` without a manifest): search says there is no index, and index and --rebuild
    work and clean up."""
    from embeddings.writer import IndexWriter

    root = tmp_path / "ix"
    writer = IndexWriter(root, "fake-64", chunking_manifest(CHUNKING))
    writer._lock.release()  # what SIGKILL does: the lock goes, the half-built folder stays
    (root / "gen-000001-abcdef").mkdir()  # a half-built generation from format 1
    with pytest.raises(IndexNotFound, match="citeqa index"):
        Index(root)
    report = run(small_corpus, root, FakeEmbedder(64))
    assert len(report.added) == 5 and len(Index(root).documents()) == 5
    assert not list(root.glob(".building-*")) and not (root / "gen-000001-abcdef").exists()
    writer = IndexWriter(root, "fake-64", chunking_manifest(CHUNKING))
    writer._lock.release()
    run(small_corpus, root, FakeEmbedder(64), rebuild=True)
    assert len(Index(root).documents()) == 5 and not list(root.glob(".building-*"))


def test_a_generation_published_without_current_is_used(small_index: Path) -> None:
    """Killed between renaming the first generation into place and writing CURRENT."""
    (small_index / "CURRENT").unlink()
    assert len(Index(small_index).documents()) == 5


def test_two_generations_stay_on_disk(small_corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "ix"
    for i in range(4):
        (small_corpus / f"extra{i}.txt").write_text(f"Nieuw document {i} over dijken.")
        run(small_corpus, root, FakeEmbedder(64))
    gens = sorted(p.name for p in root.glob("gen-*"))
    assert len(gens) == 2 and gens[-1] == live_generation(root).name


def test_a_damaged_current_is_one_line_and_rebuild_repairs_it(
    small_index: Path, small_corpus: Path
) -> None:
    (small_index / "CURRENT").write_bytes(b"\xff\xfegen-\x80\n")
    with pytest.raises(IndexCorrupt, match=r"not UTF-8.*--rebuild"):
        Index(small_index)
    with pytest.raises(IndexCorrupt, match="not UTF-8"):
        run(small_corpus, small_index, FakeEmbedder(64))
    run(small_corpus, small_index, FakeEmbedder(64), rebuild=True)
    assert len(Index(small_index).documents()) == 5


def test_an_older_format_is_refused_with_the_rebuild_command(
    small_index: Path, small_corpus: Path
) -> None:
    path = live_generation(small_index) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt, match=r"older citeqa.*citeqa index PATH --index .* --rebuild"):
        Index(small_index)
    with pytest.raises(IndexCorrupt, match="older citeqa"):
        run(small_corpus, small_index, FakeEmbedder(64))
    run(small_corpus, small_index, FakeEmbedder(64), rebuild=True)
    assert Index(small_index).manifest["format_version"] == 2


def test_every_file_of_a_generation_is_checksummed(small_index: Path) -> None:
    generation = live_generation(small_index)
    files = {p.relative_to(generation).as_posix() for p in generation.rglob("*") if p.is_file()}
    assert set(Index(small_index).manifest["files"]) == files - {"manifest.json"}
    assert {"chunks.sqlite", "bm25/counts_terms.npy", "bm25/counts_vocab.json"} <= files


def test_files_are_checksummed_with_xxh3_128_in_blocks(
    small_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xxhash

    from embeddings import manifest as manifest_module

    generation = live_generation(small_index)
    entries = Index(small_index).manifest["files"]
    for name, entry in entries.items():
        assert entry == {
            "size": (generation / name).stat().st_size,
            "xxh3_128": xxhash.xxh3_128_hexdigest((generation / name).read_bytes()),
        }
    data = bytes(range(256)) * 41  # 10,496 bytes: read in 1 KiB blocks, the last one short
    (tmp_path / "blob").write_bytes(data)
    monkeypatch.setattr(manifest_module, "_BLOCK", 1024)
    assert manifest_module.file_digest(tmp_path / "blob") == xxhash.xxh3_128_hexdigest(data)


def test_a_sha256_manifest_of_an_unreleased_build_is_one_line(small_index: Path) -> None:
    """Format 2 first had sha256 checksums (never released): such an index is refused."""
    import hashlib

    generation = live_generation(small_index)
    path = generation / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.pop("manifest_xxh3_128")
    manifest["files"] = {
        name: {"size": entry["size"], "sha256": hashlib.sha256(b"").hexdigest()}
        for name, entry in manifest["files"].items()
    }
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    manifest["manifest_sha256"] = hashlib.sha256(body.encode()).hexdigest()
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt, match=r"checksum.*--rebuild"):
        Index(small_index)


# -- damage that checksums alone would not stop (the files resealed after the change) -------
def _damage(small_index: Path, change) -> str:  # type: ignore[no-untyped-def]
    generation = live_generation(small_index)
    change(generation)
    reseal(generation)
    with pytest.raises(IndexCorrupt) as caught:
        Index(small_index)
    message = str(caught.value)
    assert "\n" not in message and "--rebuild" in message
    return message


def _npy(name: str, make):  # type: ignore[no-untyped-def]
    def change(generation: Path) -> None:
        path = generation / "bm25" / name
        np.save(path, make(np.load(path)), allow_pickle=False)

    return change


@pytest.mark.parametrize(
    "change",
    [
        _npy("bm25_indices.npy", lambda a: a + 10_000),  # out-of-range CSC indices
        _npy("bm25_data.npy", lambda a: a[:-3]),  # a shortened CSC data file
        _npy("bm25_indptr.npy", lambda a: a[::-1].copy()),  # pointers decreasing
        _npy("rows.npy", lambda a: a.astype(np.float64)),  # float row ids
        _npy("rows.npy", lambda a: a[::-1].copy()),  # rows out of order
    ],
    ids=["csc-indices", "short-data", "indptr", "float-rows", "row-order"],
)
def test_inconsistent_bm25_arrays_are_one_line(small_index: Path, change) -> None:  # type: ignore[no-untyped-def]
    _damage(small_index, change)


def test_a_bad_term_id_in_the_counts_stops_the_writer_with_one_line(
    small_index: Path, small_corpus: Path
) -> None:
    """Only a writer reads the term counts (to update BM25): it checks them first."""
    generation = live_generation(small_index)
    _npy("counts_terms.npy", lambda a: a + 99_999)(generation)
    reseal(generation)
    (small_corpus / "new.txt").write_text("Een nieuw document over sluizen.")
    with pytest.raises(IndexCorrupt, match=r"outside the vocabulary.*Rebuild"):
        run(small_corpus, small_index, FakeEmbedder(64))


def test_a_bad_vocabulary_is_one_line(small_index: Path) -> None:
    def vocab(generation: Path) -> None:
        (generation / "bm25" / "counts_vocab.json").write_text('{"t": 1.5}')

    assert "expected a list" in _damage(small_index, vocab)


def test_a_missing_sqlite_table_is_one_line(small_index: Path) -> None:
    import sqlite3

    def drop(generation: Path) -> None:
        db = sqlite3.connect(generation / "chunks.sqlite")
        db.execute("DROP TABLE documents")
        db.commit()
        db.close()

    assert "table documents" in _damage(small_index, drop)


@pytest.mark.parametrize(
    ("field", "value"),
    [("dim", "64"), ("chunks", 2.5), ("files", []), ("tombstones", True), ("embedder", None)],
)
def test_wrong_manifest_field_types_are_one_line(small_index: Path, field: str, value) -> None:  # type: ignore[no-untyped-def]
    from embeddings.manifest import SELF, seal

    path = live_generation(small_index) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[field] = value
    path.write_text(json.dumps(manifest))  # its own checksum no longer matches
    with pytest.raises(IndexCorrupt, match="checksum"):
        Index(small_index)
    manifest.pop(SELF)
    path.write_text(json.dumps(seal(manifest)))  # resealed: the type check must catch it
    with pytest.raises(IndexCorrupt, match=f"field '{field}'"):
        Index(small_index)


def test_a_manifest_file_path_outside_the_generation_is_refused(small_index: Path) -> None:
    from embeddings.manifest import CHECKSUM, SELF, seal

    path = live_generation(small_index) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.pop(SELF)
    manifest["files"]["../../etc/passwd"] = {"size": 1, CHECKSUM: "0" * 32}
    path.write_text(json.dumps(seal(manifest)))
    with pytest.raises(IndexCorrupt, match="'files'"):
        Index(small_index)


# -- calibration ----------------------------------------------------------------------------
def test_calibration_is_kept_from_generation_to_generation(
    small_corpus: Path, tmp_path: Path
) -> None:
    from embeddings.writer import IndexWriter

    root = tmp_path / "ix"
    run(small_corpus, root, FakeEmbedder(64))
    with IndexWriter(root, "fake-64", chunking_manifest(CHUNKING)) as writer:
        writer.commit(64, calibration={"background": [0.1, 0.25], "n": 3})
    (small_corpus / "more.txt").write_text("Nog een document over molens.")
    run(small_corpus, root, FakeEmbedder(64))
    assert Index(root).calibration == {"background": [0.1, 0.25], "n": 3}
    manifest = chunking_manifest(CHUNKING)
    with IndexWriter(root, "fake-64", manifest) as writer, pytest.raises(ValueError):
        writer.commit(64, calibration={"x": float("nan")})


# -- long runs: batches, resuming, progress ------------------------------------------------
def _many_docs(folder: Path, n: int) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"doc{i:03d}.txt").write_text(
            f"Document {i} gaat over de sluis nummer {i}. " * 4, encoding="utf-8"
        )


def test_a_long_run_publishes_batches_and_the_next_run_resumes(tmp_path: Path) -> None:
    from embeddings.indexer import Batching

    docs, root = tmp_path / "docs", tmp_path / "ix"
    _many_docs(docs, 40)

    class DiesAfter(CountingEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            if len(self.embedded) >= 25:
                raise KeyboardInterrupt  # killed part-way
            return super().embed_documents(texts)

    small = Batching(chunks=5, seconds=3600)
    with pytest.raises(KeyboardInterrupt):
        run(docs, root, DiesAfter(), batch_size=1, batching=small)
    kept = len(Index(root).documents())
    assert 20 <= kept < 40  # at most one batch (5 chunks, one per document) lost
    assert len(list(root.glob("gen-*"))) == 2 and not list(root.glob(".building-*"))
    again = CountingEmbedder()
    report = run(docs, root, again, batching=small)
    assert len(report.added) == 40 - kept and report.unchanged == kept
    assert len(again.embedded) == 40 - kept  # only what was not published is embedded again
    assert len(Index(root).documents()) == 40


def test_a_batched_run_equals_a_single_commit(tmp_path: Path) -> None:
    from embeddings.indexer import Batching

    docs = tmp_path / "docs"
    _many_docs(docs, 30)
    (docs / "doc005.txt").write_text("Iets heel anders: fietsen in Utrecht.", encoding="utf-8")
    one = run(docs, tmp_path / "one", FakeEmbedder(64))
    many = run(docs, tmp_path / "many", FakeEmbedder(64), batching=Batching(chunks=3))
    a, b = Index(tmp_path / "one"), Index(tmp_path / "many")
    assert one.chunks == many.chunks == len(a) == len(b)
    q = FakeEmbedder(64).embed_query("fietsen Utrecht")
    assert a.search(q, 5) == b.search(q, 5)
    assert np.allclose(a.lexical.scores(["fiets"]), b.lexical.scores(["fiets"]))


def test_progress_lines_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from embeddings.indexer import Batching

    docs = tmp_path / "docs"
    _many_docs(docs, 12)
    index_paths(
        [docs], tmp_path / "ix", lambda: FakeEmbedder(64), "fake:64", CHUNKING,
        progress=True, batch_size=4, batching=Batching(progress_seconds=0.0),
    )  # fmt: skip
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) >= 3
    assert all(line.startswith("indexing: ") and "chunks/s" in line for line in lines)
    assert "12/12 files" in lines[-1] and "ETA 0m00s" in lines[-1]


# -- a full disk ----------------------------------------------------------------------------
def test_a_full_disk_is_one_line_and_keeps_the_previous_generation(
    small_index: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC injected where FAISS is written (a real small disk: test_crash.py)."""
    import errno

    from embeddings import staging
    from embeddings.errors import DiskFull

    before = live_generation(small_index)

    def full(index: object, path: Path) -> None:
        path.write_bytes(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(staging, "write_faiss", full)
    (small_corpus / "new.txt").write_text("Een nieuw document over sluizen.")
    with pytest.raises(DiskFull) as caught:
        run(small_corpus, small_index, FakeEmbedder(64))
    message = str(caught.value)
    assert "\n" not in message and "is full" in message and "iB free" in message
    assert "needs at least" in message and "the last published generation stays" in message
    assert caught.value.exit_code not in (0, 1, 2)
    assert live_generation(small_index) == before and len(Index(small_index).documents()) == 5
    assert not list(small_index.glob(".building-*"))


def test_sqlite_disk_full_is_recognised() -> None:
    import sqlite3

    from embeddings.diskspace import is_disk_full

    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_disk_full(sqlite3.OperationalError("no such table: x"))
    assert not is_disk_full(OSError(13, "Permission denied"))


def test_the_cli_gives_a_full_disk_its_own_exit_code(
    small_index: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from typer.testing import CliRunner

    from embeddings import staging
    from frontends.cli import app

    def full(index: object, path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(staging, "write_faiss", full)
    (small_corpus / "new.txt").write_text("Een nieuw document over sluizen.")
    chunking = ["--max-tokens", "24", "--overlap-tokens", "6"]
    result = CliRunner().invoke(
        app,
        [
            "index",
            str(small_corpus),
            "--index",
            str(small_index),
            "--embedder",
            "fake:64",
            *chunking,
        ],
    )
    assert result.exit_code == 3, result.output
    assert result.stderr.count("\n") == 1 and "is full" in result.stderr


# -- eval ------------------------------------------------------------------------------------
@pytest.mark.slow  # run_eval scores with ranx (numba): 159 s on a fresh machine
def test_eval_builds_a_beir_sets_index_at_the_index_given(tmp_path: Path) -> None:
    from eval.runner import run_eval
    from qa.settings import Settings

    tiny = Path(__file__).parent / "data" / "tiny-beir"
    settings = Settings(index=tmp_path / "X", embedder="fake:64")
    run_eval(tiny, settings, ["bm25"], index_dir=tmp_path / "X")
    assert (tmp_path / "X" / "CURRENT").is_file()
    assert not (tmp_path / "eval").exists()  # not X/../eval/NAME/index
    assert all("/X/eval-docs/tiny-beir/" in d.source for d in Index(tmp_path / "X").documents())
