"""Writing answers to a terminal: text from documents made harmless, and an LLM's draft
that is taken back when the checked answer differs from it.

Both `citeqa ask` and `citeqa chat` stream a model's answer as it comes, then check its
citations. The check may refuse the answer, or keep less of it; the draft on screen must not
be left standing as if it were the answer. On a terminal whose size is known the draft is
erased (it fits on the screen) or marked withdrawn (it scrolled away); elsewhere it is marked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# C0 and C1 control characters (ESC starts terminal commands: window title, clipboard,
# colours), and the bidirectional overrides that reorder what a line shows.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

WITHDRAWN = "[draft withdrawn: it did not pass the citation check]"


def terminal_safe(text: str, newlines: bool = True) -> str:
    """`text` with every control character written out (ESC as `\\x1b`), so text from a
    document cannot steer the terminal; tabs and, unless `newlines` is false, newlines stay."""
    safe = _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return safe if newlines else safe.replace("\n", " ")


def _width(line: str) -> int:
    """Columns a line takes: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def rows_taken(text: str, columns: int) -> int:
    """Terminal rows `text` fills when written from the first column, wrapped at `columns`."""
    return sum(max(1, -(-_width(line.expandtabs()) // columns)) for line in text.split("\n"))


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


class Draft:
    """One answer being written: `add` the streamed pieces, then `settle` on the checked
    text. `size` gives (columns, rows) of a terminal that understands ANSI erase codes, or
    None where the output is not one (a pipe, a test)."""

    def __init__(
        self, write: Callable[[str], object], size: Callable[[], tuple[int, int]] | None
    ) -> None:
        self.write, self.size, self.shown = write, size, ""

    def add(self, text: str) -> None:
        text = terminal_safe(text)
        self.shown += text
        self.write(text)

    def settle(self, checked: str) -> None:
        """Leave `checked` on screen, and nothing of a draft that differs from it."""
        checked = terminal_safe(checked)
        if _same(self.shown, checked):
            return
        if not self.shown:
            self.write(checked)
        elif self.size is not None and (up := self._rows_up()) is not None:
            # back to the draft's first row, erase to the end of the screen, write anew
            self.write("\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J" + checked)
        else:
            self.write(f"\n{WITHDRAWN}\n{checked}")
        self.shown = checked

    def _rows_up(self) -> int | None:
        assert self.size is not None
        columns, rows = self.size()
        taken = rows_taken(self.shown, max(columns, 1))
        return taken - 1 if taken < rows else None  # more has scrolled off: cannot erase


__all__ = ["WITHDRAWN", "Draft", "rows_taken", "terminal_safe"]
