"""A collection of long documents from public text: SQuAD v1.1 articles, one article per
document (title, then its paragraphs), questions as queries, and as each question's evidence
the sentence of its paragraph that holds the answer (a passage is relevant when it contains
that sentence). Articles are drawn with a fixed seed, a few questions from each.

Usage: python bench/squad_long_docs.py OUT [--articles 40] [--per-article 8] [--seed 7]
writes OUT/docs/*.txt and OUT/squad_long.jsonl (citeqa's QA format), for
  citeqa index OUT/docs --index OUT/index
  python bench/granularity_configs.py OUT/squad_long.jsonl --index OUT/index --adaptive
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "datasets" / "squad1-train" / "squad1_train.json.gz"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def sentence_at(context: str, offset: int) -> str:
    start = 0
    for match in _SENTENCE_END.finditer(context):
        if match.start() >= offset:
            return context[start : match.start()].strip()
        start = match.end()
    return context[start:].strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--per-article", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with gzip.open(SQUAD, "rt", encoding="utf-8") as f:
        articles = json.load(f)["data"]
    rng = random.Random(args.seed)
    chosen = rng.sample(range(len(articles)), args.articles)
    docs = args.out / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    rows = []
    for number in sorted(chosen):
        article = articles[number]
        title = article["title"].replace("_", " ")
        slug = re.sub(r"[^\w-]+", "_", title)[:60]
        source = f"{number:04d}_{slug}.txt"
        paragraphs = [p["context"].strip() for p in article["paragraphs"]]
        (docs / source).write_text("\n\n".join([title, *paragraphs]) + "\n", encoding="utf-8")
        questions = [(p, qa) for p in article["paragraphs"] for qa in p["qas"]]
        # the answers carry no offsets: the first occurrence of the answer in its paragraph
        questions = [(p, qa) for p, qa in questions if qa["answers"][0] in p["context"]]
        for p, qa in rng.sample(questions, min(args.per_article, len(questions))):
            answer = qa["answers"][0]
            offset = p["context"].index(answer)
            rows.append(
                {
                    "id": qa["id"],
                    "question": qa["question"],
                    "lang": "en",
                    "answerable": True,
                    "gold_sources": [source],
                    "evidence": [
                        {
                            "source": source,
                            "text": sentence_at(p["context"], offset),
                        }
                    ],
                    "answers": list(qa["answers"]),
                    "type": "single",
                }
            )
    out = args.out / "squad_long.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    words = sum(len(p.read_text().split()) for p in docs.iterdir())
    print(f"{len(chosen)} articles ({words} words), {len(rows)} questions -> {out}")


if __name__ == "__main__":
    main()
