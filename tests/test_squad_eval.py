"""SQuAD v1.1/v2.0 JSON as a QA set (eval/squad.py): articles become documents, questions
rows, v2.0's impossible questions near-domain unanswerable ones; bad files get one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embeddings.errors import BadInput
from eval.datasets import load_qa
from eval.squad import convert, is_squad

SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Red_Cross",
            "paragraphs": [
                {
                    "context": "The Red Cross was founded in 1863 in Geneva.",
                    "qas": [
                        {
                            "id": "a",
                            "question": "When was it founded?",
                            "answers": [{"text": "1863", "answer_start": 29}],
                            "is_impossible": False,
                        },
                        {
                            "id": "b",
                            "question": "Who closed it in 1900?",
                            "answers": [],
                            "is_impossible": True,
                        },
                    ],
                }
            ],
        }
    ],
}


def test_a_squad_file_becomes_documents_and_a_qa_set(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    assert is_squad(path)
    docs, qa_file = convert(path, tmp_path / "out")
    (doc,) = sorted(docs.iterdir())
    assert doc.read_text(encoding="utf-8").startswith("Red Cross\n\nThe Red Cross was founded")
    answerable, impossible = load_qa(qa_file).queries
    assert answerable.answerable and answerable.answers == ("1863",)
    assert answerable.gold_sources == (doc.name,)
    assert not impossible.answerable and impossible.kind == "unanswerable"


def test_a_file_that_is_not_squad_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(BadInput, match="not SQuAD JSON"):
        convert(path, tmp_path / "out")
