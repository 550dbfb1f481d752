"""The answerability data is what it claims to be: every near-domain unanswerable question
names the words its answer would need, and a grep of the corpus finds none of them; every
follow-up's evidence is a real span of its source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from embeddings.analysis import fold
from eval.datasets import contains

ROOT = Path(__file__).resolve().parent.parent
QA = ROOT / "eval/qa/corpus_qa.jsonl"
TRAIN = ROOT / "eval/qa/answerability_train.jsonl"
# written before tuning, never tuned on
HELD_OUT_FOLLOW_UPS = ROOT / "eval/qa/followups_heldout.jsonl"
HELD_OUT_ANSWERS = ROOT / "eval/qa/answers_heldout.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _corpus() -> str:
    return fold(
        " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").iterdir()))
    )


def _near_rows() -> list[dict]:
    near = [r for r in _rows(TRAIN) if r["kind"] == "near"]
    near += [r for r in _rows(QA) if r.get("type") == "unanswerable" and "absent" in r]
    return near


def test_near_domain_questions_are_checked_absent_from_the_corpus() -> None:
    corpus = _corpus()
    near = _near_rows()
    assert len(near) >= 40
    for row in near:
        assert row["absent"], row["question"]
        for word in row["absent"]:
            pattern = r"(?<!\w)" + re.escape(fold(word)) + r"(?!\w)"
            assert not re.search(pattern, corpus), f"{word!r} occurs: {row['question']}"


def test_training_and_test_questions_do_not_overlap() -> None:
    train = {fold(r["question"]) for r in _rows(TRAIN)}
    test = {fold(r["question"]) for r in _rows(QA)}
    assert not train & test
    held_out = {fold(q) for r in _rows(HELD_OUT_FOLLOW_UPS) for q in r["after"]}
    assert not held_out & (train | test), "the held-out follow-ups open with their own questions"
    held_out_answers = {fold(r["question"]) for r in _rows(HELD_OUT_ANSWERS)}
    assert len(held_out_answers) == len(_rows(HELD_OUT_ANSWERS)) >= 20
    assert not held_out_answers & (train | test | held_out)


@pytest.mark.parametrize("row", _rows(HELD_OUT_ANSWERS), ids=lambda r: r["id"])
def test_held_out_answers_are_in_their_source(row: dict) -> None:
    """Each held-out question's evidence is a span of its source, and an acceptable answer
    is written there (in the source's own language, at least one of them)."""
    assert row["answerable"] and row["type"] == "single"
    for ev in row["evidence"]:
        text = (ROOT / "corpus" / ev["source"]).read_text(encoding="utf-8")
        assert contains(text, ev["text"])
    assert any(fold(a) in fold(text) for a in row["answers"]), row["id"]


@pytest.mark.parametrize(
    "row",
    [r for path in (QA, HELD_OUT_FOLLOW_UPS) for r in _rows(path) if r.get("type") == "followup"],
)
def test_follow_up_evidence_is_in_its_source(row: dict) -> None:
    assert row["after"]
    for ev in row["evidence"]:
        assert contains((ROOT / "corpus" / ev["source"]).read_text(encoding="utf-8"), ev["text"])
