"""Sentence-aware chunking bounded in the embedder's own tokens, with overlap.

Every chunk is a contiguous span `text[start:end]` of its document, so a citation can point
at the exact characters. Sentences repeated inside one document, and navigation lines, are
left out of chunks. This module does not embed or store anything.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
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
    """(start, end) spans of sentences, whitespace trimmed; newlines inside a line kept.

    Linear in the text: the abbreviation check reads only the few characters before a
    boundary, never the whole run since the last sentence start.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start()
        while end > start and text[end - 1] in _CLOSERS:  # what head.rstrip(_CLOSERS) did
            end -= 1
        # the abbreviations are a few characters long; `\b` still sees the text before
        if _ABBREVIATIONS.search(text, max(start, end - _ABBREVIATION_REACH), end):
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


_CLOSERS = "\"'”’»)"
_ABBREVIATION_REACH = 16  # longer than the longest abbreviation ("m.b.t." and the like)


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    parts, cur = [], start
    pos = text.find("\n", start, end)
    while pos != -1:
        parts.append((cur, pos))
        cur = pos + 1
        pos = text.find("\n", cur, end)
    parts.append((cur, end))
    return parts


def _normalise(sentence: str) -> str:
    return re.sub(r"\W+", " ", sentence.lower()).strip()


def _hard_split(
    text: str, start: int, end: int, count: Callable[[str], int], limit: int
) -> list[tuple[int, int, int]]:
    """Split an over-long sentence at word boundaries into pieces of at most `limit` tokens,
    each the longest run of words within the limit: (start, end, tokens).

    Linear in the sentence. Each word is counted once; a run's count is estimated as the
    sum of its words' counts plus a fixed cost per space (0 for the fake tokenizer, 1 for
    e5's, which merges the space before the first word into the prompt). One count confirms
    an estimated piece; only when it disagrees is the longest run searched, at most
    `limit` words far (every word is at least one token). A single word over the limit is
    cut between characters.
    """
    # word offsets in flat arrays, not tuples: 10 MB without sentence breaks is 1.5 M words
    starts, ends = array("q"), array("q")
    for match in _WORD.finditer(text, start, end):
        starts.append(match.start())
        ends.append(match.end())
    counts = array("q", (count(text[ws:we]) for ws, we in zip(starts, ends, strict=True)))
    n_words = len(starts)
    gap = 0
    if n_words > 1:
        gap = max(0, count(text[starts[0] : ends[1]]) - counts[0] - counts[1])

    def run(i: int, j: int) -> int:  # tokens of words i..j-1, counted for real
        return count(text[starts[i] : ends[j - 1]])

    pieces: list[tuple[int, int, int]] = []
    i = 0
    while i < n_words:
        j, total = i + 1, counts[i]
        while j < n_words and total + gap + counts[j] <= limit:
            total += gap + counts[j]
            j += 1
        tokens = run(i, j)
        # the estimate held: the next word does not fit either (its estimate is over)
        if tokens != total and (tokens > limit or (j < n_words and run(i, j + 1) <= limit)):
            lo, hi = i + 1, min(n_words, i + limit)
            while lo < hi:  # binary search for the longest prefix within the limit
                mid = (lo + hi + 1) // 2
                if run(i, mid) <= limit:
                    lo = mid
                else:
                    hi = mid - 1
            j, tokens = lo, run(i, lo)
        ws, we = starts[i], ends[j - 1]
        if tokens > limit:  # one word alone is over the limit
            pieces.extend(_cut_word(text, ws, we, count, limit))
        else:
            pieces.append((ws, we, tokens))
        i = j
    return pieces


_WORD = re.compile(r"\S+")


def _cut_word(
    text: str, start: int, end: int, count: Callable[[str], int], limit: int
) -> list[tuple[int, int, int]]:
    """A word longer than `limit` tokens (a base64 blob, a URL) in pieces of at most `limit`
    characters, fewer where the tokens are denser than one per character."""
    pieces = []
    while start < end:
        stop = min(end, start + limit)
        tokens = count(text[start:stop])
        while stop - start > 1 and tokens > limit:
            stop = start + (stop - start) // 2
            tokens = count(text[start:stop])
        pieces.append((start, stop, tokens))
        start = stop
    return pieces


def chunk_document(
    doc: Document,
    count_tokens: Callable[[str], int],
    max_tokens: int = 100,
    overlap_tokens: int = 20,
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_tokens`, carrying about
    `overlap_tokens` of trailing sentences into the next chunk.

    `count_tokens` counts the embedder's tokens of a text without special tokens. Linear in
    the document: each sentence is counted once, and running sums replace re-summing.
    """
    if max_tokens < 8 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("need max_tokens >= 8 and 0 <= overlap_tokens < max_tokens")
    skip = sorted(doc.boilerplate)
    next_skip = 0
    seen: set[str] = set()
    units: list[tuple[int, int, int] | None] = []  # (start, end, tokens); None breaks a run
    for s, e in split_sentences(doc.text):
        while next_skip < len(skip) and skip[next_skip][1] <= s:
            next_skip += 1
        if next_skip < len(skip) and skip[next_skip][0] <= s:
            units.append(None)
            continue
        key = _normalise(doc.text[s:e])
        if len(key) > 20 and key in seen:
            units.append(None)  # repeated sentence: keep it out, and don't bridge over it
            continue
        seen.add(key)
        # more words than tokens allowed: over the bound without counting it whole
        words = sum(1 for _ in itertools.islice(_WORD.finditer(doc.text, s, e), max_tokens + 2))
        n = count_tokens(doc.text[s:e]) if words <= max_tokens + 1 else max_tokens + 1
        if n <= max_tokens:
            units.append((s, e, n))
        else:
            units.extend(_hard_split(doc.text, s, e, count_tokens, max_tokens))

    chunks: list[Chunk] = []
    window: deque[tuple[int, int, int]] = deque()
    window_tokens = 0

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
                n_tokens=window_tokens,
            )
        )

    fresh = 0  # sentences in the window that no earlier chunk holds
    for unit in units:
        if unit is None:
            if fresh:
                flush()
            window, window_tokens, fresh = deque(), 0, 0
            continue
        if window and window_tokens + unit[2] > max_tokens:
            if fresh:
                flush()
            carry: deque[tuple[int, int, int]] = deque()
            carry_tokens = 0
            for u in reversed(window):
                if carry_tokens + u[2] > overlap_tokens:
                    break
                carry.appendleft(u)
                carry_tokens += u[2]
            while carry and carry_tokens + unit[2] > max_tokens:
                carry_tokens -= carry.popleft()[2]
            window, window_tokens, fresh = carry, carry_tokens, 0
        window.append(unit)
        window_tokens += unit[2]
        fresh += 1
    if window and fresh:
        flush()
    return chunks


def chunk_id_for(doc_id: str, start: int, end: int) -> str:
    """Content and position: the document hash fixes the text, the offsets the span."""
    return hashlib.sha256(f"{doc_id}:{start}:{end}".encode()).hexdigest()[:16]


# tokens an embedder adds to a text of its own (e5: "passage: " and two special tokens)
WINDOW_RESERVE = 8


def passages_per_window(window: int, max_tokens: int, overlap_tokens: int) -> int:
    """How many passages of `max_tokens` overlapping `overlap_tokens` fit in one window of
    the embedder: a document of that many passages or fewer is read by it whole."""
    overlap = min(overlap_tokens, max_tokens - 1)
    return max(1, (window - overlap) // (max_tokens - overlap))


def whole_text(text: str, spans: Sequence[tuple[int, int]], per_window: int) -> str | None:
    """The text of a document of 2..`per_window` passages (their (start, end) `spans` in
    `text`), to embed whole for its document vector: the spans put back together (what was
    left out of every passage, boilerplate and repeats, stays out). None for one passage
    (its vector is the document's) or more than a window."""
    if not 2 <= len(spans) <= per_window:
        return None
    parts: list[str] = []
    end = -1
    for start, stop in sorted(spans):
        if start > end >= 0:
            parts.append(" ")
        parts.append(text[max(start, end) : stop] if stop > end else "")
        end = max(end, stop)
    return "".join(parts)


def mostly_short(passages: Iterable[int], per_window: int) -> bool:
    """Whether at least half of the documents (given by their passage counts) fit one
    window: a collection of abstracts, messages or short articles, not of reports and
    letters. Where it is, hybrid search scores a short document by its whole-document
    vector (`qa.doclevel`), so only then are those vectors computed."""
    counts = list(passages)
    return bool(counts) and 2 * sum(1 for n in counts if n <= per_window) >= len(counts)
