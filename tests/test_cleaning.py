"""Page chrome, invisible text and titles (embeddings/cleaning.py), through whole documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.chunking import chunk_document
from embeddings.documents import SkipFile, load_document
from embeddings.embedders import FakeEmbedder
from tests.conftest import CORPUS

COUNT = FakeEmbedder().count_tokens


def test_corpus_navigation_lines_are_boilerplate() -> None:
    doc = load_document(CORPUS / "004_95cba6cae27483a5.txt")
    chunks = chunk_document(doc, COUNT, max_tokens=120, overlap_tokens=20)
    assert doc.title.startswith("Reactie op verzoek commissie")
    assert doc.lang == "nl"
    assert not any("[overzicht]" in c.text for c in chunks)
    assert any("Smotrich en Ben-Gvir" in c.text for c in chunks)


def test_repeated_article_gives_no_duplicate_chunks() -> None:
    doc = load_document(CORPUS / "002_28471f2968b74307.txt")
    chunks = chunk_document(doc, COUNT, max_tokens=60, overlap_tokens=0)
    phrase = "het vierde telefoongesprek tussen Biden en Netanyahu"
    assert doc.text.count(phrase) == 2
    assert sum(c.text.count(phrase) for c in chunks) == 1


def test_a_file_of_only_zero_width_characters_is_not_indexed(tmp_path: Path) -> None:
    path = tmp_path / "invisible.txt"
    path.write_text("\u200b\u200c\u200d\n\u2060\ufeff\u200b \u00ad\t\u202e" * 50, encoding="utf-8")
    with pytest.raises(SkipFile, match="only invisible characters"):
        load_document(path)
    path.write_text("\u200bzichtbaar\u200b", encoding="utf-8")
    assert "zichtbaar" in load_document(path).text


def test_a_page_of_navigation_lines_finds_its_title_in_one_walk(tmp_path: Path) -> None:
    """Before: each line was checked against every navigation span (lines x spans)."""
    from embeddings.cleaning import title_from_text

    class Spans(list):  # type: ignore[type-arg]
        walked = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            for span in super().__iter__():
                Spans.walked += 1
                yield span

    text = "[Home] [Nieuws] [Contact]\n" * 3000 + "De echte titel\nTekst."
    from embeddings.cleaning import boilerplate_spans

    spans = Spans(boilerplate_spans(text))
    assert len(spans) == 3000
    assert title_from_text(text, spans, "fallback") == "De echte titel"
    assert Spans.walked <= 2 * len(spans)
