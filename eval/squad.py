"""SQuAD v1.1 / v2.0 JSON as a citeqa QA set: each article becomes a document (its title,
then its paragraphs), each question a QA row (answerable with its gold answers, or a
near-domain unanswerable one for v2.0's `is_impossible`).

`citeqa eval FILE.json` writes both into the data directory, indexes the documents and
scores the answers as for any QA set. This module converts only; it does not index or ask.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from embeddings.errors import BadInput


def is_squad(path: Path) -> bool:
    return path.is_file() and (path.name.endswith(".json") or path.name.endswith(".json.gz"))


def _read(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not SQuAD JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise BadInput(f"{path}: not SQuAD JSON (no top-level 'data' list of articles)")
    return data["data"]


def _answers(qa: dict[str, Any]) -> list[str]:
    out = []
    for a in qa.get("answers") or []:
        text = a.get("text") if isinstance(a, dict) else a
        if isinstance(text, str) and text.strip():
            out.append(text.strip())
    return list(dict.fromkeys(out))


def convert(path: Path, out: Path) -> tuple[Path, Path]:
    """Write `out/docs/*.txt` and `out/NAME.jsonl`; returns (docs folder, QA file)."""
    articles = _read(path)
    docs = out / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, article in enumerate(articles):
        title = str(article.get("title") or f"article {number}").replace("_", " ")
        paragraphs = [p for p in article.get("paragraphs") or [] if p.get("context")]
        slug = re.sub(r"[^\w-]+", "_", title)[:60].strip("_") or "article"
        source = f"{number:04d}_{slug}.txt"
        text = "\n\n".join([title, *(p["context"].strip() for p in paragraphs)]) + "\n"
        (docs / source).write_text(text, encoding="utf-8")
        for p in paragraphs:
            for qa in p.get("qas") or []:
                answers = _answers(qa)
                impossible = bool(qa.get("is_impossible")) or not answers
                qid = str(qa.get("id") or hashlib.sha1(qa["question"].encode()).hexdigest()[:12])
                rows.append(
                    {
                        "id": qid,
                        "question": qa["question"],
                        "lang": None,
                        "answerable": not impossible,
                        "gold_sources": [] if impossible else [source],
                        "evidence": [] if impossible else [{"source": source, "text": answers[0]}],
                        "answers": answers if not impossible else [],
                        "type": "unanswerable" if impossible else "single",
                    }
                )
    if not rows:
        raise BadInput(f"{path}: no questions")
    qa_file = out / f"{path.name.split('.')[0]}.jsonl"
    qa_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return docs, qa_file


__all__ = ["convert", "is_squad"]
