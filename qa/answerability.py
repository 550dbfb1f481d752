"""Is a question answerable from this index? A small calibrated model over signals the
system already has, so the decision holds on any index, offline.

A fixed cosine floor cannot work: e5 similarities crowd between 0.7 and 0.9 for any text.
So every similarity is measured against a background: the same question's similarity to a
fixed set of generic sentences (how much better the index's best passage is than text about
nothing in particular) and to the lower ranks of its own retrieved list (a query-performance
feature). Lexical signals add what embeddings blur: how many of the question's content words,
names and numbers the best passages hold, and whether the best sentence holds the kind of
thing asked for. The trained reader's judgement of the sentence it would quote (its logit)
is the seventh, and the weightiest: docs/answers.md, "The trained reader". A logistic
regression, fitted by bench/answerability.py on training questions the tests do not use,
turns the signals into a probability; its coefficients and operating point live in
answerability.json next to this file (plain JSON, no pickle).
This module computes signals and applies the model; it does not retrieve or answer.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.analysis import analyse, tokens
from embeddings.embedders import Embedder
from embeddings.store import ChunkRecord
from qa.query import Query

MODEL_FILE = Path(__file__).with_name("answerability.json")
FEATURES = (
    "top_vs_generic",  # best passage cosine minus the mean cosine to generic sentences
    "sentence_vs_generic",  # best sentence cosine, same background
    "top_vs_tail",  # best passage cosine minus the median of the retrieved list's tail
    "coverage",  # share of the question's content words found in the best passages
    "names_numbers",  # share of its names and numbers found there (1 when it has none)
    "typed",  # 1 when the best sentence holds the kind of thing asked for
    # the trained reader's logit that the sentence it would quote answers (qa/reader.py);
    # without the reader (a follow-up, or no engine for it) it counts as its mean: neutral
    "reader_logit",
)
# Sentences about nothing in particular, in both languages: the background a question's
# similarity to the index is compared with. Changing them changes the model: refit.
GENERIC = (
    "The weather was pleasant for most of the week.",
    "She bought bread and milk at the shop on the corner.",
    "The meeting has been moved to next Tuesday afternoon.",
    "Children played football in the park after school.",
    "The recipe needs two eggs, flour and a pinch of salt.",
    "He forgot his umbrella on the train again.",
    "The museum is closed on Mondays.",
    "Our new neighbours have a small dog and two cats.",
    "The software update fixes several minor bugs.",
    "Traffic was heavy on the motorway this morning.",
    "The book tells the story of a family over three generations.",
    "Prices of fruit and vegetables rose slightly last month.",
    "Het was de hele week mooi weer.",
    "Zij kocht brood en melk in de winkel op de hoek.",
    "De vergadering is verplaatst naar dinsdagmiddag.",
    "Na school speelden de kinderen voetbal in het park.",
    "Voor het recept heb je twee eieren, bloem en een snufje zout nodig.",
    "Hij liet zijn paraplu weer in de trein liggen.",
    "Het museum is op maandag gesloten.",
    "Onze nieuwe buren hebben een kleine hond en twee katten.",
    "De software-update lost enkele kleine fouten op.",
    "Het was vanochtend druk op de snelweg.",
    "Het boek vertelt het verhaal van een familie over drie generaties.",
    "De prijzen van groente en fruit stegen vorige maand licht.",
)


@dataclass(frozen=True)
class Model:
    """Standardise, weigh, squash: p = sigmoid(bias + weights · (x - mean) / scale)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # the operating point: answer when p >= threshold
    # the reader probability an LLM answer's cited passages must reach somewhere (the one
    # that 95 % of the training set's answerable questions reach); None: no such check
    reader_threshold: float | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Model:
        data = json.loads((path or MODEL_FILE).read_text(encoding="utf-8"))
        return cls(
            tuple(data["features"]),
            tuple(data["mean"]),
            tuple(data["scale"]),
            tuple(data["weights"]),
            float(data["bias"]),
            float(data["threshold"]),
            data.get("reader_threshold"),
        )

    def probability(self, signals: dict[str, float]) -> float:
        # a signal that cannot be measured (see `signals`) counts as its training mean: neutral
        z = self.bias + sum(
            w * (signals.get(f, m) - m) / s
            for f, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


class Background:
    """The generic sentences' vectors for one embedder, embedded once on first use."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def mean_similarity(self, query_vector: np.ndarray) -> float:
        with self._lock:
            if self._vectors is None:
                self._vectors = self.embedder.embed_documents(list(GENERIC))
        return float(np.mean(self._vectors @ query_vector))


def _covered(question: Query, passages: Sequence[ChunkRecord]) -> tuple[float, float]:
    """Shares of the question's content words, and of its names and numbers, that occur in
    the passages (stemmed in Dutch and English; names and numbers folded, as written)."""
    terms: set[str] = set()
    folded = ""
    for p in passages:
        terms.update(analyse(p.text, "nl"))
        terms.update(analyse(p.text, "en"))
        folded += " " + " ".join(tokens(p.text))
    words = question.content_words
    content = sum(1 for stems in words if stems & terms) / max(1, len(words))
    if not question.marks:
        return content, 1.0
    padded = f" {folded} "
    found = sum(1 for m in question.marks if all(f" {t} " in padded for t in m))
    return content, found / len(question.marks)


def signals(
    question: str | Query,
    query_vector: np.ndarray,
    pool: Sequence[float],
    passages: Sequence[ChunkRecord],
    best_sentence: float | None,
    typed: bool,
    background: Background,
) -> dict[str, float]:
    """The model's inputs. `question`: what is judged (a `Query` brings its words analysed
    once); `pool`: dense cosines of the question's retrieved list, best
    first; `passages`: the passages answers are read from; `best_sentence`: the best
    sentence's cosine (None when no passage has a sentence). With one cosine in `pool` (an
    index of one passage) `top_vs_tail` is left out, and the model reads it as neutral."""
    generic = background.mean_similarity(query_vector)
    top = float(pool[0]) if len(pool) else generic
    tail = pool[len(pool) // 2 :] if len(pool) > 1 else pool
    judged = question if isinstance(question, Query) else Query(question)
    content, marks = _covered(judged, passages[:3])
    found = {
        "top_vs_generic": top - generic,
        "sentence_vs_generic": (best_sentence if best_sentence is not None else generic) - generic,
        "top_vs_tail": top - float(np.median(tail)) if len(tail) else 0.0,
        "coverage": content,
        "names_numbers": marks,
        "typed": 1.0 if typed else 0.0,
    }
    if len(pool) < 2:  # an index of one passage: no tail for the best to lead, not "no lead"
        del found["top_vs_tail"]
    return found


__all__ = ["FEATURES", "GENERIC", "Background", "Model", "signals"]
