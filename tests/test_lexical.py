"""BM25: citeqa's score matrix equals bm25s's own, and an incremental update equals a rebuild."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embeddings.lexical import LexicalIndex, TermCounts

VOCAB = [f"t{i}" for i in range(40)]


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    zipf = 1 / np.arange(1, len(VOCAB) + 1)
    return [
        " ".join(rng.choice(VOCAB, int(rng.integers(0, 30)), p=zipf / zipf.sum())) for _ in range(n)
    ]


def test_matrix_equals_bm25s(tmp_path: Path) -> None:
    import bm25s

    texts = corpus(300)
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index([t.split() for t in texts], show_progress=False)
    ours = LexicalIndex.build(range(1, 301), texts)
    ours.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    rng = np.random.default_rng(1)
    for _ in range(25):
        query = list(rng.choice(VOCAB, 3))
        ids = [reference.vocab_dict[t] for t in query if t in reference.vocab_dict]
        expected = reference.get_scores_from_ids(ids) if ids else np.zeros(300)
        assert np.allclose(loaded.scores(query), expected, atol=1e-5)
    assert list(loaded.rows) == list(range(1, 301))


def test_stopwords_are_bm25s_lists() -> None:
    from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN

    from embeddings.analysis import STOPWORDS

    assert {"nl": frozenset(STOPWORDS_DUTCH), "en": frozenset(STOPWORDS_EN)} == STOPWORDS


def test_update_equals_rebuild(tmp_path: Path) -> None:
    texts = corpus(200, seed=2)
    base = TermCounts.from_terms(range(1, 201), texts)
    base.save(tmp_path)
    loaded = TermCounts.load(tmp_path)
    assert loaded is not None
    removed = set(range(10, 200, 7))
    extra = corpus(30, seed=3)
    updated = loaded.updated(removed, list(zip(range(201, 231), extra, strict=True)))
    kept = [(r, t) for r, t in zip(range(1, 201), texts, strict=True) if r not in removed]
    rebuilt = TermCounts.from_terms(
        [r for r, _ in kept] + list(range(201, 231)), [t for _, t in kept] + extra
    )
    assert np.array_equal(updated.rows, rebuilt.rows)
    a, b = LexicalIndex.from_counts(updated), LexicalIndex.from_counts(rebuilt)
    for query in (["t0", "t5"], ["t39"], ["t1", "t2", "t3"]):
        assert np.allclose(a.scores(query), b.scores(query), atol=1e-6)
    assert TermCounts.load(tmp_path / "nothing-here") is None


def test_term_counts_save_and_load_are_exact_inverses(tmp_path: Path) -> None:
    built = TermCounts.from_terms([3, 1, 7], ["a b a", "c", "b d é"])
    cases = {
        "empty": TermCounts.empty(),
        "built": built,
        # a removed chunk's terms stay in the vocabulary; new rows land below old ones
        "updated": built.updated([1, 7], [(0, "x y"), (9, "a " * 70000)]),
        "emptied": built.updated([1, 3, 7], []),
    }
    for name, counts in cases.items():
        counts.save(tmp_path / name)
        loaded = TermCounts.load(tmp_path / name)
        assert loaded is not None, name
        assert loaded.vocab == counts.vocab, name
        for field in ("rows", "indptr", "terms", "tf"):
            original, back = getattr(counts, field), getattr(loaded, field)
            assert back.dtype == original.dtype and np.array_equal(back, original), (name, field)
    (tmp_path / "built" / "rows.npy").unlink()
    assert TermCounts.load(tmp_path / "built") is None  # incomplete: not counts at all
