"""bench/llm_language.py's figures: one `Record` per answer, and from them the shares,
percentiles and per-language breakdowns, as JSON and as a markdown table.

Plain numbers from records; it asks no model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Record:
    qid: str
    lang: str
    answerable: bool
    pair: str
    raw: str  # what the LLM wrote
    text: str  # the answer shown, after the citation check
    abstained: bool
    refused_in_words: bool
    answer_lang: str
    markers: int
    markers_valid: bool  # at least one [n], every [n] names a given passage, no prompt echo
    citations: int
    supported: int
    citations_on_evidence: int
    correct: bool
    latency_s: float
    first_token_s: float | None
    error: str | None = None  # the LLM failed (timeout, server error): counted, not fatal
    echoed_prompt: bool = False  # wrote back part of the prompt: its [n] are the prompt's


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def summarize(records: Sequence[Record]) -> dict[str, Any]:
    """The figures for one group of answers. Language and markers are judged on what the LLM
    wrote; a refusal in words counts for language but needs no markers."""
    wrote = [r for r in records if r.raw]
    claims = [r for r in wrote if not r.refused_in_words]
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    cited = sum(r.citations for r in records)
    latencies = [r.latency_s for r in records]
    return {
        "questions": len(records),
        "llm_failed": sum(r.error is not None for r in records),
        "in_question_language": _share(sum(r.answer_lang == r.lang for r in wrote), len(wrote)),
        "markers_valid": _share(sum(r.markers_valid for r in claims), len(claims)),
        "citations": cited,
        "citations_supported": _share(sum(r.supported for r in records), cited),
        "citations_on_evidence": _share(
            sum(r.citations_on_evidence for r in answerable), sum(r.citations for r in answerable)
        ),
        "abstained_answerable": _share(sum(r.abstained for r in answerable), len(answerable)),
        "abstained_unanswerable": _share(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "refused_in_words": _share(sum(r.refused_in_words for r in wrote), len(wrote)),
        "echoed_prompt": _share(sum(r.echoed_prompt for r in wrote), len(wrote)),
        "answer_accuracy": _share(sum(r.correct for r in answerable), len(answerable)),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "first_token_p50_s": percentile(
            [r.first_token_s for r in records if r.first_token_s is not None], 50
        ),
    }


def breakdown(records: Sequence[Record]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Record]] = {"all": list(records)}
    for r in records:
        groups.setdefault(f"question {r.lang}", []).append(r)
        groups.setdefault(f"pair {r.pair}", []).append(r)
    return {name: summarize(rows) for name, rows in sorted(groups.items())}


COLUMNS = [
    ("questions", "n"),
    ("in_question_language", "in question's language"),
    ("echoed_prompt", "echoed the prompt"),
    ("markers_valid", "valid [n]"),
    ("citations_supported", "citations supported"),
    ("citations_on_evidence", "cited passage holds evidence"),
    ("abstained_answerable", "abstained (answerable)"),
    ("abstained_unanswerable", "abstained (unanswerable)"),
    ("answer_accuracy", "accuracy"),
    ("latency_p50_s", "p50 s"),
    ("latency_p95_s", "p95 s"),
]


def markdown(result: dict[str, Any]) -> str:
    def cell(v: Any) -> str:
        return "–" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = [
        "# Which small offline LLM answers in the reader's language",
        "",
        f"`{result['command']}` (source {result['source_version']}; {result['questions']} "
        f"questions of {result['qa']}; llama.cpp server, {result['threads']} threads, "
        f"n_ctx {result['n_ctx']}, at most {result['max_tokens']} tokens an answer, "
        f"temperature 0, evidence gate {result['min_evidence']}).",
        "",
    ]
    for run in result["runs"]:
        card = run["model_card"]
        lines += [
            f"## {run['model']}, prompt `{run['prompt']}`",
            "",
            f"{card.get('name')} ({card.get('file')}, {card.get('mb')} MB; fine-tune: "
            f"{card.get('finetune') or 'none recorded'}; chat template in the file: "
            f"{'yes' if card.get('chat_template') else 'no'}); server up in "
            f"{run['load_s']:.1f} s.",
            "",
            "| group | " + " | ".join(label for _, label in COLUMNS) + " |",
            "|---" * (len(COLUMNS) + 1) + "|",
        ]
        for group, figures in run["figures"].items():
            lines.append(
                f"| {group} | " + " | ".join(cell(figures[key]) for key, _ in COLUMNS) + " |"
            )
        lines += ["", "Sample answers:", ""]
        for r in run["answers"][:6]:
            lines.append(f"- {r['qid']} ({r['pair']}): {r['raw'][:160]!r}")
        lines.append("")
    return "\n".join(lines)
