"""The language of a document, a passage or a question, by py3langid (its model ships with
it, as npz: nothing is downloaded, nothing is unpickled).

It only names languages; what a language changes (stopwords, stemming) is `embeddings.analysis`.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_langid_lock = threading.Lock()
_langid: dict[tuple[str, ...] | None, Any] = {}  # languages -> identifier; None: the model


def _identifier(languages: tuple[str, ...]) -> Any:
    """py3langid restricted to `languages`. Its model (0.35 s to decompress) is read once
    and shared: each restriction is a copy that slices its arrays."""
    with _langid_lock:
        found = _langid.get(languages)
        if found is None:
            model = _langid.get(None)
            if model is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                model = _langid[None] = LanguageIdentifier.from_model_file(
                    MODEL_FILE, norm_probs=True
                )
            found = _langid[languages] = copy.copy(model)
            found.set_languages(list(languages))
        return found


def warm_language_identifier() -> None:
    """Load the question-language model in a background thread, so a command's first
    question does not wait for it (lzma lets the other threads run meanwhile)."""
    threading.Thread(
        target=_identifier, args=(("nl", "en"),), name="citeqa-langid", daemon=True
    ).start()


# Dutch and English are what we serve; the others keep a German or French text from being
# called Dutch. py3langid ships its model (npz, no pickle); nothing is downloaded.
_DOCUMENT_LANGUAGES = ("nl", "en", "de", "fr", "es", "it", "pt")
LANGUAGE_SAMPLE = 5000  # characters of a document its language is judged on


LANGUAGES = ("nl", "en", "other")  # what `detect_language` says, so what filters can ask for


def detect_language(text: str) -> str:
    """'nl', 'en' or 'other' for a document or passage."""
    sample = text[:LANGUAGE_SAMPLE].strip()
    if len(sample) < 3:
        return "other"
    lang, _ = _identifier(_DOCUMENT_LANGUAGES).classify(sample)
    return str(lang) if lang in ("nl", "en") else "other"


def language_of_question(text: str, min_confidence: float = 0.75) -> str | None:
    """'nl' or 'en' for a (short) question, or None when the guess is unsure."""
    if len(text.strip()) < 3:
        return None
    lang, prob = _identifier(("nl", "en")).classify(text)
    return str(lang) if prob >= min_confidence else None
