"""Turn evaluation results into a text table, a markdown report, or one JSON object."""

from __future__ import annotations

from typing import Any

from eval.retrieval import METRICS, RetrievalEval

LABELS = {
    "ndcg@10": "nDCG@10",
    "recall@1": "R@1",
    "recall@5": "R@5",
    "recall@10": "R@10",
    "recall@100": "R@100",
    "mrr@10": "MRR@10",
}


def as_dict(result: RetrievalEval, answers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dataset": result.dataset,
        "queries": result.queries,
        "modes": {
            mode: {
                **{m: round(v, 4) for m, v in r.means.items()},
                "latency_ms": {"p50": round(r.p50, 2), "p95": round(r.p95, 2)},
                "by_language_pair": {
                    pair: {m: round(v, 4) for m, v in values.items()}
                    for pair, values in r.by_pair.items()
                },
            }
            for mode, r in result.modes.items()
        },
        "significance": {
            pair: {"test": "paired t-test", **{m: round(p, 4) for m, p in values.items()}}
            for pair, values in result.significance.items()
        },
    }
    if answers is not None:
        out["answers"] = answers
    return out


def _rows(result: RetrievalEval) -> list[list[str]]:
    rows = []
    for mode, r in result.modes.items():
        rows.append([mode, *(f"{r.means[m]:.3f}" for m in METRICS), f"{r.p50:.1f}", f"{r.p95:.1f}"])
    return rows


def _pair_rows(
    result: RetrievalEval, metric: str = "recall@5"
) -> tuple[list[str], list[list[str]]]:
    pairs = sorted({p for r in result.modes.values() for p in r.by_pair})
    header = [
        "mode",
        *(f"{p} (n={int(next(iter(result.modes.values())).by_pair[p]['queries'])})" for p in pairs),
    ]
    rows = [
        [mode, *(f"{r.by_pair[p][metric]:.3f}" if p in r.by_pair else "-" for p in pairs)]
        for mode, r in result.modes.items()
    ]
    return header, rows


_NOT_LISTED = ("answerer", "roc", "operating_points")  # tables of their own, not list items
HEADER = ["mode", *(LABELS[m] for m in METRICS), "p50 ms", "p95 ms"]


def text_table(result: RetrievalEval, answers: dict[str, Any] | None = None) -> str:
    def fmt(header: list[str], rows: list[list[str]]) -> str:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
        lines = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths, strict=True))]
        lines += [
            "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) for row in rows
        ]
        return "\n".join(lines)

    parts = [f"{result.dataset}: {result.queries} judged queries", fmt(HEADER, _rows(result))]
    header, rows = _pair_rows(result)
    parts += ["", "Recall@5 by language pair (question→document)", fmt(header, rows)]
    header, rows = _pair_rows(result, "mrr@10")
    parts += ["", "MRR@10 by language pair", fmt(header, rows)]
    if result.significance:
        parts += ["", "paired t-test p-values"]
        for pair, values in result.significance.items():
            parts.append(
                f"  {pair}: " + ", ".join(f"{LABELS[m]} p={p:.3g}" for m, p in values.items())
            )
    if answers:
        parts += ["", "answers (" + answers.get("answerer", "") + ")"]
        parts += [f"  {k}: {v}" for k, v in answers.items() if k not in _NOT_LISTED]
    return "\n".join(parts)


def markdown(result: RetrievalEval, answers: dict[str, Any] | None = None) -> str:
    def table(header: list[str], rows: list[list[str]]) -> str:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)

    parts = [
        f"# Evaluation: {result.dataset}",
        "",
        f"{result.queries} judged queries.",
        "",
        table(HEADER, _rows(result)),
        "",
        "## Recall@5 by language pair",
        "",
    ]
    parts.append(table(*_pair_rows(result)))
    parts += ["", "## MRR@10 by language pair", "", table(*_pair_rows(result, "mrr@10"))]
    if result.significance:
        parts += ["", "## Paired t-test (p-values)", ""]
        parts += [
            f"- {pair}: " + ", ".join(f"{LABELS[m]} p={p:.3g}" for m, p in values.items())
            for pair, values in result.significance.items()
        ]
    if answers:
        parts += ["", f"## Answers ({answers.get('answerer', '')})", ""]
        parts += [f"- {k}: {v}" for k, v in answers.items() if k not in _NOT_LISTED]
        from eval.answers import roc_lines  # answers pull in the QA service; retrieval does not

        parts += roc_lines(answers)
    return "\n".join(parts) + "\n"
