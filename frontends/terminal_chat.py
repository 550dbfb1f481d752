"""`citeqa chat`: a conversation in the terminal, with line editing and a history file
(prompt_toolkit), Ctrl-C that cancels only the answer being written, and a few commands.

It talks to a `QAService` and prints; it does not know about the index or settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embeddings.errors import CiteqaError
from frontends.terminal import Draft, terminal_safe
from qa.answer import Answer, Delta, Done
from qa.service import QAService

HELP = (
    "Ask a question in Dutch or English; follow-ups use the conversation.\n"
    "  /sources  the passages behind the last answer\n"
    "  /clear    start a new conversation\n"
    "  /help     this text\n"
    "  /quit     leave (or Ctrl-D). Ctrl-C stops an answer being written."
)


def format_citations(answer: Answer) -> list[str]:
    lines = []
    for c in answer.citations:
        mark = "" if c.supported else "  (unsupported)"
        lines.append(f"  [{c.n}] {c.title} — {c.source}:{c.start}-{c.end}{mark}")
        lines.append(f"      “{c.quote}”")
    return lines


def format_sources(answer: Answer | None) -> list[str]:
    """The cited passages in full, then the other passages that were retrieved."""
    if answer is None:
        return ["No answer yet: ask a question first."]
    lines = []
    cited = {c.chunk_id for c in answer.citations}
    for c in answer.citations:
        hit = next((h for h in answer.hits if h.chunk.chunk_id == c.chunk_id), None)
        lines.append(f"[{c.n}] {c.title} — {c.source}:{c.start}-{c.end}")
        lines.append("    " + (hit.chunk.text if hit else c.quote).replace("\n", " "))
    others = [h for h in answer.hits if h.chunk.chunk_id not in cited]
    if others:
        lines.append("Also retrieved:" if answer.citations else "Retrieved (not cited):")
        for h in others:
            lines.append(f"  {h.rank}. {h.chunk.title} — {h.chunk.source} ({h.score:.3f})")
    return lines or ["The last answer has no sources."]


class TerminalChat:
    """One session: the conversation so far and the last answer, for /sources."""

    def __init__(
        self,
        service: QAService,
        write: Callable[[str], Any],
        size: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        """`size`: the terminal's (columns, rows), where it understands erase codes."""
        self.service = service
        self.write = write
        self.size = size
        self.history: list[tuple[str, str]] = []
        self.last: Answer | None = None

    def command(self, line: str) -> bool:
        """Run a /command; False means quit."""
        name = line.split()[0].lower()
        if name in ("/quit", "/exit"):
            return False
        if name == "/clear":
            self.history, self.last = [], None
            self.write("(new conversation)\n")
        elif name == "/sources":
            self.write(terminal_safe("\n".join(format_sources(self.last))) + "\n")
        elif name == "/help":
            self.write(HELP + "\n")
        else:
            self.write(f"Unknown command {name}; /help lists them.\n")
        return True

    def answer(self, question: str) -> None:
        """Stream one answer; Ctrl-C stops it, keeping the conversation as it was."""
        draft = Draft(self.write, self.size)
        try:
            for event in self.service.stream(question, self.history):
                if isinstance(event, Delta):
                    draft.add(event.text)
                elif isinstance(event, Done):
                    draft.settle(event.answer.text)  # a draft the check changed goes
                    self.write("\n")
                    lines = format_citations(event.answer)
                    self.write(terminal_safe("".join(line + "\n" for line in lines)))
                    self.last = event.answer
                    self.history.append((question, event.answer.text))
        except KeyboardInterrupt:
            self.write("\n(cancelled)\n")
        except CiteqaError as exc:
            self.write(f"\nciteqa: {terminal_safe(str(exc))}\n")


def run_chat(
    service: QAService,
    history_file: Path | None,
    input: Any = None,
    output: Any = None,
) -> None:
    """The read-answer loop; `input`/`output` are prompt_toolkit's (tests pass a pipe)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    if history_file is not None:
        history_file.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history_file)) if history_file else InMemoryHistory(),
        input=input,
        output=output,
    )
    chat = TerminalChat(service, _writer(session), _size(session) if input is None else None)
    chat.write("Ask a question (/help for commands, Ctrl-D to quit).\n")
    # The whole session, not each answer, runs with the terminal quiet: the prompt's own raw
    # mode then hands back to quiet mode, never to the canonical one, so a key typed in the
    # moment between accepting a line and starting its answer is not lost either.
    with _no_echo(input is None):
        while True:
            try:
                line = session.prompt("> ").strip()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line, as in a shell
            except EOFError:
                break
            if not line:
                continue
            if line.startswith("/"):
                if not chat.command(line):
                    break
                continue
            chat.answer(line)


@contextmanager
def _no_echo(enabled: bool) -> Iterator[None]:
    """Outside the prompt (while an answer is written), keys typed ahead are not echoed by the
    terminal (an arrow key would show as ^[[A); they wait, and the next prompt reads them.
    Ctrl-C still works. Canonical mode is off too: in it the terminal takes a typed-ahead
    Ctrl-D as end-of-file and drops it, and the next prompt would wait for a Ctrl-D the user
    already typed (a full CI run hung there once, the Ctrl-D landing between prompt and
    answer while the terminal was canonical)."""
    import sys

    fd = sys.stdin.fileno() if enabled and sys.stdin.isatty() else None
    if fd is None:
        yield
        return
    import termios

    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~(termios.ECHO | termios.ICANON)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def _size(session: Any) -> Callable[[], tuple[int, int]]:
    def size() -> tuple[int, int]:
        got = session.output.get_size()
        return got.columns, got.rows

    return size


def _writer(session: Any) -> Callable[[str], None]:
    output = session.output

    def write(text: str) -> None:
        output.write_raw(text)
        output.flush()

    return write


__all__ = ["TerminalChat", "run_chat"]
