"""Turn files on disk into `Document`s: text, stable id, title, language, page offsets.

`load_document` puts the steps together: the reader of the file's format
(`embeddings.reading`), its page chrome and title (`embeddings.cleaning`), its language
(`embeddings.language`). It does not list folders (`embeddings.files`), chunk or embed. A
file that cannot be read raises `SkipFile` with a one-line reason, so a folder with one bad
file still indexes the rest.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path

# `X as X`: still importable from here for app.py, cli/asking.py and qa/query.py, which
# other work moves now; new code imports them from their own modules.
from citeqa.settings import MAX_FILE_MB, MAX_FILE_SECONDS
from embeddings.cleaning import boilerplate_spans, shows_nothing, title_from_text, without_spans
from embeddings.language import LANGUAGE_SAMPLE, detect_language
from embeddings.language import LANGUAGES as LANGUAGES
from embeddings.language import language_of_question as language_of_question
from embeddings.reading import READERS, Budget, SkipFile
from embeddings.reading import SUPPORTED_SUFFIXES as SUPPORTED_SUFFIXES

MAX_FILE_BYTES = MAX_FILE_MB * 2**20  # the default of the `indexing.max_file_mb` setting


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
    if shows_nothing(text):
        raise SkipFile("no text found: only invisible characters (zero-width, control)")
    skip = boilerplate_spans(text)
    return Document(
        doc_id=doc_id_for(text),
        source=source or str(path),
        title=title or title_from_text(text, skip, fallback=path.name),
        lang=detect_language(without_spans(text, skip, limit=LANGUAGE_SAMPLE)),
        text=text,
        pages=pages,
        boilerplate=tuple(skip),
    )


def too_big(size: int, max_bytes: int) -> str:
    """The skip reason for a file over the size limit, with how to raise the limit."""
    need = -(-size // 2**20)
    return (
        f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit; to index "
        f"it, raise the limit: --max-file-mb {need} or CITEQA_INDEXING__MAX_FILE_MB={need}"
    )
