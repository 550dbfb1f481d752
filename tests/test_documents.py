from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.chunking import chunk_document
from embeddings.documents import (
    SkipFile,
    detect_language,
    doc_id_for,
    iter_files,
    load_document,
)
from embeddings.embedders import FakeEmbedder
from tests.conftest import CORPUS
from tests.helpers import write_docx, write_pdf

COUNT = FakeEmbedder().count_tokens


def test_txt_title_language_and_stable_id(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Kort verslag\n\nDe regering heeft besloten het geld te verdubbelen.")
    doc = load_document(path)
    assert doc.title == "Kort verslag"
    assert doc.lang == "nl"
    assert doc.doc_id == doc_id_for(doc.text)
    copy = tmp_path / "b.txt"
    copy.write_text(path.read_text())
    assert load_document(copy).doc_id == doc.doc_id


def test_markdown_heading_is_title(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_text("Intro line\n\n# The real title\n\nThe weather was sunny and warm today.")
    assert load_document(path).title == "The real title"


def test_html_main_text_without_navigation(tmp_path: Path) -> None:
    nav = "".join(f'<li><a href="/{i}">Menu item {i}</a></li>' for i in range(12))
    body = " ".join(["The ministry announced a new budget for water management."] * 3)
    html = (
        f"<html><head><title>Budget news</title></head><body><nav><ul>{nav}</ul></nav>"
        f"<article><h1>Budget news</h1><p>{body}</p><p>It takes effect in 2026 after "
        "parliament votes on the proposal next spring.</p></article>"
        "<footer>Cookie settings | Privacy</footer></body></html>"
    )
    path = tmp_path / "page.html"
    path.write_text(html)
    doc = load_document(path)
    assert doc.title == "Budget news"
    assert "water management" in doc.text
    assert "Menu item 3" not in doc.text
    assert "Cookie settings" not in doc.text


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "r.pdf", ["First page about tulips.", "Second page about cheese."])
    doc = load_document(path)
    assert "tulips" in doc.text and "cheese" in doc.text
    assert doc.page_at(doc.text.index("cheese")) == 2
    assert doc.page_at(doc.text.index("tulips")) == 1


def test_docx_paragraphs_and_heading(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "d.docx",
        "Jaarverslag",
        ["Het jaar was goed voor de haven.", "De omzet steeg met tien procent."],
    )
    doc = load_document(path)
    assert doc.title == "Jaarverslag"
    assert "omzet steeg" in doc.text
    assert doc.lang == "nl"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "no text"),
        ("blank.md", b"   \n\n", "no text"),
        ("binary.txt", b"\x00\x01\x02binary\x00", "binary"),
        ("broken.pdf", b"%PDF-1.4 this is not a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "docx"),
        ("image.png", b"\x89PNG", "unsupported"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SkipFile, match=reason):
        load_document(path)


def test_latin1_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(
        "Caf\xe9 in Utrecht, een pr\xe9sentatie over de co\xf6peratie.".encode("latin-1")
    )
    assert "Café" in load_document(path).text


def test_iter_files_recurses_and_ignores_hidden_and_other_types(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "image.png").write_bytes(b"x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = [p.name for p, _ in iter_files([tmp_path])]
    assert found == ["deep.txt"]


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


def test_corpus_languages() -> None:
    langs = {p.name[:3]: load_document(p).lang for p in sorted(CORPUS.glob("*.txt"))}
    assert langs == {"000": "nl", "001": "nl", "002": "nl", "003": "en", "004": "nl"}
    assert detect_language("The cat sat on the mat and looked outside.") == "en"


def test_encrypted_pdf_is_skipped(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", ["Secret budget figures."])
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")  # AES needs `cryptography`
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(SkipFile, match="encrypted"):
        load_document(locked)


def test_docx_zip_bomb_is_skipped_before_unpacking(tmp_path: Path) -> None:
    import zipfile

    bomb = tmp_path / "bomb.docx"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        block = b"\0" * (1 << 20)
        for _ in range(300):  # 300 MiB unpacked, about 300 KiB on disk
            member.write(block)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(SkipFile, match="zip bomb"):
        load_document(bomb)


def test_unreadable_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("some text")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)  # tests run as root: chmod would not stop it
    with pytest.raises(SkipFile, match="permission denied"):
        load_document(path)


def test_oversized_file_is_skipped_without_reading(tmp_path: Path) -> None:
    from embeddings import documents

    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(documents.MAX_FILE_BYTES + 1)  # sparse: no disk, no memory
    with pytest.raises(SkipFile, match="limit"):
        load_document(path)
