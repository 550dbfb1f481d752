"""Answer quality on a QA set: correct short answer, citation precision, abstention.

Each question is answered once with abstention switched off, keeping its evidence score;
abstention at any threshold is then a cut on that score, so one run gives the whole sweep
that sets `min_evidence`. Numbers are plain ratios over questions (no IR library needed).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from embeddings.analysis import fold
from eval.datasets import Dataset, Query, contains
from qa.service import Answer, QAService


@dataclass(frozen=True)
class Answered:
    query: Query
    answer: Answer


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", fold(text)).strip()


def has_acceptable_answer(answer: str, acceptable: Sequence[str]) -> bool:
    text = _norm(answer)
    return any(_norm(a) in text for a in acceptable if a.strip())


def citation_hits(item: Answered) -> tuple[int, int]:
    """(citations whose passage holds an evidence span, citations)."""
    good = sum(
        1
        for c in item.answer.citations
        if any(contains(c.passage, ev.text) for ev in item.query.evidence)
    )
    return good, len(item.answer.citations)


def answer_all(service: QAService, dataset: Dataset) -> list[Answered]:
    saved = service.config.min_evidence
    service.config = service.config.model_copy(update={"min_evidence": float("-inf")})
    try:
        return [Answered(q, service.ask(q.text)) for q in dataset.queries]
    finally:
        service.config = service.config.model_copy(update={"min_evidence": saved})


def metrics(items: Sequence[Answered], threshold: float) -> dict[str, float]:
    answerable = [i for i in items if i.query.answerable]
    unanswerable = [i for i in items if not i.query.answerable]

    def answered(i: Answered) -> bool:
        return i.answer.evidence >= threshold and not i.answer.abstained

    correct = sum(
        1
        for i in answerable
        if answered(i) and has_acceptable_answer(i.answer.text, i.query.answers)
    )
    good = total = 0
    for i in answerable:
        if answered(i):
            g, t = citation_hits(i)
            good, total = good + g, total + t
    supported = sum(c.supported for i in answerable if answered(i) for c in i.answer.citations)
    return {
        "threshold": round(threshold, 4),
        "answer_accuracy": round(correct / max(1, len(answerable)), 4),
        "citation_precision": round(good / max(1, total), 4),
        "citations_supported": round(supported / max(1, total), 4),
        "abstain_unanswerable": round(
            sum(1 for i in unanswerable if not answered(i)) / max(1, len(unanswerable)), 4
        ),
        "false_abstention": round(
            sum(1 for i in answerable if not answered(i)) / max(1, len(answerable)), 4
        ),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }


def sweep(items: Sequence[Answered]) -> list[dict[str, float]]:
    """Metrics at every distinct evidence score (each is a candidate threshold)."""
    scores = sorted({i.answer.evidence for i in items})
    cuts = [scores[0] - 1e-6, *[(a + b) / 2 for a, b in itertools.pairwise(scores)]]
    return [metrics(items, t) for t in cuts]


def summary(items: Sequence[Answered], threshold: float, answerer: str) -> dict[str, Any]:
    return {"answerer": answerer, **metrics(items, threshold)}
