"""Rewrites of an answerable SQuAD question that its paragraph no longer answers, for the
reader's training (`train/data.py`): the hard unanswerable questions SQuAD 2.0 has only a few
thousand of, made from SQuAD v1.1's 87,000.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from embeddings.chunking import split_sentences

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


# Rewrites of an answerable question that its passage no longer answers, in the ways
# SQuAD 2.0's writers made theirs (Rajpurkar et al. 2018: negation, antonym, entity swap,
# number swap). The gold sentence stays in the window, so the reader has to notice the one
# changed word; each is kept only where the passage cannot answer the rewrite.
_AUX = re.compile(
    r"^((?:what|which|who|whom|whose|when|where|how|why)\b[^?]*?\b"
    r"(?:is|was|are|were|did|does|do|can|could|has|have|had|will|would|should|may|might))\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:not|no|never|none|nor|without)\b|n't", re.IGNORECASE)
_ANTONYMS = dict(
    pair
    for a, b in [
        ("most", "least"),
        ("largest", "smallest"),
        ("first", "last"),
        ("highest", "lowest"),
        ("earliest", "latest"),
        ("before", "after"),
        ("more", "less"),
        ("best", "worst"),
        ("north", "south"),
        ("east", "west"),
        ("maximum", "minimum"),
        ("oldest", "youngest"),
        ("longest", "shortest"),
        ("increase", "decrease"),
        ("increased", "decreased"),
        ("larger", "smaller"),
        ("higher", "lower"),
        ("older", "younger"),
        ("major", "minor"),
        ("biggest", "smallest"),
        ("early", "late"),
        ("strongest", "weakest"),
        ("above", "below"),
        ("inside", "outside"),
        ("northern", "southern"),
        ("eastern", "western"),
        ("positive", "negative"),
        ("rise", "fall"),
    ]
    for pair in ((a, b), (b, a))
)
_CAPITAL = re.compile(r"\b[A-Z][a-z]{2,}\b")
_NUMBER = re.compile(r"\b\d{1,4}\b")


_CONTRACTED = {
    "can": "can't",
    "will": "won't",
    "may": "may not",
    "might": "might not",
    "shall": "shan't",
}


def _negation(question: str, context: str, sentence: str, rng: random.Random) -> str | None:
    """ "When did X ..." -> "When didn't X ...": the contraction keeps the word order right."""
    m = _AUX.match(question)
    if m is None or _NEGATED.search(question) or _NEGATED.search(sentence):
        return None
    head, aux = m.group(1).rsplit(" ", 1) if " " in m.group(1) else ("", m.group(1))
    negated = _CONTRACTED.get(aux.lower(), f"{aux}n't")
    return f"{head} {negated}{question[m.end() :]}"


def _antonym(question: str, context: str, sentence: str, rng: random.Random) -> str | None:
    found = [m for m in _WORD.finditer(question) if m.group().lower() in _ANTONYMS]
    if not found:
        return None
    m = rng.choice(found)
    other = _ANTONYMS[m.group().lower()]
    if other in words(sentence):
        return None
    if m.group()[0].isupper():
        other = other.capitalize()
    return question[: m.start()] + other + question[m.end() :]


def _entity_swap(
    question: str, context: str, sentence: str, rng: random.Random, pool: Sequence[str]
) -> str | None:
    present = words(context)
    found = [m for m in _CAPITAL.finditer(question) if m.start() > 0 and m.group() in sentence]
    choices = [w for w in pool if w.lower() not in present and w not in question]
    if not found or not choices:
        return None
    m = rng.choice(found)
    return question[: m.start()] + rng.choice(choices) + question[m.end() :]


def _number_swap(question: str, context: str, sentence: str, rng: random.Random) -> str | None:
    found = [m for m in _NUMBER.finditer(question) if m.group() in context]
    if not found:
        return None
    m = rng.choice(found)
    value = int(m.group())
    for _ in range(10):
        shift = rng.randint(1, 40 if value > 1000 else max(2, value))
        new = str(value + rng.choice((-1, 1)) * shift)
        if int(new) > 0 and not re.search(rf"\b{new}\b", context):
            return question[: m.start()] + new + question[m.end() :]
    return None


def adversarial(
    question: str, context: str, answer: tuple[int, int], pool: Sequence[str], rng: random.Random
) -> tuple[str, str] | None:
    """(rewrite, how) of an answerable question that its paragraph does not answer, or
    None where no rewrite applies. `pool`: capitalised words of the article's other
    paragraphs, for the entity swap."""
    spans = split_sentences(context)
    sentence = next((context[s:e] for s, e in spans if s <= answer[0] < e), "")
    ways = [
        ("negation", lambda: _negation(question, context, sentence, rng)),
        ("antonym", lambda: _antonym(question, context, sentence, rng)),
        ("entity", lambda: _entity_swap(question, context, sentence, rng, pool)),
        ("number", lambda: _number_swap(question, context, sentence, rng)),
    ]
    # SQuAD 2.0's mix: entity and number swaps and antonyms each about twice as common
    # as negation
    weights = {"negation": 1.0, "antonym": 2.0, "entity": 2.0, "number": 2.0}
    ways.sort(key=lambda way: rng.random() ** (1.0 / weights[way[0]]), reverse=True)
    for how, rewrite in ways:
        if how == "negation" and rng.random() < 0.6:
            continue  # it fits nearly every question; kept rarer, as in SQuAD 2.0
        out = rewrite()
        if out and out != question:
            return out, how
    return None


def capitalised(article: dict[str, Any], but: int) -> list[str]:
    """The capitalised words of an article's paragraphs other than number `but`."""
    out: set[str] = set()
    for i, paragraph in enumerate(article["paragraphs"]):
        if i != but:
            out.update(m.group() for m in _CAPITAL.finditer(paragraph["context"]) if m.start())
    return sorted(out)
