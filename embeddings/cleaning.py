"""What in a document's text is not its content: page chrome (navigation, link lines, empty
field labels), invisible characters, and the title a text without one gets from its lines.

Judged by the shape of whole lines; it reads no files and detects no language.
"""

from __future__ import annotations

import re

from embeddings.textfile import iter_lines

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


def title_from_text(text: str, skip: list[tuple[int, int]], fallback: str) -> str:
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


def shows_nothing(text: str) -> bool:
    """Whether `text` is only blanks and invisible characters (zero-width, control)."""
    return _VISIBLE.search(text) is None


def without_spans(text: str, spans: list[tuple[int, int]], limit: int) -> str:
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
