"""Turn files on disk into `Document`s: text, stable id, title, language, page offsets.

Readers are picked by file suffix from `READERS`. This module reads and cleans; it does not
chunk or embed. A file that cannot be read raises `SkipFile` with a one-line reason, so a
folder with one bad file still indexes the rest.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from embeddings.errors import BadInput

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DOCX_UNPACKED = 256 * 1024 * 1024
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
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- readers: path -> (text, title or None, pages) ---------------------------------------

Reader = Callable[[Path], tuple[str, str | None, tuple[tuple[int, int], ...]]]


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise SkipFile("binary content (NUL bytes) in a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read_text(path: Path) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    text = _decode(path.read_bytes())
    title = None
    if path.suffix.lower() in (".md", ".markdown"):
        match = re.search(r"^#{1,3}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
        title = match.group(1) if match else None
    return text, title, ()


def _read_html(path: Path) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    import trafilatura

    raw = _decode(path.read_bytes())
    text = (
        trafilatura.extract(raw, include_comments=False, include_tables=True, favor_recall=True)
        or ""
    )
    meta = trafilatura.extract_metadata(raw)
    title = meta.title if meta is not None and meta.title else None
    return text, title, ()


def _read_pdf(path: Path) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("encrypted PDF (needs a password)")
        parts: list[str] = []
        pages: list[tuple[int, int]] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = (page.extract_text() or "").strip()
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


def _read_docx(path: Path) -> tuple[str, str | None, tuple[tuple[int, int], ...]]:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise SkipFile(f"not a valid .docx (zip) file: {exc}") from exc
    if unpacked > MAX_DOCX_UNPACKED:
        raise SkipFile(
            f".docx unpacks to {unpacked // 2**20} MiB (zip bomb?), limit "
            f"{MAX_DOCX_UNPACKED // 2**20} MiB"
        )
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx wraps lxml/zip errors in many types
        raise SkipFile(f"unreadable .docx ({type(exc).__name__})") from exc
    title = None
    paragraphs = []
    for para in document.paragraphs:
        if not para.text.strip():
            continue
        if (
            title is None
            and para.style is not None
            and (para.style.name or "").startswith(("Heading", "Title"))
        ):
            title = para.text.strip()
        paragraphs.append(para.text.strip())
    return "\n\n".join(paragraphs), title, ()


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


def boilerplate_spans(text: str) -> list[tuple[int, int]]:
    """Lines that are site navigation: mostly `[menu] [items]`, as scraped pages carry.

    Deliberately narrow: body text is worth more than a little leftover chrome.
    """
    spans = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped:
            tokens = _MENU_TOKEN.findall(stripped)
            covered = sum(len(t) for t in tokens)
            if len(tokens) >= 3 and covered >= 0.6 * len(stripped.replace(" ", "")):
                spans.append((offset, offset + len(line.rstrip("\r\n"))))
        offset += len(line)
    return spans


def _title_from_text(text: str, skip: list[tuple[int, int]], fallback: str) -> str:
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        inside_skip = any(s <= offset < e for s, e in skip)
        if stripped and not inside_skip:
            if len(stripped) <= 150:
                return stripped
            first = re.split(r"(?<=[.!?])\s", stripped, maxsplit=1)[0]
            return first if len(first) <= 150 else first[:100].rstrip() + "…"
        offset += len(line)
    return fallback


# --- language -----------------------------------------------------------------------------


@cache
def _identifier(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


# Dutch and English are what we serve; the others keep a German or French text from being
# called Dutch. py3langid ships its model (npz, no pickle); nothing is downloaded.
_DOCUMENT_LANGUAGES = ("nl", "en", "de", "fr", "es", "it", "pt")


def detect_language(text: str) -> str:
    """'nl', 'en' or 'other' for a document or passage."""
    sample = text[:5000].strip()
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


def load_document(path: Path, source: str | None = None) -> Document:
    """Read one file. Raises `SkipFile` with the reason when it cannot be indexed."""
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise SkipFile(f"unsupported file type {suffix or '(none)'}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SkipFile(f"cannot stat: {exc.strerror}") from exc
    if size > MAX_FILE_BYTES:
        raise SkipFile(f"file is {size // 2**20} MiB, limit {MAX_FILE_BYTES // 2**20} MiB")
    try:
        text, title, pages = reader(path)
    except PermissionError as exc:
        raise SkipFile("permission denied") from exc
    except OSError as exc:
        raise SkipFile(f"cannot read: {exc.strerror or exc}") from exc
    if not text.strip():
        raise SkipFile("no text found (empty file, or a scan without a text layer)")
    skip = boilerplate_spans(text)
    body = _without_spans(text, skip)
    return Document(
        doc_id=doc_id_for(text),
        source=source or str(path),
        title=title or _title_from_text(text, skip, fallback=path.name),
        lang=detect_language(body),
        text=text,
        pages=pages,
        boilerplate=tuple(skip),
    )


def _without_spans(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        last = end
    out.append(text[last:])
    return "".join(out)


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Every supported file under `paths` (recursively), as (path, reason-to-skip or None).

    Symlinked folders are not followed (no loops); hidden files and folders are ignored.
    """
    seen: set[Path] = set()
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
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=None):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                if path.suffix.lower() not in READERS:
                    continue
                real = path.resolve()
                if real in seen:
                    continue
                seen.add(real)
                yield path, None
