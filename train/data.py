"""Training and validation examples for the reader, from SQuAD-format JSON.

An example is one question and one passage window (whole sentences of a paragraph, about an
index chunk's length) with a 0/1 label for each sentence and, where a sentence answers, the
answer's character span. The sentence holding the answer is the positive; the window's other
sentences are negatives, and so is every sentence of a window that does not hold the answer:
another window of the paragraph, another paragraph of the article, or any window for an
unanswerable question. Dutch and cross-lingual pairs come from XQuAD's parallel files.
Articles are split into training and validation by a seeded shuffle, never questions.
It builds examples only; `train/reader.py` trains.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embeddings.chunking import split_sentences
from train.rewrites import adversarial, capitalised, words

WINDOW_WORDS = 70  # about an index chunk of 100 e5 tokens


@dataclass(frozen=True)
class Example:
    question: str
    passage: str
    sentences: tuple[tuple[int, int], ...]
    labels: tuple[int, ...]
    answer: tuple[int, int] | None  # character span in `passage`
    title: str
    kind: str  # squad1, squad2-answerable, squad2-unanswerable, xquad-<q>-<p>, ...
    article: str


def read_squad(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return list(json.load(f)["data"])


def split_articles(
    articles: Sequence[dict[str, Any]], held_out: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training, validation) articles: `held_out` of them, by a seeded shuffle."""
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    held = set(order[:held_out])
    return (
        [a for i, a in enumerate(articles) if i not in held],
        [a for i, a in enumerate(articles) if i in held],
    )


def answers_of(qa: dict[str, Any]) -> list[str]:
    out = []
    for answer in qa.get("answers") or []:
        text = answer["text"] if isinstance(answer, dict) else answer
        if text and text.strip():
            out.append(text.strip())
    return out


def locate(context: str, question: str, answers: Sequence[str]) -> tuple[int, int] | None:
    """Where the answer is: of the gold answers' occurrences, the one whose sentence shares
    most words with the question (SQuAD v1 pages carry no offsets)."""
    spans = split_sentences(context)
    q = words(question)
    best: tuple[int, tuple[int, int]] | None = None
    for answer in answers:
        for m in re.finditer(re.escape(answer), context):
            sentence = next(((s, e) for s, e in spans if s <= m.start() < e), None)
            if sentence is None or m.end() > sentence[1]:
                continue  # an answer across a sentence boundary: not one sentence's
            overlap = len(q & words(context[sentence[0] : sentence[1]]))
            if best is None or overlap > best[0]:
                best = (overlap, (m.start(), m.end()))
        if best is not None:
            break
    return best[1] if best else None


def windows(context: str, limit: int = WINDOW_WORDS) -> list[list[tuple[int, int]]]:
    """The paragraph's sentences packed into consecutive windows of about `limit` words."""
    out: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    size = 0
    for s, e in split_sentences(context):
        n = len(context[s:e].split())
        if current and size + n > limit:
            out.append(current)
            current, size = [], 0
        current.append((s, e))
        size += n
    if current:
        out.append(current)
    return out


def window_around(
    context: str, at: int, rng: random.Random, limit: int = WINDOW_WORDS
) -> list[tuple[int, int]]:
    """A window holding the sentence at character `at`, starting a random few sentences
    before it, so the answer is not always first."""
    spans = split_sentences(context)
    i = next(j for j, (s, e) in enumerate(spans) if s <= at < e)
    start = max(0, i - rng.randint(0, 3))
    out: list[tuple[int, int]] = []
    size = 0
    for s, e in spans[start:]:
        n = len(context[s:e].split())
        if out and size + n > limit:
            break
        out.append((s, e))
        size += n
    if not any(s <= at < e for s, e in out):  # the sentences before were too long
        return [spans[i]]
    return out


def example(
    question: str,
    context: str,
    window: list[tuple[int, int]],
    answer: tuple[int, int] | None,
    title: str,
    kind: str,
    article: str,
) -> Example:
    """The window cut out of its paragraph as a passage of its own."""
    base = window[0][0]
    passage = context[base : window[-1][1]]
    sentences = tuple((s - base, e - base) for s, e in window)
    labels = tuple(int(answer is not None and s <= answer[0] - base < e) for s, e in sentences)
    span = None
    if answer is not None and any(labels):
        span = (answer[0] - base, answer[1] - base)
    return Example(question, passage, sentences, labels, span, title, kind, article)


def _title(article: dict[str, Any]) -> str:
    return str(article.get("title", "")).replace("_", " ")


def _overlap_window(
    question: str, context: str, exclude: int | None = None
) -> list[tuple[int, int]] | None:
    """The window of `context` sharing most words with the question (not the one holding
    character `exclude`): the hardest negative a paragraph offers."""
    q = words(question)
    best, best_overlap = None, -1
    for window in windows(context):
        if exclude is not None and any(s <= exclude < e for s, e in window):
            continue
        overlap = len(q & words(context[window[0][0] : window[-1][1]]))
        if overlap > best_overlap:
            best, best_overlap = window, overlap
    return best


def _rewritten(
    question: str,
    article: dict[str, Any],
    p: int,
    answer: tuple[int, int],
    window: list[tuple[int, int]],
    label: str,
    rng: random.Random,
) -> Iterator[Example]:
    """The all-negative window of a rewrite of `question` that paragraph `p` cannot answer."""
    context = article["paragraphs"][p]["context"]
    rewrite = adversarial(question, context, answer, capitalised(article, p), rng)
    if rewrite:
        name = str(article.get("title", ""))
        yield example(
            rewrite[0], context, window, None, _title(article), f"{label}-{rewrite[1]}", name
        )


def _unanswerable_windows(
    question: str, context: str, copies: int, rng: random.Random
) -> list[list[tuple[int, int]]]:
    """The paragraph's window closest to an unanswerable question, and up to `copies` - 1
    more cut at random sentences."""
    window = _overlap_window(question, context)
    if not window:
        return []
    seen = [window]
    for _ in range(copies - 1):
        spans = split_sentences(context)
        other = window_around(context, rng.choice(spans)[0], rng)
        if other not in seen:
            seen.append(other)
    return seen


def squad_examples(
    articles: Sequence[dict[str, Any]],
    kind: str,
    rng: random.Random,
    negatives: float = 0.3,
    questions: int | None = None,
    copies: int = 1,
    adversarial_share: float = 0.0,
) -> Iterator[Example]:
    """From SQuAD v1/v2 articles: a positive window for each answerable question (with
    its neighbour sentences as negatives), an all-negative window for each unanswerable
    one (the paragraph's window closest to it in words), and for a share `negatives` of the
    answerable ones a window without the answer (another window of the paragraph, else the
    closest window of another paragraph of the article). With `copies` > 1 each question
    comes back that many times, in windows cut at other sentences: the adversarial
    unanswerables are few and the hardest to learn, so they are worth several looks. For a
    share `adversarial_share` of the answerable ones, a rewrite the paragraph does not
    answer (`adversarial`) comes with the same window, every sentence negative."""
    items = [
        (article, p, qa)
        for article in articles
        for p, paragraph in enumerate(article["paragraphs"])
        for qa in paragraph["qas"]
    ]
    rng.shuffle(items)
    taken = 0
    for article, p, qa in items:
        if questions is not None and taken >= questions:
            break
        paragraphs = article["paragraphs"]
        context = paragraphs[p]["context"]
        title, name = _title(article), str(article.get("title", ""))
        question = qa["question"]
        if qa.get("is_impossible"):
            seen = _unanswerable_windows(question, context, copies, rng)
            taken += bool(seen)
            for w in seen:
                yield example(question, context, w, None, title, f"{kind}-unanswerable", name)
            continue
        answer = locate(context, question, answers_of(qa))
        if answer is None:
            continue
        taken += 1
        label = f"{kind}-answerable" if kind == "squad2" else kind
        cut = [window_around(context, answer[0], rng) for _ in range(copies)]
        for w in [w for i, w in enumerate(cut) if w not in cut[:i]]:
            yield example(question, context, w, answer, title, label, name)
        if adversarial_share and rng.random() < adversarial_share:
            yield from _rewritten(question, article, p, answer, cut[0], label, rng)
        if rng.random() < negatives:
            window = _overlap_window(question, context, exclude=answer[0])
            other = context
            if window is None and len(paragraphs) > 1:
                other = paragraphs[rng.choice([i for i in range(len(paragraphs)) if i != p])][
                    "context"
                ]
                window = _overlap_window(question, other)
            if window:
                yield example(question, other, window, None, title, f"{label}-negative", name)


def xquad_examples(
    english: Sequence[dict[str, Any]], dutch: Sequence[dict[str, Any]], rng: random.Random
) -> Iterator[Example]:
    """From XQuAD's parallel articles: each question in both languages against the passage
    in both (Dutch-Dutch, English-Dutch, Dutch-English, English-English), and a window of
    another paragraph of the article as a negative, in a language picked at random."""
    for en_article, nl_article in zip(english, dutch, strict=True):
        name = str(en_article.get("title", ""))
        en_paragraphs, nl_paragraphs = en_article["paragraphs"], nl_article["paragraphs"]
        for p, (en_p, nl_p) in enumerate(zip(en_paragraphs, nl_paragraphs, strict=True)):
            by_id = {qa["id"]: qa for qa in nl_p["qas"]}
            for en_qa in en_p["qas"]:
                nl_qa = by_id.get(en_qa["id"])
                if nl_qa is None:
                    continue
                found = {
                    "en": locate(en_p["context"], en_qa["question"], answers_of(en_qa)),
                    "nl": locate(nl_p["context"], nl_qa["question"], answers_of(nl_qa)),
                }
                questions = {"en": en_qa["question"], "nl": nl_qa["question"]}
                contexts = {"en": en_p["context"], "nl": nl_p["context"]}
                titles = {"en": _title(en_article), "nl": _title(nl_article)}
                for q_lang in ("nl", "en"):
                    for p_lang in ("nl", "en"):
                        answer = found[p_lang]
                        if answer is None:
                            continue
                        window = window_around(contexts[p_lang], answer[0], rng)
                        yield example(
                            questions[q_lang],
                            contexts[p_lang],
                            window,
                            answer,
                            titles[p_lang],
                            f"xquad-{q_lang}-{p_lang}",
                            name,
                        )
                if len(en_paragraphs) > 1:
                    o = rng.choice([i for i in range(len(en_paragraphs)) if i != p])
                    p_lang = rng.choice(("nl", "en"))
                    q_lang = rng.choice(("nl", "en"))
                    other = (nl_paragraphs if p_lang == "nl" else en_paragraphs)[o]["context"]
                    window = _overlap_window(questions[q_lang], other)
                    if window:
                        yield example(
                            questions[q_lang],
                            other,
                            window,
                            None,
                            titles[p_lang],
                            f"xquad-{q_lang}-{p_lang}-negative",
                            name,
                        )
