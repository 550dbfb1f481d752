"""`citeqa chat`: typed through prompt_toolkit's pipe input (keys as a terminal sends them),
and in a real pseudo-terminal: history recall with the arrow keys, /sources, /clear, and
Ctrl-C that stops only the answer being written."""

from __future__ import annotations

import io
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.plain_text import PlainTextOutput

from embeddings.store import Index
from frontends.terminal_chat import run_chat
from qa.answer import Delta
from qa.answering import ExtractiveAnswerer
from qa.citations import CitationChecker
from qa.retrieval import Retriever
from qa.service import QAService
from tests.conftest import ROOT

RED_CROSS = "Hoeveel geeft Nederland aan het Rode Kruis?"
UP = "\x1b[A"


@pytest.fixture
def service(small_index: Path, fake_embedder) -> QAService:  # type: ignore[no-untyped-def]
    retriever = Retriever(Index(small_index), fake_embedder)
    return QAService(retriever, ExtractiveAnswerer(fake_embedder), CitationChecker(fake_embedder))


def _chat(service: Any, lines: list[str], history_file: Path) -> str:
    """Type each line once the output has settled (a person does not type ahead of the
    prompt; prompt_toolkit loads the history file in the background), then Ctrl-D."""
    out = io.StringIO()

    def settle() -> None:
        """Until a prompt is shown and nothing has been written for 0.3 s."""
        before, deadline = None, time.time() + 30
        while time.time() < deadline:
            now = out.getvalue()
            if now == before and re.search(r">\s*$", now):
                return
            before = now
            time.sleep(0.3)

    with create_pipe_input() as pipe:

        def type_lines() -> None:
            for line in lines:
                settle()
                pipe.send_text(line)
            settle()
            pipe.close()

        typist = threading.Thread(target=type_lines)
        typist.start()
        run_chat(service, history_file, input=pipe, output=PlainTextOutput(out))
        typist.join()
    return out.getvalue()


def test_history_recall_follow_up_sources_and_clear(service: QAService, tmp_path: Path) -> None:
    history_file = tmp_path / "data" / "chat_history"
    keys = [
        f"{RED_CROSS}\r",
        "En hoeveel was dat?\r",  # a follow-up: answered from the conversation
        "/sources\r",
        "/clear\r",
        "En hoeveel was dat?\r",  # the same words without a conversation
        f"{UP}{UP}{UP}{UP}{UP}\r",  # arrow up five times: the first question again
    ]
    text = _chat(service, keys, history_file)
    answers = re.split(r"\n>", text)  # one part per prompt: the line typed, then the reply
    assert "3 miljoen euro" in answers[1] and "[1]" in answers[1]
    assert "3 miljoen euro" in answers[2]
    # /sources: the whole cited passage (more than the quote), then the other passages
    assert "nl_hulp.txt" in answers[3] and "Hulp aan Gaza  Nederland geeft" in answers[3]
    assert "Also retrieved:" in answers[3] and "en_cats.txt" in answers[3]
    assert "(new conversation)" in answers[4]
    assert "3 miljoen euro" not in answers[5]
    assert "3 miljoen euro" in answers[6]  # recalled with the arrow keys and asked again
    assert "^[[A" not in text
    saved = history_file.read_text()
    assert RED_CROSS in saved and "/clear" in saved


class SlowThenQuick:
    """A service whose first answer hangs after one piece, until Ctrl-C; then answers."""

    def __init__(self, inner: QAService) -> None:
        self.inner = inner
        self.calls: list[tuple[str, list[Any]]] = []
        self.started = threading.Event()

    def stream(self, question: str, history: Any = ()) -> Iterator[Any]:
        self.calls.append((question, list(history)))
        if len(self.calls) == 1:
            yield Delta("Partial answer")
            self.started.set()
            deadline = time.time() + 60
            while time.time() < deadline:
                time.sleep(0.01)
            raise AssertionError("Ctrl-C did not stop the answer")
        yield from self.inner.stream(question, history)


def test_ctrl_c_cancels_only_the_answer(service: QAService, tmp_path: Path) -> None:
    # the handler a `citeqa chat` process has (in a full run an earlier test can leave
    # another one installed, and the SIGINT below then raised nothing)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c(service, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c(service: QAService, tmp_path: Path) -> None:
    slow = SlowThenQuick(service)
    sender = threading.Thread(
        # generous: on a loaded machine the chat can take a while to reach its first answer
        target=lambda: slow.started.wait(300) and os.kill(os.getpid(), signal.SIGINT)
    )
    sender.start()
    lines = ["first question\r", f"{RED_CROSS}\r", "En hoeveel was dat?\r"]
    text = _chat(slow, lines, tmp_path / "h")
    sender.join()
    assert "Partial answer\n(cancelled)" in text
    assert "3 miljoen euro" in text.split("(cancelled)")[1]
    # the cancelled question is not part of the conversation; the answered one is
    assert slow.calls[1] == (RED_CROSS, [])
    assert [q for q, _ in slow.calls[2][1]] == [RED_CROSS]


def test_chat_in_a_real_terminal(small_index: Path, tmp_path: Path) -> None:
    """The real command in a pseudo-terminal: arrow-up recalls, no raw escape codes."""
    import pty

    env = {**os.environ, "CITEQA_INDEX": str(small_index), "PYTHONPATH": str(ROOT)}
    env.update(TERM="xterm", COLUMNS="200", LINES="50", PROMPT_TOOLKIT_NO_CPR="1")
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", "chat"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=ROOT,
        close_fds=True,
    )
    os.close(child)
    seen = bytearray()

    def read_until(marker: bytes, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while marker not in seen:
            left = deadline - time.time()
            assert left > 0, f"no {marker!r} in {bytes(seen)[-500:]!r}"
            if select.select([main], [], [], min(left, 1.0))[0]:
                try:
                    seen.extend(os.read(main, 4096))
                except OSError:  # the child closed the terminal
                    assert marker in seen, f"no {marker!r} in {bytes(seen)[-500:]!r}"

    try:
        read_until(b"quit).")
        read_until(b">")
        os.write(main, f"{RED_CROSS}\r".encode())
        read_until(b"[1]")
        del seen[:]
        os.write(main, UP.encode())  # typed while the answer is still being written
        read_until(b"Rode Kruis?")  # the line editor shows the recalled question
        recalled = bytes(seen)
        del seen[:]
        os.write(main, b"\r")
        read_until(b"\n")  # the line is accepted; the answer is being looked for
        # Ctrl-D typed ahead, while the answer is being written, ends the session after it
        # (the terminal's canonical mode swallowed it there, and the chat waited for ever)
        os.write(main, b"\x04")
        read_until(b"miljoen")
        try:
            code = process.wait(120)  # a loaded machine: the reader and engines shut down
        except subprocess.TimeoutExpired:
            while select.select([main], [], [], 2)[0]:  # what the child wrote last
                try:
                    seen.extend(os.read(main, 4096))
                except OSError:
                    break
            pytest.fail(f"the chat did not end on the typed-ahead Ctrl-D: {bytes(seen)[-800:]!r}")
        assert code == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)
    assert b"^[[A" not in recalled + seen
    assert RED_CROSS in (small_index / "chat_history").read_text()  # inside the index folder


def test_the_terminal_is_never_canonical_between_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prompt restores, on leaving, the mode it found. The chat makes that the quiet mode,
    so a Ctrl-D typed just after Enter, before the answer starts, is a key and not a dropped
    end-of-file (a full CI run hung there: quiet mode began only inside each answer)."""
    import pty
    import termios

    import prompt_toolkit

    main, child = pty.openpty()
    canonical: list[bool] = []

    class Terminal(io.StringIO):
        def fileno(self) -> int:
            return child

        def isatty(self) -> bool:
            return True

    class Session:
        output = PlainTextOutput(io.StringIO())
        lines = iter([RED_CROSS])

        def __init__(self, **_: Any) -> None:
            pass

        def prompt(self, _: str) -> str:
            canonical.append(bool(termios.tcgetattr(child)[3] & termios.ICANON))
            try:
                return next(self.lines)
            except StopIteration:
                raise EOFError from None

    class Service:
        def stream(self, question: str, history: list[Any]) -> Iterator[Any]:
            canonical.append(bool(termios.tcgetattr(child)[3] & termios.ICANON))
            yield Delta("answer")

    try:
        monkeypatch.setattr(sys, "stdin", Terminal())
        monkeypatch.setattr(prompt_toolkit, "PromptSession", Session)
        before = termios.tcgetattr(child)
        run_chat(Service(), None)  # type: ignore[arg-type]
        assert canonical == [False, False, False]  # prompt, answer, prompt
        assert termios.tcgetattr(child) == before  # and the terminal as it was, after
    finally:
        os.close(main)
        os.close(child)


def test_keys_typed_during_an_answer_wait_raw(monkeypatch: pytest.MonkeyPatch) -> None:
    """While an answer is written the terminal neither echoes nor reads lines: a Ctrl-D typed
    ahead stays a key for the next prompt (canonical mode took it as end-of-file and dropped
    it, and the chat waited for ever in a full CI run)."""
    import pty
    import termios

    from frontends.terminal_chat import _no_echo

    main, child = pty.openpty()
    try:

        class Terminal(io.StringIO):
            def fileno(self) -> int:
                return child

            def isatty(self) -> bool:
                return True

        monkeypatch.setattr(sys, "stdin", Terminal())
        before = termios.tcgetattr(child)
        assert before[3] & termios.ICANON and before[3] & termios.ECHO
        with _no_echo(True):
            during = termios.tcgetattr(child)[3]
            assert not during & termios.ICANON and not during & termios.ECHO
            assert during & termios.ISIG  # Ctrl-C still stops the answer
        assert termios.tcgetattr(child) == before
    finally:
        os.close(main)
        os.close(child)
