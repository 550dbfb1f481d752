from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embeddings.progress import Steps
from eval.answers import Answered, has_acceptable_answer, metrics
from eval.datasets import load_dataset
from eval.runner import run_eval
from frontends.cli import app
from qa.answer import Answer
from qa.settings import Settings
from tests.conftest import ROOT

TINY = Path(__file__).parent / "data" / "tiny-beir"


@pytest.mark.slow  # ranx compiles its metrics with numba: 159 s on a fresh machine (cached after)
def test_tiny_beir_matches_hand_computed_numbers(tmp_path: Path) -> None:
    settings = Settings(index=tmp_path / "ix", embedder="fake:64")
    _, result, _ = run_eval(TINY, settings, ["bm25"])
    means = result.modes["bm25"].means
    # q1 "bananas": d4 (short, not relevant) ranks above d2 (relevant) -> rank 2
    # q2 "cherries": d3 at rank 1; q3 has no judgements and is left out
    assert result.queries == 2
    assert means["recall@1"] == pytest.approx(0.5)
    assert means["recall@5"] == pytest.approx(1.0)
    assert means["mrr@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert means["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1) / 2)
    # indexed under the data directory, and a second run embeds nothing new
    assert (tmp_path / "eval" / "tiny-beir" / "index" / "CURRENT").is_file()


def test_qa_set_is_well_formed() -> None:
    data = load_dataset(ROOT / "eval" / "qa" / "corpus_qa.jsonl")
    corpus = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "corpus").glob("*.txt")}
    assert len(data.queries) >= 60
    langs = [q.lang for q in data.queries]
    assert 0.4 <= langs.count("nl") / len(langs) <= 0.6
    doc_lang = {name: ("en" if name.startswith("003") else "nl") for name in corpus}
    cross = [
        q
        for q in data.queries
        if q.gold_sources and all(doc_lang[s] != q.lang for s in q.gold_sources)
    ]
    assert len(cross) >= len([q for q in data.queries if q.gold_sources]) / 3
    assert {s for q in data.queries for s in q.gold_sources} == set(corpus)
    assert any(len(q.evidence) >= 2 for q in data.queries)
    assert any(not q.answerable for q in data.queries)
    from embeddings.documents import load_document

    doc_ids = {p.name: load_document(p).doc_id for p in (ROOT / "corpus").glob("*.txt")}
    for q in data.queries:
        assert list(q.gold_doc_ids) == [doc_ids[s] for s in q.gold_sources], q.qid
        for ev in q.evidence:
            assert ev.text in corpus[ev.source], (q.qid, ev.text)
        if q.answerable:
            assert has_acceptable_answer(" ".join(e.text for e in q.evidence), q.answers), q.qid


def test_answer_metrics_by_hand(small_index: Path) -> None:  # type: ignore[no-untyped-def]
    from eval.datasets import Evidence, Query
    from qa.citations import Citation

    def cite(passage: str) -> Citation:
        return Citation(1, "d", "s", "t", "c", "nl", passage[:5], 0, 5, True, passage, 0)

    good = Answered(
        Query("a", "?", answers=("3 miljoen",), evidence=(Evidence("s", "3 miljoen euro"),)),
        Answer(
            "?",
            "?",
            "nl",
            "Het is 3 miljoen euro [1].",
            False,
            [cite("x 3 miljoen euro y"), cite("other")],
            evidence=0.9,
        ),
    )
    wrong = Answered(
        Query("b", "?", answers=("Herzog",), evidence=(Evidence("s", "Herzog said"),)),
        Answer("?", "?", "en", "Kirby [1].", False, [cite("Kirby spoke")], evidence=0.7),
    )
    none = Answered(
        Query("c", "?", answerable=False), Answer("?", "?", "en", "x", False, evidence=0.6)
    )
    m = metrics([good, wrong, none], threshold=0.65)
    assert m["answer_accuracy"] == 0.5 and m["citation_precision"] == pytest.approx(1 / 3, abs=1e-3)
    assert m["abstain_unanswerable"] == 1.0 and m["false_abstention"] == 0.0
    m = metrics([good, wrong, none], threshold=0.8)
    assert m["false_abstention"] == 0.5 and m["citation_precision"] == 0.5


@pytest.mark.slow  # ranx (numba), as above
def test_eval_cli_json_and_report(tmp_path: Path) -> None:
    runner = CliRunner()
    report = tmp_path / "r.md"
    result = runner.invoke(
        app,
        [
            "eval",
            str(TINY),
            "--index",
            str(tmp_path / "ix"),
            "--embedder",
            "fake:64",
            "--json",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # progress lines go to stderr
    assert "eval hybrid: 2/2 queries" in result.stderr  # not a terminal: lines, not a bar
    assert set(payload["modes"]) == {"dense", "bm25", "hybrid"}
    assert set(payload["modes"]["hybrid"]["latency_ms"]) == {"p50", "p95"}
    assert (
        "hybrid vs dense" in payload["significance"] or "dense vs hybrid" in payload["significance"]
    )
    assert report.read_text().startswith("# Evaluation: tiny-beir")
    gated = runner.invoke(
        app,
        [
            "eval",
            str(TINY),
            "--index",
            str(tmp_path / "ix"),
            "--embedder",
            "fake:64",
            "--min-recall5",
            "1.01",
            "--quiet",
        ],
    )
    assert gated.exit_code == 1
    assert "eval " not in gated.stderr


def test_steps_report_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    with Steps(3, "eval hybrid", "queries", every=0, stream=stream) as steps:
        for _ in range(3):
            steps.step()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("eval hybrid: 1/3 queries, ") and "ETA" in lines[0]
    assert lines[-1].startswith("eval hybrid: 3/3 queries, ") and "ETA" not in lines[-1]
    quiet = io.StringIO()
    with Steps(3, "eval hybrid", "queries", enabled=False, stream=quiet) as steps:
        steps.step()
    assert quiet.getvalue() == ""
