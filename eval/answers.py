"""Answer quality on a QA set: correct short answer, citation precision, refusals by kind
(answerable, near-domain unanswerable, out-of-domain), and follow-ups.

Each question is answered once with abstention switched off, keeping its answerability
probability; refusing at any threshold is then a cut on that score, so one run gives the
whole ROC curve and the figures at the configured operating point. A follow-up (a question
with `after`) is asked after its earlier questions, in one conversation. Numbers are plain
ratios over questions (no IR library needed).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from embeddings.analysis import fold
from embeddings.progress import Steps
from eval.datasets import Dataset, Query, contains
from qa.answer import Answer
from qa.answering import Turn
from qa.service import QAService, refuses


@dataclass(frozen=True)
class Answered:
    query: Query
    answer: Answer
    previous: str = ""  # a follow-up: the answer it follows


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


def answer_all(service: QAService, dataset: Dataset, progress: bool = False) -> list[Answered]:
    items = []
    with Steps(len(dataset.queries), "eval answers", "questions", progress) as steps:
        for q in dataset.queries:
            history: list[Turn] = []
            for earlier in q.after:
                history.append((earlier, service.ask(earlier, history).text))
            answer = service.ask(q.text, history, abstain=False)
            items.append(Answered(q, answer, history[-1][1] if history else ""))
            steps.step()
    return items


def _kind(item: Answered) -> str:
    if item.query.after:
        return "followup"
    if item.query.answerable:
        return "answerable"
    return "ood" if item.query.kind == "ood" else "near"


def _follow_up_right(item: Answered) -> bool:
    """Answered from a passage that holds the evidence, without repeating the last answer."""
    if not item.answer.citations:
        return False
    quotes = [_norm(c.quote) for c in item.answer.citations]
    if any(q and q in _norm(item.previous) for q in quotes):
        return False
    return citation_hits(item)[0] > 0


def metrics(items: Sequence[Answered], threshold: float) -> dict[str, float]:
    def answered(i: Answered) -> bool:
        return (
            not refuses(i.answer.evidence, i.answer.signals, threshold) and not i.answer.abstained
        )

    groups: dict[str, list[Answered]] = {"answerable": [], "near": [], "ood": [], "followup": []}
    for i in items:
        groups[_kind(i)].append(i)
    answerable, near, ood = groups["answerable"], groups["near"], groups["ood"]
    unanswerable = near + ood

    def refused(group: list[Answered]) -> float:
        return round(sum(1 for i in group if not answered(i)) / max(1, len(group)), 4)

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
    follow = groups["followup"]
    out = {
        "threshold": round(threshold, 4),
        "answer_accuracy": round(correct / max(1, len(answerable)), 4),
        "citation_precision": round(good / max(1, total), 4),
        "citations_supported": round(supported / max(1, total), 4),
        "abstain_unanswerable": refused(unanswerable),
        "refused_near_domain": refused(near),
        "refused_out_of_domain": refused(ood),
        "false_abstention": refused(answerable),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "near_domain": len(near),
        "out_of_domain": len(ood),
    }
    if follow:
        right = sum(1 for i in follow if answered(i) and _follow_up_right(i))
        out["followups"] = len(follow)
        out["followup_right_passage"] = round(right / len(follow), 4)
    return out


def sweep(items: Sequence[Answered]) -> list[dict[str, float]]:
    """Metrics at every distinct score (each is a candidate threshold)."""
    scores = sorted({i.answer.evidence for i in items})
    cuts = [scores[0] - 1e-6, *[(a + b) / 2 for a, b in itertools.pairwise(scores)]]
    cuts.append(scores[-1] + 1e-6)
    return [metrics(items, t) for t in cuts]


def roc_auc(items: Sequence[Answered]) -> float:
    """Probability that an answerable question scores above an unanswerable one."""
    pos = [i.answer.evidence for i in items if _kind(i) == "answerable"]
    neg = [i.answer.evidence for i in items if _kind(i) in ("near", "ood")]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


# Operating points the report lists: the most unanswerable questions refused while refusing
# at most this share of answerable ones
FALSE_REFUSAL_CAPS = (0.0, 0.05, 0.10, 0.20, 0.30)
POINT_FIELDS = (
    "threshold",
    "false_abstention",
    "refused_near_domain",
    "refused_out_of_domain",
    "abstain_unanswerable",
    "answer_accuracy",
)


def operating_points(swept: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """The ROC read at a few costs: for each cap on answerable questions refused, the
    threshold refusing the most unanswerable ones within it; and the best point, where
    refused unanswerable minus refused answerable (Youden's J) is largest."""
    out = {}
    for cap in FALSE_REFUSAL_CAPS:
        within = [m for m in swept if m["false_abstention"] <= cap]
        if within:
            m = max(within, key=lambda m: (m["abstain_unanswerable"], -m["false_abstention"]))
            out[f"answerable refused <= {cap:.0%}"] = {f: m[f] for f in POINT_FIELDS}
    if swept:
        m = max(swept, key=lambda m: m["abstain_unanswerable"] - m["false_abstention"])
        out["best (Youden's J)"] = {f: m[f] for f in POINT_FIELDS}
    return out


def summary(items: Sequence[Answered], threshold: float, answerer: str) -> dict[str, Any]:
    """Figures at the operating point, the ROC AUC, the ROC curve itself as (answerable
    refused, unanswerable refused) points, and the curve read at a few operating points."""
    swept = sweep(items) if items else []
    curve = [(m["false_abstention"], m["abstain_unanswerable"]) for m in swept]
    return {
        "answerer": answerer,
        **metrics(items, threshold),
        "roc_auc": roc_auc(items),
        "roc": sorted(set(curve)),
        "operating_points": operating_points(swept),
    }


def roc_lines(answers: dict[str, Any]) -> list[str]:
    """The ROC curve and its operating points as markdown, for the eval report."""
    points = answers.get("operating_points") or {}
    if not points:
        return []
    lines = [
        "",
        "### Refusal: the ROC curve read at operating points",
        "",
        "| operating point | threshold | answerable refused | near-domain refused "
        "| out-of-domain refused | unanswerable refused | accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in points.items():
        lines.append(
            f"| {name} | {m['threshold']:.3f} | "
            + " | ".join(f"{m[f]:.3f}" for f in POINT_FIELDS[1:])
            + " |"
        )
    lines.append(
        f"| configured | {answers['threshold']:.3f} | "
        + " | ".join(f"{answers[f]:.3f}" for f in POINT_FIELDS[1:])
        + " |"
    )
    roc = answers.get("roc") or []
    lines += [
        "",
        f"ROC AUC {answers.get('roc_auc')}; the curve as (answerable refused, "
        "unanswerable refused): " + ", ".join(f"({a:.2f}, {b:.2f})" for a, b in roc),
    ]
    return lines
