"""Lexical analysis for BM25: tokens, stopwords and Snowball stems chosen per language.

A chunk is analysed in its own language. A query is analysed in Dutch and English at once
(the union of both stemmings), so one question can match passages in either language.
This module only turns text into terms; scoring lives in `embeddings.lexical`.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)
STEMMER_LANGUAGE = {"nl": "dutch", "en": "english"}
_LISTS = json.loads(Path(__file__).with_name("stopwords.json").read_text(encoding="utf-8"))
STOPWORDS = {lang: frozenset(_LISTS[lang]) for lang in STEMMER_LANGUAGE}  # bm25s's lists
ANALYSIS_VERSION = "snowball-nl-en-1"


def fold(text: str) -> str:
    """Lowercase and drop diacritics, so 'Israël' and 'Israel' meet."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_local = threading.local()


def _stemmer(lang: str) -> Any:
    """One PyStemmer object per thread and language: the library says they are not
    thread-safe, and the app answers many questions at once."""
    stemmers: dict[str, Any] = _local.__dict__.setdefault("stemmers", {})
    if lang not in stemmers:
        import Stemmer

        stemmers[lang] = Stemmer.Stemmer(STEMMER_LANGUAGE[lang])
    return stemmers[lang]


def tokens(text: str) -> list[str]:
    return [t for t in _WORD.findall(fold(text)) if len(t) > 1 or t.isdigit()]


def analyse(text: str, lang: str) -> list[str]:
    """Terms of a passage in `lang` ('nl', 'en'; anything else is treated as English)."""
    lang = lang if lang in STEMMER_LANGUAGE else "en"
    words = [t for t in tokens(text) if t not in STOPWORDS[lang]]
    return list(_stemmer(lang).stemWords(words))


def analyse_query(text: str, repeats: bool = False) -> list[str]:
    """Terms of a question, stemmed both ways; stopwords of either language dropped.

    Each term once, or with `repeats` once per occurrence of its word (a word's Dutch and
    English stems once each), as BM25 weighs a query: a word the question repeats counts
    again, as in Lucene and bm25s. On long questions that weight matters (docs/retrieval.md).
    """
    words = [t for t in tokens(text) if t not in STOPWORDS["nl"] and t not in STOPWORDS["en"]]
    if repeats:
        pairs = zip(*(_stemmer(lang).stemWords(words) for lang in STEMMER_LANGUAGE), strict=True)
        return [term for pair in pairs for term in dict.fromkeys(pair)]
    terms: list[str] = []
    for lang in STEMMER_LANGUAGE:
        for term in _stemmer(lang).stemWords(words):
            if term not in terms:
                terms.append(term)
    return terms
