"""Read a file's text by its format: a reader per suffix (`READERS`), each spending a `Budget`.

A reader gives (text, title or None, page offsets); one that cannot read its file raises
`SkipFile` with a one-line reason. It does not clean, title or judge the language of the
text (`embeddings.cleaning`, `embeddings.language`; put together in `embeddings.documents`).
"""

from __future__ import annotations

import os
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from embeddings.textfile import bom_encoding, read_text_file

MAX_DOCX_UNPACKED = 256 * 1024 * 1024


# Text per byte of file (PDF, .docx) and unpacked per packed byte (.docx parts) past which a
# file is taken for a decompression bomb: Apache POI's ZipSecureFile refuses 100 to 1 too.
# Real files are far below (a text PDF or .docx gives a few characters per byte).
MAX_EXPANSION = 100
_EXPANSION_GRACE = 1 << 20  # characters (or unpacked bytes) always allowed
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


class SkipFile(Exception):
    """This file is left out of the index; the message is the one-line reason."""


class Budget:
    """What one file may cost to read: characters of text (the document size limit, and
    `MAX_EXPANSION` per byte of the file) and seconds. Readers of formats whose text can
    outgrow the file (PDF, .docx) spend it page by page or paragraph by paragraph, so a bomb
    stops there with a one-line `SkipFile`; a page or paragraph is never cut."""

    def __init__(self, max_chars: int, seconds: float, file_bytes: int) -> None:
        self.max_chars = max_chars
        self.seconds = seconds
        self.expansion = max(_EXPANSION_GRACE, MAX_EXPANSION * file_bytes)
        self.deadline = time.monotonic() + seconds
        self.used = 0

    def spend(self, chars: int, where: str) -> None:
        """Count `chars` more characters; `where` says what was read ("page 3 of 50")."""
        self.used += chars
        if self.used > self.max_chars:
            raise SkipFile(
                f"its text passes the {self.max_chars / 2**20:g} MiB limit ({where}); to index "
                "it, raise the limit: --max-file-mb or CITEQA_INDEXING__MAX_FILE_MB"
            )
        if self.used > self.expansion:
            raise SkipFile(
                f"its text passes {MAX_EXPANSION} characters per byte of the file ({where}): "
                "a decompression bomb?"
            )
        if time.monotonic() > self.deadline:
            raise SkipFile(
                f"reading it takes over {self.seconds:g} s ({where}); to index it, raise "
                "CITEQA_INDEXING__MAX_FILE_SECONDS"
            )


def _unbounded() -> Budget:
    return Budget(2**62, float("inf"), 2**62)


Reader = Callable[[Path, Budget], tuple[str, str | None, tuple[tuple[int, int], ...]]]


def _text_of(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(8192)
    wide = bom_encoding(head)
    if wide is None and b"\x00" in head:
        raise SkipFile("binary content (NUL bytes) in a text file")
    try:
        return read_text_file(path)
    except UnicodeDecodeError as exc:  # only a file that names its encoding with a BOM
        raise SkipFile(f"not valid {wide or exc.encoding} despite its byte-order mark") from exc


def _read_text(
    path: Path, budget: Budget | None = None
) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    text = _text_of(path)
    title = None
    if path.suffix.lower() in (".md", ".markdown"):
        match = re.search(r"^#{1,3}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
        title = match.group(1) if match else None
    return text, title, ()


def _read_html(
    path: Path, budget: Budget | None = None
) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    import trafilatura

    raw = _text_of(path)
    text = (
        trafilatura.extract(raw, include_comments=False, include_tables=True, favor_recall=True)
        or ""
    )
    meta = trafilatura.extract_metadata(raw)
    title = meta.title if meta is not None and meta.title else None
    return text, title, ()


def _read_pdf(
    path: Path, budget: Budget | None = None
) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    """Page by page, spending `budget` after each: a bomb of pages that share one content
    stream stops at the page that passes it, not after the last."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("encrypted PDF (needs a password)")
        parts: list[str] = []
        pages: list[tuple[int, int]] = []
        offset = 0
        budget = budget or _unbounded()
        total = len(reader.pages)
        for number, page in enumerate(reader.pages, start=1):
            page_text = (page.extract_text() or "").strip()
            budget.spend(len(page_text) + 2, f"page {number} of {total}")
            pages.append((offset, number))
            parts.append(page_text)
            offset += len(page_text) + 2
        title = None
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title)
    except SkipFile:
        raise
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as exc:
        raise SkipFile(f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # pypdf raises many kinds on broken files
        if "crypt" in str(exc).lower():
            raise SkipFile("encrypted PDF (cannot be decrypted)") from exc
        raise SkipFile(f"unreadable PDF ({type(exc).__name__})") from exc
    return "\n\n".join(parts), title, tuple(pages)


def _read_docx(
    path: Path, budget: Budget | None = None
) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    """The body's paragraphs, as python-docx's `Document(path).paragraphs` gives them, read
    in one streaming pass over the XML: memory stays bounded and time linear however many
    paragraphs there are (python-docx builds the whole tree, 2.3 GB for a 341 KB file of
    tiny paragraphs, and looks each paragraph's style up in the styles part). A part that
    unpacks to over `MAX_EXPANSION` times its packed size is refused before it is read;
    `budget` is spent paragraph by paragraph."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_DOCX_UNPACKED:
                raise SkipFile(
                    f".docx unpacks to {unpacked // 2**20} MiB (zip bomb?), limit "
                    f"{MAX_DOCX_UNPACKED // 2**20} MiB"
                )
            for info in archive.infolist():
                packed = max(1, info.compress_size)
                if info.file_size > _EXPANSION_GRACE and info.file_size > MAX_EXPANSION * packed:
                    raise SkipFile(
                        f".docx part {info.filename} unpacks to {info.file_size // packed} "
                        f"times its size (a zip bomb?), limit {MAX_EXPANSION}"
                    )
            return _docx_text(archive, budget or _unbounded())
    except SkipFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise SkipFile(f"not a valid .docx (zip) file: {exc}") from exc
    except OSError as exc:
        if isinstance(exc, PermissionError):
            raise
        raise SkipFile(f"not a valid .docx (zip) file: {exc}") from exc
    except Exception as exc:  # lxml and zlib errors of a damaged file come in many types
        raise SkipFile(f"unreadable .docx ({type(exc).__name__})") from exc


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_RUN_TEXT = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
# python-docx shows these built-in styles by their UI names
_STYLE_UI_NAMES = {f"heading {n}": f"Heading {n}" for n in range(1, 10)}


def _docx_text(
    archive: zipfile.ZipFile, budget: Budget
) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    from lxml import etree

    main = _related(archive, "_rels/.rels", "/officeDocument", "")
    if main is None:
        raise SkipFile("unreadable .docx (no main document part)")
    folder, _, name = main.rpartition("/")
    styles = _docx_styles(
        archive, _related(archive, f"{folder}/_rels/{name}.rels", "/styles", folder)
    )
    title = None
    paragraphs: list[str] = []
    body = None
    with archive.open(main) as stream:
        events = etree.iterparse(
            stream,
            events=("start", "end"),
            tag=(f"{_W}body", f"{_W}p"),
            resolve_entities=False,
            no_network=True,
        )
        for event, element in events:
            if event == "start":
                if element.tag == f"{_W}body":
                    body = element
                continue
            if body is None or element.getparent() is not body:
                continue  # a paragraph inside a table or text box: python-docx leaves it out
            text = _paragraph_text(element).strip()
            if text:
                if title is None:
                    style = element.find(f"{_W}pPr/{_W}pStyle")
                    key = style.get(f"{_W}val") if style is not None else None
                    name = styles.get(key, styles.get(None, ""))  # unknown: the default
                    if name.startswith(("Heading", "Title")):
                        title = text
                paragraphs.append(text)
                budget.spend(len(text) + 2, f"paragraph {len(paragraphs):,}")
            element.clear()
            while element.getprevious() is not None:  # drop what is read: memory stays flat
                del body[0]
    return "\n\n".join(paragraphs), title, ()


def _paragraph_text(paragraph: Any) -> str:
    """python-docx's `Paragraph.text`: runs and hyperlinked runs, with tabs and breaks."""
    parts = []
    for child in paragraph:
        if child.tag == f"{_W}hyperlink":
            runs = [r for r in child if r.tag == f"{_W}r"]
        elif child.tag == f"{_W}r":
            runs = [child]
        else:
            continue
        for run in runs:
            for item in run:
                if item.tag == f"{_W}t":
                    parts.append(item.text or "")
                elif item.tag == f"{_W}br":
                    kind = item.get(f"{_W}type")
                    parts.append("\n" if kind in (None, "textWrapping") else "")
                else:
                    parts.append(_RUN_TEXT.get(item.tag, ""))
    return "".join(parts)


def _related(archive: zipfile.ZipFile, rels: str, kind: str, folder: str) -> str | None:
    """The zip name of the first part a .rels file relates with a type ending in `kind`."""
    from lxml import etree

    try:
        data = archive.read(rels.lstrip("/"))
    except KeyError:
        return None
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    for rel in root.iter(_REL):
        if (rel.get("Type") or "").endswith(kind) and rel.get("TargetMode") != "External":
            target = rel.get("Target") or ""
            joined = target.lstrip("/") if target.startswith("/") else f"{folder}/{target}"
            return os.path.normpath(joined.lstrip("/")).replace(os.sep, "/")
    return None


def _docx_styles(archive: zipfile.ZipFile, part: str | None) -> dict[str | None, str]:
    """Paragraph style id -> name, read once per file (python-docx searches the styles part
    for every paragraph); the default paragraph style under None. An id whose first style is
    not a paragraph style maps to the default, as python-docx has it."""
    from lxml import etree

    if part is None or part not in archive.namelist():
        return {}
    root = etree.fromstring(
        archive.read(part), etree.XMLParser(resolve_entities=False, no_network=True)
    )
    first: dict[str | None, tuple[bool, str]] = {}
    default = ""
    for style in root.iter(f"{_W}style"):
        name_element = style.find(f"{_W}name")
        name = (name_element.get(f"{_W}val") if name_element is not None else None) or ""
        name = _STYLE_UI_NAMES.get(name, name)
        paragraph = style.get(f"{_W}type", "paragraph") == "paragraph"
        first.setdefault(style.get(f"{_W}styleId"), (paragraph, name))
        if paragraph and style.get(f"{_W}default") in ("1", "true", "on"):
            default = name  # the last default, as the specification says
    styles = {key: name if paragraph else default for key, (paragraph, name) in first.items()}
    styles[None] = default
    return styles


READERS: dict[str, Reader] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".markdown": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
