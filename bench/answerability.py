"""Fit the answerability model (qa/answerability.json) on training questions the tests do not
use, cross-validate it, pick the operating point, and check it on CISI with no retuning.

Training: eval/qa/answerability_train.jsonl (answerable, near-domain unanswerable and
out-of-domain questions written against corpus/) plus sentences of the Tatoeba set in
eval/datasets/ as more out-of-domain text. The held-out test is the QA set
(eval/qa/corpus_qa.jsonl), measured by `citeqa eval`; nothing here reads it except the
CISI check, where its questions are the out-of-domain side.

Usage:
  python bench/answerability.py --index DIR [--refit]
  python bench/answerability.py --cisi-index DIR --cisi-queries FILE --cisi-collect [--cisi-limit N]
Writes qa/answerability.json, bench/results/answerability.json (signals, CV figures, CISI),
bench/results/answerability_roc.png. `--refit` refits from the stored signals without
recomputing them; `--cisi-collect` only computes the CISI signals (kept in
bench/results/answerability_cisi_signals.json and used by every later fit).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from eval.datasets import load_qa
from qa.answerability import FEATURES
from qa.factory import open_service
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "eval/qa/answerability_train.jsonl"
TATOEBA = ROOT / "eval/datasets/tatoeba-nld-eng"
RESULTS = ROOT / "bench/results/answerability.json"
CISI_ROWS = ROOT / "bench/results/answerability_cisi_signals.json"
MAX_FALSE_REFUSAL = 0.03  # answerable questions refused at the operating point (CV), at most


def training_questions(tatoeba: int) -> list[tuple[str, int, str]]:
    """(question, 1 if answerable, kind)."""
    rows = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines() if line]
    out = [(r["question"], int(r["kind"] == "answerable"), r["kind"]) for r in rows]
    for direction in ("nl2en", "en2nl"):
        lines = (TATOEBA / direction / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        for line in lines[:tatoeba]:
            out.append((json.loads(line)["text"], 0, "ood-tatoeba"))
    return out


def collect(index: Path, questions: list[tuple[str, int, str]]) -> list[dict]:
    service = open_service(Settings(index=index))
    rows = []
    for n, (question, label, kind) in enumerate(questions, start=1):
        a = service.assess(question)
        rows.append({"question": question, "label": label, "kind": kind, **a.signals})
        if n % 20 == 0:
            print(f"  {n}/{len(questions)}", flush=True)
    return rows


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method with an L2 penalty (not on the bias)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    penalty = np.eye(xb.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + penalty @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty
        w -= np.linalg.solve(hess, grad)
    return w


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def predict(w: np.ndarray, mean: np.ndarray, scale: np.ndarray, x: np.ndarray) -> np.ndarray:
    z = w[0] + ((x - mean) / scale) @ w[1:]
    return 1 / (1 + np.exp(-z))


def cross_validate(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities, folds stratified by label."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=int)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        fold_of[idx] = np.arange(len(idx)) % folds
    out = np.empty(len(y))
    for f in range(folds):
        train, test = fold_of != f, fold_of == f
        mean, scale = standardise(x[train])
        w = fit((x[train] - mean) / scale, y[train])
        out[test] = predict(w, mean, scale, x[test])
    return out


def roc(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false refusal rate of answerable, refusal rate of unanswerable, thresholds)."""
    cuts = np.concatenate([[0.0], np.unique(p), [1.0 + 1e-9]])
    fr = np.array([np.mean(p[y == 1] < t) for t in cuts])
    tr = np.array([np.mean(p[y == 0] < t) for t in cuts])
    return fr, tr, cuts


def operating_point(p: np.ndarray, y: np.ndarray) -> float:
    """The highest threshold whose false refusal stays within MAX_FALSE_REFUSAL."""
    fr, _, cuts = roc(p, y)
    ok = cuts[fr <= MAX_FALSE_REFUSAL]
    return float(ok.max())


def auc(p: np.ndarray, y: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    return float(np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])))


def rates(p: np.ndarray, kinds: list[str], threshold: float) -> dict[str, float]:
    out = {}
    for kind in sorted(set(kinds)):
        mask = np.array([k == kind for k in kinds])
        out[f"refused_{kind}"] = round(float(np.mean(p[mask] < threshold)), 4)
        out[f"n_{kind}"] = int(mask.sum())
    return out


def plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], points: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    for label, (fr, tr) in curves.items():
        ax.plot(fr, tr, label=label, drawstyle="steps-post")
    for label, (x, y) in points.items():
        ax.scatter([x], [y], zorder=3, label=label)
    ax.set_xlabel("answerable questions refused")
    ax.set_ylabel("unanswerable questions refused")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_title("citeqa answerability: ROC")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def collect_squad(path: Path, index: Path) -> list[dict]:
    """Signals of a SQuAD file's questions, its articles indexed as documents."""
    from eval.runner import prepare_squad

    qa_file, settings = prepare_squad(path, Settings(index=index), False, index)
    questions = [
        (q.text, int(q.answerable), "calibration-" + ("answerable" if q.answerable else "near"))
        for q in load_qa(qa_file).queries
    ]
    return collect(settings.index, questions)


def reader_floor(rows: list[dict]) -> float | None:
    """The reader probability that 95 % of the answerable training questions reach: what
    the passages an LLM answer cites must reach somewhere (qa/service.py)."""
    found = [r["reader"] for r in rows if r["label"] == 1 and r.get("reader") is not None]
    return round(float(np.percentile(found, 5)), 6) if found else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=ROOT / ".citeqa/index")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--cisi-index", type=Path, default=None)
    parser.add_argument("--cisi-queries", type=Path, default=None)
    parser.add_argument("--cisi-limit", type=int, default=0, help="questions per side (0: all)")
    parser.add_argument("--cisi-collect", action="store_true")
    parser.add_argument(
        "--eval-json",
        type=Path,
        default=None,
        help="`citeqa eval --json` output of the QA set: its held-out ROC joins the plot",
    )
    parser.add_argument("--tatoeba", type=int, default=50, help="sentences per direction")
    parser.add_argument("--refit", action="store_true", help="reuse the stored signals")
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="a SQuAD file (bench/reader_heldout.py's squad1-calibration.json) whose answerable "
        "questions join the training set's out-of-fold ones where the operating point is read",
    )
    parser.add_argument("--calibration-index", type=Path, default=Path("/tmp/citeqa-calibration"))
    parser.add_argument("--model", type=Path, default=ROOT / "qa/answerability.json")
    parser.add_argument(
        "--features",
        default=",".join(FEATURES),
        help="comma-separated signals to fit on (default: qa.answerability.FEATURES); "
        "any of the signals `QAService.assess` reports, e.g. reader_logit",
    )
    args = parser.parse_args()
    features = [f for f in args.features.split(",") if f]
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if args.cisi_collect:
        queries = [
            json.loads(line)["text"]
            for line in args.cisi_queries.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        ood = [q.text for q in load_qa(args.qa).queries if not q.after]
        if args.cisi_limit:
            queries, ood = queries[: args.cisi_limit], ood[: args.cisi_limit]
        cisi_rows = collect(
            args.cisi_index,
            [(q, 1, "cisi-query") for q in queries] + [(q, 0, "qa-set-question") for q in ood],
        )
        CISI_ROWS.write_text(json.dumps(cisi_rows, indent=1, ensure_ascii=False) + "\n")
        return
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if args.refit and stored.get("train"):
        rows = stored["train"]
    else:
        rows = collect(args.index, training_questions(args.tatoeba))
    x = np.array([[r.get(f, np.nan) for f in features] for r in rows], dtype=float)
    # a signal a row lacks (no sentence for the reader) counts as its mean, as at run time
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    y = np.array([r["label"] for r in rows])
    kinds = [r["kind"] for r in rows]
    cv = cross_validate(x, y)
    mean, scale = standardise(x)
    w = fit((x - mean) / scale, y)
    if args.refit and stored.get("calibration"):
        calibration = stored["calibration"]
    elif args.calibration:
        calibration = collect_squad(args.calibration, args.calibration_index)
    else:
        calibration = []
    if calibration:  # scored by the fitted model: none of it was fitted on
        xc = np.array([[r.get(f, np.nan) for f in features] for r in calibration], dtype=float)
        xc = np.where(np.isnan(xc), mean, xc)
        pc, yc = predict(w, mean, scale, xc), np.array([r["label"] for r in calibration])
        threshold = operating_point(np.concatenate([cv, pc]), np.concatenate([y, yc]))
    else:
        threshold = operating_point(cv, y)
    model = {
        "features": features,
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        "weights": w[1:].round(6).tolist(),
        "bias": round(float(w[0]), 6),
        "threshold": round(threshold, 6),
        "reader_threshold": reader_floor(rows),
        "fitted_on": f"{TRAIN.relative_to(ROOT)} + Tatoeba nl/en sentences ({len(rows)} rows)",
    }
    args.model.write_text(json.dumps(model, indent=2) + "\n")
    result = {
        "train": rows,
        "calibration": calibration,
        "cv": {"auc": round(auc(cv, y), 4), "threshold": threshold, **rates(cv, kinds, threshold)},
    }
    print("cross-validated:", result["cv"])
    curves = {"training, 5-fold CV": roc(cv, y)[:2]}
    points = {
        "operating point (CV)": (
            float(np.mean(cv[y == 1] < threshold)),
            float(np.mean(cv[y == 0] < threshold)),
        )
    }
    if CISI_ROWS.is_file():
        cisi_rows = json.loads(CISI_ROWS.read_text())
        from qa.answerability import Model

        fitted = Model.load(args.model)
        p = np.array([fitted.probability(r) for r in cisi_rows])
        cy = np.array([r["label"] for r in cisi_rows])
        result["cisi"] = {
            "auc": round(auc(p, cy), 4),
            **rates(p, [r["kind"] for r in cisi_rows], fitted.threshold),
        }
        print("CISI (no retuning):", result["cisi"])
        curves["CISI transfer"] = roc(p, cy)[:2]
        points["operating point on CISI"] = (
            float(np.mean(p[cy == 1] < fitted.threshold)),
            float(np.mean(p[cy == 0] < fitted.threshold)),
        )
    if args.eval_json:
        answers = json.loads(args.eval_json.read_text())["answers"]
        fr, tr = np.array(answers["roc"]).T
        curves["QA set (held-out test)"] = (fr, tr)
        points["operating point on the QA set"] = (
            answers["false_abstention"],
            answers["abstain_unanswerable"],
        )
        result["test"] = {k: v for k, v in answers.items() if k != "roc"}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    plot(curves, points, RESULTS.with_name("answerability_roc.png"))
    print("model:", json.dumps({k: v for k, v in model.items() if k != "fitted_on"}))


if __name__ == "__main__":
    main()
