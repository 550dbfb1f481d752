"""The UI's pure parts: rendering is inert HTML, upload names cannot escape, the app builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import Backend, create_app, render_answer, render_citation, safe_upload_name
from embeddings.errors import BadInput
from embeddings.store import Index
from qa.answering import ExtractiveAnswerer
from qa.citations import Citation, CitationChecker, Claim
from qa.retrieval import Retriever
from qa.service import Answer, QAService

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def citation(passage: str, quote_start: int, quote_end: int, supported: bool = True) -> Citation:
    return Citation(
        1,
        "d",
        "/data/doc.txt",
        "Title <b>",
        "c",
        "nl",
        passage[quote_start:quote_end],
        1000 + quote_start,
        1000 + quote_end,
        supported,
        passage,
        1000,
    )


def test_citation_highlights_the_quote_and_escapes_document_html() -> None:
    passage = f"Intro {XSS}. Nederland geeft 3 miljoen euro. Slot."
    start = passage.index("Nederland")
    html = render_citation(citation(passage, start, passage.index(" Slot")))
    assert "<mark>Nederland geeft 3 miljoen euro.</mark>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "Title &lt;b&gt;" in html
    assert "<details><summary>whole passage</summary>" in html


def test_unsupported_sentences_are_marked() -> None:
    answer = Answer(
        "q",
        "q",
        "en",
        "It is 40 degrees. [1]",
        False,
        [citation("It was 12 degrees.", 0, 18, supported=False)],
        [Claim("It is 40 degrees.", (1,), False)],
    )
    html = render_answer(answer)
    assert 'class="citeqa-unsupported"' in html and "⚠️" in html
    assert "[1]" in html and "not supported" in html


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.txt", "/etc/passwd.txt", "..\\..\\win.txt", "ok.txt"]
)
def test_upload_names_stay_plain(name: str) -> None:
    cleaned = safe_upload_name(name)
    assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")


@pytest.mark.parametrize("name", ["..", ".hidden.txt", "tool.exe", "archive.zip", ""])
def test_bad_upload_names_are_refused(name: str) -> None:
    with pytest.raises(BadInput):
        safe_upload_name(name)


def test_upload_and_remove_through_the_backend(
    small_index: Path, fake_embedder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    retriever = Retriever(Index(small_index), fake_embedder)
    service = QAService(
        retriever, ExtractiveAnswerer(fake_embedder), CitationChecker(fake_embedder)
    )
    backend = Backend(service, "fake:64", tmp_path / "data")
    upload = tmp_path / "incoming" / "molen.txt"
    upload.parent.mkdir()
    upload.write_text("De molen van Kinderdijk werd in 1740 gebouwd door de waterschappen.")
    message = backend.add_files([str(upload)], progress=False)
    assert "Added 1" in message
    stored = tmp_path / "data" / "uploads" / "molen.txt"
    assert stored.is_file()
    assert any(row[0] == "molen.txt" for row in backend.documents())
    answer = service.ask("Wanneer werd de molen van Kinderdijk gebouwd?")
    assert "1740" in answer.text
    assert "Removed" in backend.remove(str(stored.resolve()))
    assert not stored.exists()
    assert all(row[0] != "molen.txt" for row in backend.documents())
    big = tmp_path / "incoming" / "big.txt"
    big.write_bytes(b"a" * (21 * 1024 * 1024))
    with pytest.raises(BadInput, match="larger"):
        backend.add_files([str(big)], progress=False)


def test_create_app_builds(small_index: Path, fake_embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    retriever = Retriever(Index(small_index), fake_embedder)
    service = QAService(
        retriever, ExtractiveAnswerer(fake_embedder), CitationChecker(fake_embedder)
    )
    demo = create_app(service, "fake:64", tmp_path)
    assert demo is not None
