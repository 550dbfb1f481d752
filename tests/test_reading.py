"""The readers of each format (embeddings/reading.py): text and title as the format has them,
encodings, and the budget that stops a decompression bomb at the page or paragraph."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.documents import SkipFile, load_document
from embeddings.language import detect_language
from embeddings.reading import _read_docx
from tests.helpers import write_docx, write_pdf


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


def test_latin1_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(
        "Caf\xe9 in Utrecht, een pr\xe9sentatie over de co\xf6peratie.".encode("latin-1")
    )
    assert "Café" in load_document(path).text


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


def test_encodings_fall_back_in_order(tmp_path: Path) -> None:
    cases = {
        "bom.txt": ("\ufeffDe dijk is 3 meter hoog.".encode(), "De dijk is 3 meter hoog."),
        "cp1252.txt": (b"Het kost \x80 5 \x96 niet meer.", "Het kost € 5 – niet meer."),
        "latin1.txt": (b"Byte \x81 is undefined in cp1252.", "Byte \x81 is undefined in cp1252."),
    }
    for name, (raw, text) in cases.items():
        (tmp_path / name).write_bytes(raw)
        assert load_document(tmp_path / name).text == text


@pytest.mark.slow  # 12 MiB read under tracemalloc: 13 s each, the fast tier's slowest
@pytest.mark.parametrize("wide", [False, True])
def test_reading_a_big_text_holds_about_one_copy(tmp_path: Path, wide: bool) -> None:
    """Stream, don't slurp: no bytes copy, no list of lines, no second copy of the text."""
    import sys
    import tracemalloc

    line = "De dijk bij Almere werd in 1700 gebouwd en is 3 meter hoog.\n"
    path = tmp_path / "big.txt"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(200_000):  # 12 MiB, 200,000 lines
            handle.write(line if not wide or i % 1000 else "De ‘dijk’ kostte € 3 miljoen.\n")
    detect_language("warm up the language model first")
    tracemalloc.start()
    try:
        doc = load_document(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text = sys.getsizeof(doc.text)
    assert len(doc.text) > 11_000_000
    # measured: 1.01 copies for ASCII; 1.5 when a wide character makes the decoder widen
    # its buffer halfway. Reading the bytes, decoding, splitting lines was 2.5 to 3.
    assert peak < (1.7 if wide else 1.3) * text


def _python_docx_reference(path: Path) -> tuple[str, str | None]:
    """What the reader gave before issue 15, through python-docx's object model."""
    import docx

    document = docx.Document(str(path))
    title, paragraphs = None, []
    for para in document.paragraphs:
        if not para.text.strip():
            continue
        style = para.style
        if (
            title is None
            and style is not None
            and (style.name or "").startswith(("Heading", "Title"))
        ):
            title = para.text.strip()
        paragraphs.append(para.text.strip())
    return "\n\n".join(paragraphs), title


def _rich_docx(path: Path) -> Path:
    import docx
    from docx.enum.text import WD_BREAK
    from docx.oxml import parse_xml

    document = docx.Document()
    document.add_paragraph("Gewone tekst vooraf, zonder kop.")
    document.add_paragraph("")
    document.add_heading("Jaarverslag 2025", level=2)
    para = document.add_paragraph("Kolom een\tkolom twee")
    run = para.add_run("regel een")
    run.add_break()
    run.add_text("regel twee")
    run.add_break(WD_BREAK.PAGE)
    run.add_text("na de pagina")
    para._p.append(
        parse_xml(
            '<w:hyperlink xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            '<w:r><w:t xml:space="preserve"> een link </w:t></w:r><w:r><w:noBreakHyphen/>'
            "<w:cr/><w:t>einde</w:t></w:r></w:hyperlink>"
        )
    )
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "in een tabel"
    document.add_paragraph("Een zin met een onbekende stijl.")._p.get_or_add_pPr().style = "Nope"
    document.add_paragraph("Tussen kop en slot.", style="Title")
    document.save(str(path))
    return path


def test_docx_reads_as_python_docx_does(tmp_path: Path) -> None:
    for path in (
        _rich_docx(tmp_path / "rich.docx"),
        write_docx(tmp_path / "d.docx", "Jaarverslag", ["Het jaar was goed.", "De omzet steeg."]),
    ):
        doc = load_document(path)
        text, title = _python_docx_reference(path)
        assert (doc.text, doc.title) == (text, title)
    assert "regel een\nregel twee" in load_document(tmp_path / "rich.docx").text


def test_a_docx_of_many_tiny_paragraphs_is_read_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docx

    path = _many_paragraphs_docx(tmp_path / "tiny.docx", paragraphs=5_000, styles=200)
    text, title = _python_docx_reference(path)

    def no_object_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("python-docx builds the whole tree and looks up every style")

    monkeypatch.setattr(docx, "Document", no_object_model)
    assert _read_docx(path) == (text, title, ())
    assert title is None and text.count("\n\n") == 5_000 - 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_text_file_with_a_utf16_or_utf32_bom_is_read_not_skipped_as_binary(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "notepad.txt"
    text = "Verslag van de vergadering.\nDe dijk bij Almere is verhoogd."
    bom = {"utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    path.write_bytes(bom + text.encode(encoding))  # utf-16 and utf-32 write their own BOM
    doc = load_document(path)
    assert doc.text == text and doc.lang == "nl"


def test_a_damaged_utf16_file_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "half.txt"
    path.write_bytes("abc".encode("utf-16") + b"\x00")  # an odd number of bytes
    with pytest.raises(SkipFile, match="not valid utf-16"):
        load_document(path)


def test_a_docx_whose_text_is_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "big.docx", "Titel", ["Een lange zin over de dijk. " * 40] * 60)
    assert path.stat().st_size < 50_000  # under the limit on disk, 67,000 characters of text
    # read paragraph by paragraph: it stops at the one that passes the limit (issue 26)
    with pytest.raises(SkipFile, match=r"its text passes the 0\.0\d* MiB limit \(paragraph"):
        load_document(path, max_bytes=50_000)
    assert load_document(path, max_bytes=100_000).text


def test_a_pdf_of_pages_sharing_one_stream_stops_at_the_size_limit(tmp_path: Path) -> None:
    from tests.helpers import write_pdf_bomb

    bomb = write_pdf_bomb(tmp_path / "bomb.pdf", 400, chars_per_page=5_000)
    with pytest.raises(SkipFile, match=r"passes the 0\.25 MiB limit") as caught:
        load_document(bomb, max_bytes=2**18)
    read, total = _stopped_at(str(caught.value))
    assert total == 400 and read < 100  # about 53 pages of 5,000 characters


def test_a_small_pdf_with_much_text_is_a_bomb(tmp_path: Path) -> None:
    from tests.helpers import write_pdf_bomb

    bomb = write_pdf_bomb(tmp_path / "bomb.pdf", 50)  # issue 26's: 2.9 M characters
    assert bomb.stat().st_size < 20_000
    with pytest.raises(SkipFile, match="characters per byte of the file") as caught:
        load_document(bomb, max_bytes=20 * 2**20)
    read, total = _stopped_at(str(caught.value))
    assert read < total


def test_reading_stops_at_the_time_budget(tmp_path: Path) -> None:
    from tests.helpers import write_pdf_bomb

    bomb = write_pdf_bomb(tmp_path / "slow.pdf", 30, chars_per_page=500)
    with pytest.raises(SkipFile, match="takes over 1e-09 s") as caught:
        load_document(bomb, max_seconds=1e-9)
    assert _stopped_at(str(caught.value)) == (1, 30)  # checked after each page


def test_a_docx_of_tiny_paragraphs_stops_early(tmp_path: Path) -> None:
    from tests.helpers import write_docx_bomb

    same = write_docx_bomb(tmp_path / "same.docx", 400_000)  # packs about 340 to 1
    with pytest.raises(SkipFile, match="zip bomb"):
        load_document(same)  # refused from the zip's directory, before any XML is parsed
    numbered = write_docx_bomb(tmp_path / "numbered.docx", 200_000, numbered=True)
    with pytest.raises(SkipFile, match=r"passes the 1 MiB limit") as caught:
        load_document(numbered, max_bytes=2**20)  # 1.3 M characters in 0.5 MiB
    read = int(str(caught.value).split("paragraph ")[1].split(")")[0].replace(",", ""))
    assert read < 200_000
    with pytest.raises(SkipFile, match=r"takes over 1e-09 s \(paragraph 1\)"):
        load_document(numbered, max_seconds=1e-9)


def _many_paragraphs_docx(path: Path, paragraphs: int, styles: int) -> Path:
    """A small file of very many tiny paragraphs, each with its own style: the shape that
    hung the python-docx reader (a style lookup per paragraph, the whole tree in memory)."""
    import zipfile

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct, ml = "application/vnd.openxmlformats-", "officedocument.wordprocessingml"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{ct}package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" ContentType="{ct}{ml}.document.main+xml"/>'
            f'<Override PartName="/word/styles.xml" ContentType="{ct}{ml}.styles+xml"/>'
            "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rels}/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        archive.writestr(
            "word/_rels/document.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rels}/styles" Target="styles.xml"/>'
            "</Relationships>",
        )
        archive.writestr(
            "word/styles.xml",
            f"<w:styles {w}>"
            + "".join(
                f'<w:style w:type="paragraph" w:styleId="S{i}"><w:name w:val="S {i}"/></w:style>'
                for i in range(styles)
            )
            + "</w:styles>",
        )
        with archive.open("word/document.xml", "w") as member:
            member.write(f"<w:document {w}><w:body>".encode())
            block = "".join(
                f'<w:p><w:pPr><w:pStyle w:val="S{i % styles}"/></w:pPr>'
                f"<w:r><w:t>w{i % 10}</w:t></w:r></w:p>"
                for i in range(1000)
            ).encode()
            for _ in range(paragraphs // 1000):
                member.write(block)
            member.write(b"</w:body></w:document>")
    return path


def _stopped_at(message: str) -> tuple[int, int]:
    import re

    match = re.search(r"page (\d+) of (\d+)", message)
    assert match, message
    return int(match.group(1)), int(match.group(2))
