"""Progress on stderr: a tqdm bar on a terminal, else a line every few seconds, so logs of
long runs show where they are. `Progress` counts an indexing run (files done of total,
chunks, rate, ETA); off a terminal its bar still runs, unseen, for Gradio's `track_tqdm` (the
UI's progress). `Steps` counts any other loop of known length (an eval's queries).

It only reports; it does not time or decide anything else.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class _Nowhere:
    """A stream for a bar nobody sees (Gradio's `track_tqdm` still follows it)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class _Meter:
    """What `Progress` and `Steps` share: a tqdm bar on a terminal, else a line every
    `every` seconds on `stream`; `line` says what the line is."""

    def __init__(self, total: int, enabled: bool, every: float, stream: TextIO | None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.every = every
        self.started = self._last = time.monotonic()
        self._bar: Any = None

    def _open_bar(self, stream: Any, **options: Any) -> None:
        from tqdm import tqdm

        self._bar = tqdm(file=stream, **options)

    def _write_line(self, force: bool = False) -> bool:
        """Write `line` if `every` seconds have passed since the last (or `force`)."""
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return False
        self._last = now
        self.stream.write(self.line(now) + "\n")
        self.stream.flush()
        return True

    def line(self, now: float | None = None) -> str:
        raise NotImplementedError

    def close(self) -> None:
        bar, self._bar = self._bar, None  # freed now, not by a later garbage collection
        if bar is not None:
            bar.close()


class Progress(_Meter):
    """Counts files, bytes and chunks against the files and bytes to read."""

    def __init__(
        self,
        files: int,
        nbytes: int,
        enabled: bool = True,
        every: float = 5.0,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(files, enabled, every, stream)
        self.files, self.nbytes = files, max(nbytes, 1)
        self.done_files = self.done_bytes = self.chunks = self.whole = 0
        self.lines = 0
        self.lines_wanted = self.enabled and not self.stream.isatty()
        if self.enabled:
            bar_stream = _Nowhere() if self.lines_wanted else self.stream
            self._open_bar(
                bar_stream, total=files, unit="file", desc="indexing", dynamic_ncols=True
            )

    def update(self, files: int = 0, nbytes: int = 0, chunks: int = 0, whole: int = 0) -> None:
        """`whole`: short documents embedded whole as well (their document vectors)."""
        self.done_files += files
        self.done_bytes += nbytes
        self.chunks += chunks
        self.whole += whole
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(files)
            self._bar.set_postfix(chunks=self.chunks, refresh=False)
        if self.lines_wanted and self._write_line():
            self.lines += 1

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.chunks / elapsed
        if self.done_bytes:
            eta = _duration((self.nbytes - self.done_bytes) * elapsed / self.done_bytes)
        else:
            eta = "?"
        return (
            f"indexing: {self.done_files:,}/{self.files:,} files "
            f"({100 * self.done_bytes / self.nbytes:.0f} % of {self.nbytes / 1e6:,.1f} MB), "
            f"{self.chunks:,} chunks embedded, "
            + (f"{self.whole:,} short documents whole, " if self.whole else "")
            + f"{rate:.1f} chunks/s, "
            f"{_duration(elapsed)} elapsed, ETA {eta}"
        )

    def close(self) -> None:
        super().close()
        if self.lines:  # a long run: its last line too
            self.stream.write(self.line() + "\n")
            self.stream.flush()


class Steps(_Meter):
    """`total` steps of one loop, named by `desc` ("eval hybrid") and `unit` ("queries")."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        enabled: bool = True,
        every: float = 5.0,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(total, enabled, every, stream)
        self.total, self.desc, self.unit, self.done = total, desc, unit, 0
        if self.enabled and self.stream.isatty():
            self._open_bar(self.stream, total=total, desc=desc, unit=unit, leave=False)

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        self._write_line(force=self.done == self.total)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        left = (self.total - self.done) * elapsed / self.done if self.done else None
        return (
            f"{self.desc}: {self.done:,}/{self.total:,} {self.unit}, "
            f"{self.done / elapsed:.1f}/s, {_duration(elapsed)} elapsed"
            + (f", ETA {_duration(left)}" if left is not None and self.done < self.total else "")
        )
