"""Turn files on disk into `Document`s: text, stable id, title, language, page offsets.

Readers are picked by file suffix from `READERS`. This module reads and cleans; it does not
chunk or embed. A file that cannot be read raises `SkipFile` with a one-line reason, so a
folder with one bad file still indexes the rest.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import stat
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citeqa.errors import BadInput
from citeqa.settings import MAX_FILE_MB, MAX_FILE_SECONDS
from embeddings.textfile import bom_encoding, iter_lines, read_text_file

MAX_FILE_BYTES = MAX_FILE_MB * 2**20  # the default of the `indexing.max_file_mb` setting
MAX_DOCX_UNPACKED = 256 * 1024 * 1024
# Text per byte of file (PDF, .docx) and unpacked per packed byte (.docx parts) past which a
# file is taken for a decompression bomb: Apache POI's ZipSecureFile refuses 100 to 1 too.
# Real files are far below (a text PDF or .docx gives a few characters per byte).
MAX_EXPANSION = 100
_EXPANSION_GRACE = 1 << 20  # characters (or unpacked bytes) always allowed
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


class SkipFile(Exception):
    """This file is left out of the index; the message is the one-line reason."""


@dataclass(frozen=True)
class Document:
    """One source document, as the index stores it. Offsets of chunks point into `text`."""

    doc_id: str
    source: str
    title: str
    lang: str
    text: str
    # (start offset in `text`, page number) for paged formats, empty otherwise
    pages: tuple[tuple[int, int], ...] = ()
    # (start, end) spans of `text` that are page chrome (navigation), kept out of chunks
    boilerplate: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    def page_at(self, offset: int) -> int | None:
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page


def doc_id_for(text: str) -> str:
    """Content hash: the same text gets the same id wherever the file lives."""
    digest = hashlib.sha256()
    for start in range(0, len(text), _SLICE):  # in slices: no UTF-8 copy of a big text
        digest.update(text[start : start + _SLICE].encode("utf-8"))
    return digest.hexdigest()[:16]


_SLICE = 1 << 16


# --- readers: path -> (text, title or None, pages) ---------------------------------------


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


# --- cleaning ------------------------------------------------------------------------------

_MENU_TOKEN = re.compile(r"\[[^\[\]\n]{1,60}\]")
# Page chrome by the shape of the line, not by this corpus's strings. Words of links and
# page furniture (Dutch and English); a line made mostly of them, with one of the strong
# ones, is a link line ("Directe link naar document (.docx), link naar pagina op de ... site.").
_NAV_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "link links pagina page paginas pages site website webpagina webpage document "
        "documenten docx pdf doc odt xlsx download downloaden print printen afdrukken delen "
        "share deel preview voorbeeld origineel original klik click hier here menu home terug "
        "back volgende vorige next previous lees read more meer rss login inloggen cookies "
        "cookie url http https www bekijk view open openen e-mail email mail tweet facebook "
        "twitter linkedin"
    ).split()
)
_NAV_STRONG = frozenset(
    "link links download downloaden preview klik click url http https www".split()  # noqa: SIM905
)
_READ_MORE = re.compile(r"^(lees meer|meer lezen|read more|bekijk ook|see also|lees ook)\b", re.I)
# "Gerelateerde personen: Bijlagen:": field labels with nothing after them
_EMPTY_LABELS = re.compile(r"^(?:[^\W\d][\w()./-]*(?: [\w()./-]+){0,4}:\s*)+$")


def _is_chrome(line: str) -> bool:
    tokens = _MENU_TOKEN.findall(line)
    covered = sum(len(t) for t in tokens)
    if len(tokens) >= 3 and covered >= 0.6 * len(line.replace(" ", "")):
        return True  # `[menu] [items]`
    words = re.findall(r"\w[\w-]*", line.lower())
    if not words or len(words) > 25:
        return False
    nav = sum(1 for w in words if w in _NAV_WORDS)
    if nav / len(words) >= 0.4 and any(w in _NAV_STRONG for w in words):
        return True
    if _READ_MORE.match(line) and len(words) <= 15 and not line.endswith((".", "?", "!")):
        return True
    return len(line) <= 80 and bool(_EMPTY_LABELS.match(line))


def boilerplate_spans(text: str) -> list[tuple[int, int]]:
    """Lines that are page chrome, in any format: navigation (`[menu] [items]`), link lines
    ("Directe link naar document (.docx)…", "Read more about …"), and field labels left
    empty ("Gerelateerde personen: Bijlagen:").

    Deliberately narrow, judged by the shape of a whole line: body text is worth more than
    a little leftover chrome.
    """
    spans = []
    for offset, line in iter_lines(text):
        stripped = line.strip()
        if stripped and _is_chrome(stripped):
            spans.append((offset, offset + len(line.rstrip("\r\n"))))
    return spans


def _title_from_text(text: str, skip: list[tuple[int, int]], fallback: str) -> str:
    spans = iter(sorted(skip))  # walked once alongside the lines: linear, not lines x spans
    span = next(spans, None)
    for offset, line in iter_lines(text):
        while span is not None and span[1] <= offset:
            span = next(spans, None)
        stripped = line.strip()
        inside_skip = span is not None and span[0] <= offset
        if stripped and not inside_skip:
            if len(stripped) <= 150:
                return stripped
            first = re.split(r"(?<=[.!?])\s", stripped, maxsplit=1)[0]
            return first if len(first) <= 150 else first[:100].rstrip() + "…"
    return fallback


# --- language -----------------------------------------------------------------------------


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


# --- entry points --------------------------------------------------------------------------


def load_document(
    path: Path,
    source: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_seconds: float = MAX_FILE_SECONDS,
) -> Document:
    """Read one file. Raises `SkipFile` with the reason when it cannot be indexed.

    Files over `max_bytes` are skipped before they are opened, and so are files whose text
    (counted in characters) is over it: the size budget that keeps chunking and embedding
    time bounded. PDF and .docx text is counted as it is read, so a small file that unpacks
    to far more text stops at the page or paragraph that passes the limit, or that passes
    `max_seconds` of reading (`Budget`). Text and HTML cannot give more characters than
    their bytes, which the size check before opening bounds.
    """
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise SkipFile(f"unsupported file type {suffix or '(none)'}")
    try:
        info = path.stat()
    except OSError as exc:
        raise SkipFile(f"cannot stat: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise SkipFile("not a regular file (a pipe, socket or device)")
    if info.st_size > max_bytes:
        raise SkipFile(too_big(info.st_size, max_bytes))
    try:
        text, title, pages = reader(path, Budget(max_bytes, max_seconds, info.st_size))
    except PermissionError as exc:
        raise SkipFile("permission denied") from exc
    except OSError as exc:
        raise SkipFile(f"cannot read: {exc.strerror or exc}") from exc
    if len(text) > max_bytes:  # a small .docx or .pdf can unpack to more text than that
        raise SkipFile("its text: " + too_big(len(text), max_bytes).replace("file is ", "", 1))
    if not text or text.isspace():  # not text.strip(): that would copy a big text
        raise SkipFile("no text found (empty file, or a scan without a text layer)")
    if _VISIBLE.search(text) is None:
        raise SkipFile("no text found: only invisible characters (zero-width, control)")
    skip = boilerplate_spans(text)
    return Document(
        doc_id=doc_id_for(text),
        source=source or str(path),
        title=title or _title_from_text(text, skip, fallback=path.name),
        lang=detect_language(_without_spans(text, skip, limit=LANGUAGE_SAMPLE)),
        text=text,
        pages=pages,
        boilerplate=tuple(skip),
    )


# Characters that show nothing: controls (Cc), format characters (Cf: zero-width space,
# joiners, BOM, bidi marks, tags; Unicode 14), and the usual blank look-alikes (combining
# grapheme joiner, variation selectors, Hangul fillers, braille blank).
_INVISIBLE = (
    "\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    "\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
    "\u034f\u180b-\u180d\ufe00-\ufe0f\U000e0100-\U000e01ef\u115f\u1160\u3164\uffa0\u2800"
)
_VISIBLE = re.compile(f"[^\\s{_INVISIBLE}]")


def too_big(size: int, max_bytes: int) -> str:
    """The skip reason for a file over the size limit, with how to raise the limit."""
    need = -(-size // 2**20)
    return (
        f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit; to index "
        f"it, raise the limit: --max-file-mb {need} or CITEQA_INDEXING__MAX_FILE_MB={need}"
    )


def _without_spans(text: str, spans: list[tuple[int, int]], limit: int) -> str:
    """The first `limit` characters of `text` with the spans left out."""
    out, length, last = [], 0, 0
    for start, end in [*spans, (len(text), len(text))]:
        piece = text[last : min(start, last + limit - length)]
        out.append(piece)
        length += len(piece)
        last = end
        if length >= limit:
            break
    return "".join(out)


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Every supported file under `paths` (recursively), as (path, reason-to-skip or None).

    A folder that cannot be listed comes with its reason. Symlinked folders are not
    followed (no loops); hidden files and folders are ignored; any depth works (no
    recursion). Files come depth first, in name order.
    """
    seen: set[str] = set()
    for root in paths:
        if not root.exists():
            raise BadInput(f"{root}: no such file or folder")
        if root.is_file():
            yield (
                root,
                None
                if root.suffix.lower() in READERS
                else (f"unsupported file type {root.suffix or '(none)'}"),
            )
            continue
        for path, reason in _walk(root):
            if reason is None:
                real = os.path.realpath(path)  # not Path.resolve(): it raises on a link loop
                if real in seen:
                    continue
                seen.add(real)
            yield path, reason


def _walk(root: Path) -> Iterator[tuple[Path, str | None]]:
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            yield folder, f"cannot list the folder: {exc.strerror or exc}"
            continue
        below = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:  # a link loop or a broken link: a file, whose stat will fail
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    below.append(folder / entry.name)
            elif Path(entry.name).suffix.lower() in READERS:
                yield folder / entry.name, None
        folders.extend(reversed(below))
