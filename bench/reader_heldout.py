"""Write the reader's held-out articles (the validation split of train/reader.py, by article,
same seed) as SQuAD JSON files, for `citeqa eval FILE.json`:

  python bench/reader_heldout.py [--out bench/results/tmp/heldout]
  citeqa eval bench/results/tmp/heldout/squad2.json --index /tmp/h2 --modes hybrid --json

squad2.json: the 4 held-out SQuAD 2.0 articles (answerable and adversarial unanswerable);
xquad-nl.json: the 6 held-out XQuAD articles in Dutch (Dutch questions on Dutch paragraphs).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from train import data  # noqa: E402

SEED = 13  # train/reader.py's default


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/tmp/heldout")
    parser.add_argument("--max-questions", type=int, default=400, help="per file")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    squad2 = data.read_squad(args.data / "squad2-dev-train" / "squad2_dev_train.json")
    _, held = data.split_articles(squad2, 4, SEED)
    xnl = data.read_squad(args.data / "xquad-nl-train" / "xquad.nl.train.json")
    order = list(range(len(xnl)))
    random.Random(SEED).shuffle(order)
    sets = {"squad2": held, "xquad-nl": [xnl[i] for i in sorted(order[:6])]}
    rng = random.Random(SEED)
    for name, articles in sets.items():
        qas = [(a, p, q) for a in articles for p in a["paragraphs"] for q in p["qas"]]
        keep = {id(q) for _, _, q in rng.sample(qas, min(args.max_questions, len(qas)))}
        for a in articles:
            for p in a["paragraphs"]:
                p["qas"] = [q for q in p["qas"] if id(q) in keep]
        path = args.out / f"{name}.json"
        path.write_text(json.dumps({"version": "heldout", "data": articles}), encoding="utf-8")
        print(f"{path}: {len(articles)} articles, {len(keep)} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
