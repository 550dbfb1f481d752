from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.chunking import chunk_document
from embeddings.documents import (
    SkipFile,
    _read_docx,
    detect_language,
    doc_id_for,
    iter_files,
    load_document,
)
from embeddings.embedders import FakeEmbedder
from embeddings.textfile import iter_lines
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

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)  # tests run as root: chmod would not stop it
    with pytest.raises(SkipFile, match="permission denied"):
        load_document(path)


def test_oversized_file_is_skipped_without_reading(tmp_path: Path) -> None:
    from embeddings import documents

    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(documents.MAX_FILE_BYTES + 1)  # sparse: no disk, no memory
    with pytest.raises(SkipFile, match="over the 64 MiB limit") as skipped:
        load_document(path)
    assert "--max-file-mb 65 or CITEQA_INDEXING__MAX_FILE_MB=65" in str(skipped.value)
    text = tmp_path / "text.txt"
    text.write_text("About dikes. " * 121_000)  # 1.5 MiB
    with pytest.raises(SkipFile, match=r"file is 1\.5 MiB, over the 1 MiB limit"):
        load_document(text, max_bytes=2**20)
    assert "dikes" in load_document(text, max_bytes=2 * 2**20).text


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


def test_iter_files_walks_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    import os
    import sys

    depth = sys.getrecursionlimit() + 100
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "top.txt").write_text("The top file.")
    here = os.getcwd()
    try:
        os.chdir(folder)  # relative calls: each path stays short
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
        Path("bottom.txt").write_text("The deepest file.")
        found = [p for p, _ in iter_files([folder])]
        assert [p.name for p in found] == ["top.txt", "bottom.txt"]  # a folder's files first
        assert len(found[1].parts) > depth
    finally:
        os.chdir(folder)  # shutil.rmtree recurses too (pytest's clean-up): take it down here
        levels = 0
        while os.path.isdir("d"):
            os.chdir("d")
            levels += 1
        for name in os.listdir("."):
            os.remove(name)
        for _ in range(levels):
            os.chdir("..")
            os.rmdir("d")
        os.chdir(here)


def test_file_symlink_loops_and_broken_links_do_not_stop_the_walk(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing" / "gone.txt")
    (tmp_path / "real.txt").write_text("Real text.")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    found = [p.name for p, _ in iter_files([tmp_path])]
    assert found == ["a.txt", "b.txt", "broken.txt", "link.txt"]  # real.txt is link.txt
    with pytest.raises(SkipFile, match="cannot stat"):
        load_document(tmp_path / "a.txt")


def test_a_folder_that_cannot_be_listed_comes_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.txt").write_text("x")
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "b.txt").write_text("x")
    scandir = os.scandir

    def refuse(path):  # type: ignore[no-untyped-def]
        if isinstance(path, str | os.PathLike) and Path(path).name == "closed":
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)  # tests run as root: chmod would not stop it
    found = [(p.name, why) for p, why in iter_files([tmp_path])]
    assert found == [("closed", "cannot list the folder: Permission denied"), ("a.txt", None)]


def test_a_pipe_with_a_text_name_is_skipped_not_read(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block for ever
    with pytest.raises(SkipFile, match="not a regular file"):
        load_document(fifo)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab \n\r\x0b\x0c\x1c\x85\u2028\u2029é€"), max_size=60))
def test_iter_lines_cuts_like_splitlines(text: str) -> None:
    lines = list(iter_lines(text))
    assert [line for _, line in lines] == text.splitlines(keepends=True)
    assert all(text[offset : offset + len(line)] == line for offset, line in lines)


# --- issue 15: .docx read in one streaming pass ----------------------------------------------


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


# --- issue 15: hostile and unusual text files -------------------------------------------------


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


def test_a_file_of_only_zero_width_characters_is_not_indexed(tmp_path: Path) -> None:
    path = tmp_path / "invisible.txt"
    path.write_text("\u200b\u200c\u200d\n\u2060\ufeff\u200b \u00ad\t\u202e" * 50, encoding="utf-8")
    with pytest.raises(SkipFile, match="only invisible characters"):
        load_document(path)
    path.write_text("\u200bzichtbaar\u200b", encoding="utf-8")
    assert "zichtbaar" in load_document(path).text


def test_a_page_of_navigation_lines_finds_its_title_in_one_walk(tmp_path: Path) -> None:
    """Before: each line was checked against every navigation span (lines x spans)."""
    from embeddings.documents import _title_from_text

    class Spans(list):  # type: ignore[type-arg]
        walked = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            for span in super().__iter__():
                Spans.walked += 1
                yield span

    text = "[Home] [Nieuws] [Contact]\n" * 3000 + "De echte titel\nTekst."
    from embeddings.documents import boilerplate_spans

    spans = Spans(boilerplate_spans(text))
    assert len(spans) == 3000
    assert _title_from_text(text, spans, "fallback") == "De echte titel"
    assert Spans.walked <= 2 * len(spans)


def test_a_docx_whose_text_is_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "big.docx", "Titel", ["Een lange zin over de dijk. " * 40] * 60)
    assert path.stat().st_size < 50_000  # under the limit on disk, 67,000 characters of text
    # read paragraph by paragraph: it stops at the one that passes the limit (issue 26)
    with pytest.raises(SkipFile, match=r"its text passes the 0\.0\d* MiB limit \(paragraph"):
        load_document(path, max_bytes=50_000)
    assert load_document(path, max_bytes=100_000).text


# --- ingest bombs (issue 26): reading stops where the budget is passed ---------------------


def _stopped_at(message: str) -> tuple[int, int]:
    import re

    match = re.search(r"page (\d+) of (\d+)", message)
    assert match, message
    return int(match.group(1)), int(match.group(2))


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
