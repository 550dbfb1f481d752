"""A question as the search and the answerer use it: its text, language, analysed terms and
vector, each worked out at most once, on first use, and then passed down.

One hybrid ask reads the question's terms in both languages, its language and its vector in
several places (BM25 over passages and documents, fusion, the extractive scorer, the
answerability gate); a `Query` keeps them from being analysed or embedded again. It does not
search or decide anything; `qa.retrieval` and `qa.service` do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property

import numpy as np

from embeddings.analysis import analyse, analyse_query
from embeddings.documents import language_of_question

# lone surrogates (a tokenizer's TypeError) and control characters other than tab and newline
_NOT_TEXT = re.compile(r"[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """`text` without what is not text: lone surrogates and control characters are dropped
    (an unpaired \\udcff from a shell's invalid UTF-8 would crash the tokenizer)."""
    return _NOT_TEXT.sub("", text)


class Query:
    """One question's text and what is derived from it. `embed` turns text into a vector
    (the retriever's cached `embed_query`); it is called at most once, and only when the
    vector is wanted (a BM25-only search never embeds). Not shared across threads."""

    def __init__(self, text: str, embed: Callable[[str], np.ndarray]) -> None:
        self.text = clean_text(text)
        self._embed = embed

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


__all__ = ["Query"]
