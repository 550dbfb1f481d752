"""A question as the search, the answerer and the gate use it: its text, language, analysed
terms and vector, and, in a conversation, whether it leans on the turn before and what it
asks of that turn; each worked out at most once, on first use, and then passed down.

One hybrid ask reads the question's terms in both languages, its language and its vector in
several places (BM25 over passages and documents, fusion, the extractive scorer, the
answerability gate, the follow-up re-ranking); a `Query` keeps them from being analysed or
embedded again. It does not search or decide anything; `qa.retrieval` and `qa.service` do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from embeddings.analysis import analyse, analyse_query, fold, tokens
from embeddings.documents import language_of_question
from qa.answertypes import expected_answer_type, focus_words, follow_up_intent
from qa.fusion import neutral_words

Turn = tuple[str, str]  # (user question, assistant answer)

# lone surrogates (a tokenizer's TypeError) and control characters other than tab and newline
_NOT_TEXT = re.compile(r"[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Words that make a question lean on the one before it ("And how much...", "Hoeveel was dat?")
_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|what about|how about|en|maar|ook|en hoe|hoe zit|wat dan)\b|"
    r"\b(that|this|those|these|it|they|them|he|she|him|her|there|dat|dit|die|deze|daar|"
    r"daarvan|hij|zij|ze|hem|haar|hen|hun|ervan|else|nog meer)\b",
    re.I,
)
_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’-]+"
# who spoke, in the question before "what else did he say?": "What did John Kirby say",
# "Wat zei Heiko Maas", "What did correspondent Ties Brock tell"
_SPEAKER = re.compile(
    rf"\b(?:did|does|has|had)\s+(?:[a-z]+\s+){{0,3}}((?:{_CAP}\s+){{0,3}}{_CAP})\s+"
    r"(?:say|tell|claim|write|announce|add|state)\b"
    rf"|\b(?:zei|zegt|vertelde|verklaarde|stelde)\s+(?:[a-z]+\s+){{0,3}}((?:{_CAP}\s+){{0,3}}{_CAP})"
    rf"|(?!(?:Wat|What|Who|Wie|Welke|Which|How|Hoe|Waarom|Why)\b)((?:{_CAP}\s+){{0,3}}{_CAP})\s+"
    r"(?:said|says|told|zei|zegt|vertelde|verklaarde)\b"
)
# a name (capitalised, not opening the sentence) or a number, as the gate's coverage reads it
_NAME_OR_NUMBER = re.compile(r"(?<=[\w,;:] )[A-ZÀ-ÖØ-Þ][\w'’-]{2,}|\d+(?:[.,]\d+)*")


def clean_text(text: str) -> str:
    """`text` without what is not text: lone surrogates and control characters are dropped
    (an unpaired \\udcff from a shell's invalid UTF-8 would crash the tokenizer)."""
    return _NOT_TEXT.sub("", text)


def speakers(question: str) -> set[str]:
    """Surnames of the people a question asks about the words of, lower-cased."""
    out = set()
    for m in _SPEAKER.finditer(question):
        name = next(g for g in m.groups() if g).split()
        if name and len(name[-1]) > 2:
            out.add(name[-1].lower())
    return out


def _no_vector(text: str) -> np.ndarray:
    raise TypeError(f"this Query of {text!r} was built without an embedder")


class Query:
    """One question's text, the conversation before it, and what is derived from them.
    `embed` turns text into a vector (the retriever's cached `embed_query`); it is called at
    most once, and only when the vector is wanted (a BM25-only search never embeds; a Query
    built without one is for text-only use). Not shared across threads."""

    def __init__(
        self,
        text: str,
        embed: Callable[[str], np.ndarray] | None = None,
        history: Sequence[Turn] = (),
    ) -> None:
        self.text = clean_text(text)
        self._embed = embed or _no_vector
        self.history: tuple[Turn, ...] = tuple(history)

    def __repr__(self) -> str:
        return f"Query({self.text!r})"

    @cached_property
    def vector(self) -> np.ndarray:
        return self._embed(self.text)

    @cached_property
    def lang(self) -> str | None:
        """'nl', 'en', or None when the language is unsure."""
        return language_of_question(self.text)

    @cached_property
    def terms(self) -> list[str]:
        """BM25 terms stemmed in Dutch and English together, stopwords of both dropped."""
        return analyse_query(self.text)

    @cached_property
    def repeated_terms(self) -> list[str]:
        """`terms` once per occurrence of their word, as BM25 weighs a query (both
        stemmings at once: `query_stemming=both`)."""
        return analyse_query(self.text, repeats=True)

    def terms_in(self, lang: str) -> list[str]:
        """BM25 terms as a passage in `lang` was analysed ('nl'; anything else English)."""
        lang = "nl" if lang == "nl" else "en"
        cached = self._terms_by_lang.get(lang)
        if cached is None:
            cached = self._terms_by_lang[lang] = analyse(self.text, lang)
        return cached

    @cached_property
    def _terms_by_lang(self) -> dict[str, list[str]]:
        return {}

    @cached_property
    def neutral(self) -> str:
        """Its words that read the same in Dutch and English (names, numbers), as one text."""
        return " ".join(neutral_words(self.text))

    @cached_property
    def neutral_terms(self) -> list[str]:
        return analyse_query(self.neutral)

    @cached_property
    def answer_type(self) -> re.Pattern[str] | None:
        """What a sentence answering it should hold (`qa.answertypes`), or None."""
        return expected_answer_type(self.text)

    @cached_property
    def focus_terms(self) -> set[str]:
        """The terms of the noun naming what it asks for ("In welke krant …": krant)."""
        return set(analyse_query(" ".join(focus_words(self.text))))

    @cached_property
    def content_words(self) -> list[set[str]]:
        """Each distinct content word's stems (both languages), in order of appearance."""
        stems = (set(analyse_query(w)) for w in dict.fromkeys(tokens(self.text)))
        return [s for s in stems if s]

    @cached_property
    def marks(self) -> list[list[str]]:
        """Its names and numbers, each as its folded tokens."""
        return [tokens(fold(m)) for m in _NAME_OR_NUMBER.findall(self.text)]

    @cached_property
    def follow_up(self) -> bool:
        """Whether it leans on the turn before: there is one, and it is short or points back
        ("And why?", "Hoeveel was dat?")."""
        if not self.history:
            return False
        return len(self.terms) <= 4 or bool(_FOLLOW_UP.search(self.text))

    @cached_property
    def intent(self) -> re.Pattern[str] | None:
        """What an answer sentence to it as a bare follow-up should hold (`follow_up_intent`)."""
        return follow_up_intent(self.text)

    @cached_property
    def speakers(self) -> set[str]:
        """The people the previous question asked about the words of (for "what else did
        he say?"); empty without a previous turn."""
        return speakers(self.history[-1][0]) if self.history else set()


__all__ = ["Query", "Turn", "clean_text", "speakers"]
