"""Read a text file into one `str` without holding its bytes too, and walk a text's lines
without building a list of them. Encoding detection is the fallback chain below, nothing
cleverer; binary files are refused by the caller (`documents`).
"""

from __future__ import annotations

import codecs
import contextlib
import mmap
import re
from collections.abc import Iterator
from pathlib import Path

# Tried in order; latin-1 decodes any bytes, so a text file always reads.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def read_text_file(path: Path) -> str:
    """The file's text: UTF-16 or UTF-32 when a BOM says so, else UTF-8 (a BOM dropped),
    else cp1252, else latin-1.

    The file is mapped, not read: the decoder pulls its pages from the page cache, so the
    process holds one copy of the text, not the bytes and the text side by side (on the
    fallback path briefly two, while the UTF-8 error carries a copy of the bytes).
    """
    with path.open("rb") as handle:
        if not handle.seek(0, 2):
            return ""
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a file system without mmap: read it whole
            handle.seek(0)
            return _decode(memoryview(handle.read()))
    try:
        with memoryview(mapped) as data:
            return _decode(data)
    finally:
        with contextlib.suppress(BufferError):  # an exception in flight may hold a view
            mapped.close()


# A byte-order mark names the encoding outright (UTF-32's before UTF-16's: FF FE 00 00
# starts with FF FE). Such a file is full of NUL bytes, so it must not be taken for binary.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def bom_encoding(head: bytes) -> str | None:
    """'utf-16' or 'utf-32' when `head` (a file's first bytes) starts with their BOM."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding
    return None


def _decode(data: memoryview) -> str:
    wide = bom_encoding(bytes(data[:4]))
    if wide is not None:  # strict: a damaged UTF-16 file raises UnicodeDecodeError
        return codecs.decode(data, wide)
    for encoding in ENCODINGS[:-1]:
        try:
            return codecs.decode(data, encoding)
        except UnicodeDecodeError:
            continue
    return codecs.decode(data, ENCODINGS[-1])


_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines() cuts
_LINE = re.compile(f"[^{_BREAKS}]*(?:\r\n|[{_BREAKS}])?")


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, line) for each line, as `text.splitlines(keepends=True)` cuts them."""
    for match in _LINE.finditer(text):
        if match.end() > match.start():
            yield match.start(), match.group()
