"""Sentence-aware chunking bounded in the embedder's own tokens, with overlap.

Every chunk is a contiguous span `text[start:end]` of its document, so a citation can point
at the exact characters. Sentences repeated inside one document, and navigation lines, are
left out of chunks. This module does not embed or store anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from embeddings.documents import Document

# A sentence ends at . ! ? … followed by space and a capital/quote/digit, at a paragraph
# break, or at ".X" glued together (scraped text: "ontmijnen.Ondertussen").
_BOUNDARY = re.compile(
    r"""(?<=[.!?…])["'”’»)]?\s+(?=["'“‘«(\[]?[A-ZÀ-ÖØ-Þ0-9])"""
    r"""|\n\s*\n"""
    r"""|(?<=[a-zà-ÿ]{2}[.!?])(?=["'‘“]?[A-ZÀ-ÖØ-Þ][a-zà-ÿ])""",
)
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:jl|mr|dr|mrs|ms|prof|nr|no|vs|ca|bijv|resp|art|blz|St|Jr|Sr|e\.g|i\.e|"
    r"o\.a|m\.b\.t|z\.g\.a|t\.a\.v|[A-Z])\.)$"
)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    n_tokens: int


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of sentences, whitespace trimmed; newlines inside a line kept."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        head = text[start : match.start()]
        if _ABBREVIATIONS.search(head.rstrip("\"'”’»)")):
            continue
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        # single newlines also end a "sentence" when the line is a heading-like fragment
        for ls, le in _split_lines(text, s, e):
            while ls < le and text[ls].isspace():
                ls += 1
            while le > ls and text[le - 1].isspace():
                le -= 1
            if le > ls:
                out.append((ls, le))
    return out


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    parts, cur = [], start
    for m in re.finditer(r"\n", text[start:end]):
        pos = start + m.start()
        parts.append((cur, pos))
        cur = pos + 1
    parts.append((cur, end))
    return parts


def _normalise(sentence: str) -> str:
    return re.sub(r"\W+", " ", sentence.lower()).strip()


def _hard_split(
    text: str, start: int, end: int, count: Callable[[str], int], limit: int
) -> list[tuple[int, int]]:
    """Split an over-long sentence at word boundaries into pieces of at most `limit` tokens."""
    pieces: list[tuple[int, int]] = []
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    i = 0
    while i < len(words):
        lo, hi = i + 1, len(words)
        # binary search for the longest prefix within the limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[words[i][0] : words[mid - 1][1]]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        pieces.append((words[i][0], words[lo - 1][1]))
        i = lo
    return pieces


def chunk_document(
    doc: Document,
    count_tokens: Callable[[str], int],
    max_tokens: int = 100,
    overlap_tokens: int = 20,
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_tokens`, carrying about
    `overlap_tokens` of trailing sentences into the next chunk.

    `count_tokens` counts the embedder's tokens of a text without special tokens.
    """
    if max_tokens < 8 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("need max_tokens >= 8 and 0 <= overlap_tokens < max_tokens")
    skip = doc.boilerplate
    seen: set[str] = set()
    units: list[tuple[int, int, int] | None] = []  # (start, end, tokens); None breaks a run
    for s, e in split_sentences(doc.text):
        if any(bs <= s < be for bs, be in skip):
            units.append(None)
            continue
        key = _normalise(doc.text[s:e])
        if len(key) > 20 and key in seen:
            units.append(None)  # repeated sentence: keep it out, and don't bridge over it
            continue
        seen.add(key)
        n = count_tokens(doc.text[s:e])
        if n <= max_tokens:
            units.append((s, e, n))
        else:
            for ps, pe in _hard_split(doc.text, s, e, count_tokens, max_tokens):
                units.append((ps, pe, count_tokens(doc.text[ps:pe])))

    chunks: list[Chunk] = []
    window: list[tuple[int, int, int]] = []

    def flush() -> None:
        start, end = window[0][0], window[-1][1]
        text = doc.text[start:end]
        chunks.append(
            Chunk(
                chunk_id=chunk_id_for(doc.doc_id, start, end),
                doc_id=doc.doc_id,
                ordinal=len(chunks),
                start=start,
                end=end,
                text=text,
                n_tokens=sum(u[2] for u in window),
            )
        )

    fresh = 0  # sentences in the window that no earlier chunk holds
    for unit in units:
        if unit is None:
            if fresh:
                flush()
            window, fresh = [], 0
            continue
        if window and sum(u[2] for u in window) + unit[2] > max_tokens:
            if fresh:
                flush()
            carry: list[tuple[int, int, int]] = []
            for u in reversed(window):
                if sum(c[2] for c in carry) + u[2] > overlap_tokens:
                    break
                carry.insert(0, u)
            while carry and sum(c[2] for c in carry) + unit[2] > max_tokens:
                carry.pop(0)
            window, fresh = carry, 0
        window.append(unit)
        fresh += 1
    if window and fresh:
        flush()
    return chunks


def chunk_id_for(doc_id: str, start: int, end: int) -> str:
    """Content and position: the document hash fixes the text, the offsets the span."""
    return hashlib.sha256(f"{doc_id}:{start}:{end}".encode()).hexdigest()[:16]
