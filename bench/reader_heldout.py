"""Write the reader's held-out articles (the validation split of train/reader.py, by article,
same seed) as SQuAD JSON files, for `citeqa eval FILE.json`:

  python bench/reader_heldout.py [--out bench/results/tmp/heldout]
  citeqa eval bench/results/tmp/heldout/squad2.json --index /tmp/h2 --modes hybrid --json

squad2.json: the 4 held-out SQuAD 2.0 articles (answerable and adversarial unanswerable);
xquad-nl.json: the 6 held-out XQuAD articles in Dutch (Dutch questions on Dutch paragraphs);
xquad-en-nl.json: the same with the English questions; xquad-nl-gaps.json: the Dutch articles
without every third paragraph, whose questions stay as unanswerable ones;
squad1-calibration.json: the 20 held-out SQuAD v1.1 articles, where bench/answerability.py
reads the answerability model's operating point (no report uses them).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from train import data  # noqa: E402

SEED = 13  # train/reader.py's default


def english_questions(dutch: list[dict], english: list[dict]) -> list[dict]:
    """The Dutch articles with XQuAD's English questions (the same ids): English questions
    about Dutch paragraphs, the answers as the Dutch text has them."""
    out = copy.deepcopy(dutch)
    for article, en in zip(out, english, strict=True):
        for p, en_p in zip(article["paragraphs"], en["paragraphs"], strict=True):
            asked = {q["id"]: q["question"] for q in en_p["qas"]}
            for q in p["qas"]:
                q["question"] = asked.get(q["id"], q["question"])
    return out


def with_gaps(articles: list[dict]) -> list[dict]:
    """Every third paragraph taken out of the documents, its questions kept as unanswerable:
    Dutch questions on the collection's own topics whose answer it no longer holds (XQuAD
    has no unanswerable questions of its own)."""
    out = copy.deepcopy(articles)
    for article in out:
        paragraphs = article["paragraphs"]
        kept = [p for i, p in enumerate(paragraphs) if i % 3 != 1]
        for i, p in enumerate(paragraphs):
            if i % 3 == 1 and kept:
                for q in p["qas"]:
                    kept[i % len(kept)]["qas"].append({**q, "answers": [], "is_impossible": True})
        article["paragraphs"] = kept
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/tmp/heldout")
    parser.add_argument("--max-questions", type=int, default=400, help="per file")
    parser.add_argument("--calibration-questions", type=int, default=200)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    squad2 = data.read_squad(args.data / "squad2-dev-train" / "squad2_dev_train.json")
    _, held = data.split_articles(squad2, 4, SEED)
    xnl = data.read_squad(args.data / "xquad-nl-train" / "xquad.nl.train.json")
    order = list(range(len(xnl)))
    random.Random(SEED).shuffle(order)
    squad1 = data.read_squad(args.data / "squad1-train" / "squad1_train.json.gz")
    _, held1 = data.split_articles(squad1, 20, SEED)
    xen = data.read_squad(args.data / "xquad-nl-train" / "xquad.en.train.json")
    held_nl = [xnl[i] for i in sorted(order[:6])]
    sets = {
        "squad2": held,
        "xquad-nl": held_nl,
        "xquad-en-nl": english_questions(held_nl, [xen[i] for i in sorted(order[:6])]),
        "xquad-nl-gaps": with_gaps(held_nl),
        "squad1-calibration": held1,
    }
    rng = random.Random(SEED)
    for name, articles in sets.items():
        qas = [(a, p, q) for a in articles for p in a["paragraphs"] for q in p["qas"]]
        most = args.calibration_questions if name == "squad1-calibration" else args.max_questions
        keep = {id(q) for _, _, q in rng.sample(qas, min(most, len(qas)))}
        for a in articles:
            for p in a["paragraphs"]:
                p["qas"] = [q for q in p["qas"] if id(q) in keep]
        path = args.out / f"{name}.json"
        path.write_text(json.dumps({"version": "heldout", "data": articles}), encoding="utf-8")
        print(f"{path}: {len(articles)} articles, {len(keep)} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
