"""Evaluation sets in two formats: citeqa's QA JSONL and BEIR folders.

QA JSONL (one question a line): id, question, lang, answerable, gold_sources (file names),
gold_doc_ids (content-hash ids), evidence [{source, text}], answers, type, and for a
follow-up `after` (the earlier questions of the conversation, oldest first). A retrieved
passage is relevant when it contains an evidence span. BEIR: corpus.jsonl, queries.jsonl,
qrels/test.tsv; documents are relevant by id.
This module reads data and says what is relevant; it runs nothing.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.errors import BadInput

QA_FIELDS = {"id", "question", "lang", "answerable", "gold_sources", "evidence", "answers"}


@dataclass(frozen=True)
class Evidence:
    source: str  # file name of the document
    text: str  # an exact substring of that document


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    lang: str | None = None
    answerable: bool = True
    answers: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    gold_sources: tuple[str, ...] = ()
    gold_doc_ids: tuple[str, ...] = ()
    kind: str = "single"
    after: tuple[str, ...] = ()  # a follow-up: the earlier questions, oldest first


@dataclass
class Dataset:
    name: str
    fmt: str  # "qa" or "beir"
    queries: list[Query]
    # BEIR only: doc id -> (title, text), and the graded judgements
    corpus: dict[str, tuple[str, str]] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def contains(passage: str, span: str) -> bool:
    """Whitespace-insensitive containment: a passage holds an evidence span."""
    return _squash(span) in _squash(passage)


def load_dataset(path: Path) -> Dataset:
    path = Path(path)
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        return load_beir(path)
    if path.is_dir():
        candidates = sorted(path.glob("*.jsonl"))
        if len(candidates) == 1:
            return load_qa(candidates[0])
        raise BadInput(
            f"{path}: expected a BEIR folder (corpus.jsonl, queries.jsonl, "
            "qrels/test.tsv) or one QA .jsonl file"
        )
    if path.suffix == ".jsonl" and path.is_file():
        return load_qa(path)
    raise BadInput(f"{path}: not a QA .jsonl file or a BEIR folder")


def load_qa(path: Path) -> Dataset:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise BadInput(f"{path}:{number}: not JSON ({exc})") from exc
        missing = QA_FIELDS - set(row)
        if missing:
            raise BadInput(f"{path}:{number}: missing fields {sorted(missing)}")
        queries.append(
            Query(
                qid=str(row["id"]),
                text=row["question"],
                lang=row.get("lang"),
                answerable=bool(row["answerable"]),
                answers=tuple(row["answers"]),
                evidence=tuple(Evidence(e["source"], e["text"]) for e in row["evidence"]),
                gold_sources=tuple(row["gold_sources"]),
                gold_doc_ids=tuple(row.get("gold_doc_ids", ())),
                kind=row.get("type", "single"),
                after=tuple(row.get("after", ())),
            )
        )
    if not queries:
        raise BadInput(f"{path}: no questions")
    return Dataset(name=path.stem, fmt="qa", queries=queries)


def load_beir(folder: Path, split: str = "test") -> Dataset:
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            corpus[str(row["_id"])] = (row.get("title") or "", row.get("text") or "")
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise BadInput(f"{folder}: no qrels/{split}.tsv")
    with qrels_path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            score = int(row["score"])
            if score > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = score
    queries = []
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            qid = str(row["_id"])
            if qid in qrels:  # judged queries only
                queries.append(Query(qid=qid, text=row["text"]))
    name = (
        folder.name
        if folder.name not in ("nl2en", "en2nl")
        else f"{folder.parent.name}-{folder.name}"
    )
    return Dataset(name=name, fmt="beir", queries=queries, corpus=corpus, qrels=qrels)


def safe_file_name(doc_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", doc_id)[:100] + ".txt"


def write_beir_corpus(dataset: Dataset, folder: Path) -> dict[str, str]:
    """Write each BEIR document as a .txt file (only when changed); file name -> doc id."""
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for doc_id, (title, text) in dataset.corpus.items():
        name = safe_file_name(doc_id)
        if name in names:
            raise BadInput(f"two document ids map to the file name {name}")
        names[name] = doc_id
        body = f"{title}\n\n{text}" if title else text
        target = folder / name
        if not target.is_file() or target.read_text(encoding="utf-8") != body:
            target.write_text(body, encoding="utf-8")
    wanted = set(names)
    for stale in folder.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    return names
