"""Document languages (embeddings/language.py)."""

from __future__ import annotations

from embeddings.documents import load_document
from embeddings.language import detect_language
from tests.conftest import CORPUS


def test_corpus_languages() -> None:
    langs = {p.name[:3]: load_document(p).lang for p in sorted(CORPUS.glob("*.txt"))}
    assert langs == {"000": "nl", "001": "nl", "002": "nl", "003": "en", "004": "nl"}
    assert detect_language("The cat sat on the mat and looked outside.") == "en"
