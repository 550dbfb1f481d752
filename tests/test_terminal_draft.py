"""An LLM's draft on a terminal: taken back when the checked answer differs (the terminal
chat and `citeqa ask` in LLM mode left the unchecked draft standing above the refusal)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from frontends.terminal import WITHDRAWN, Draft, rows_taken, terminal_safe
from frontends.terminal_chat import TerminalChat
from qa.answer import Answer, Delta, Done

DRAFT = "De passie [1] is hebben de voorkeur van het Rode"
REFUSAL = "De documenten beantwoorden deze vraag niet."


def _draft(size: tuple[int, int] | None) -> tuple[Draft, list[str]]:
    out: list[str] = []
    return Draft(out.append, (lambda: size) if size else None), out


def test_a_refused_draft_is_erased_on_a_terminal() -> None:
    draft, out = _draft((80, 24))
    draft.add("Eerste regel [1].\nTweede ")
    draft.add("regel.")
    draft.settle(REFUSAL)
    assert out[-1] == "\r\x1b[1A\x1b[J" + REFUSAL  # up one row: the draft took two


def test_a_draft_that_scrolled_away_is_marked_withdrawn() -> None:
    draft, out = _draft((20, 3))
    draft.add("x" * 70)  # four rows of 20 columns: more than the screen holds
    draft.settle(REFUSAL)
    assert out[-1] == f"\n{WITHDRAWN}\n{REFUSAL}"
    piped, out = _draft(None)  # a pipe or a test: no erase codes
    piped.add(DRAFT)
    piped.settle(REFUSAL)
    assert out == [DRAFT, f"\n{WITHDRAWN}\n{REFUSAL}"]


def test_a_draft_the_check_kept_stays_and_nothing_is_written_again() -> None:
    draft, out = _draft((80, 24))
    draft.add("Nederland geeft 3 miljoen [1].")
    draft.settle("Nederland geeft 3  miljoen [1].\n")
    assert out == ["Nederland geeft 3 miljoen [1]."]
    unseen, out = _draft(None)
    unseen.settle(REFUSAL)  # nothing was streamed (`ask` in a pipe): the checked text only
    assert out == [REFUSAL]


def test_rows_and_document_text_that_would_steer_the_terminal() -> None:
    assert rows_taken("abc", 80) == 1 and rows_taken("a\n\nb", 80) == 3
    assert rows_taken("x" * 80, 80) == 1 and rows_taken("x" * 81, 80) == 2
    assert rows_taken("中" * 41, 80) == 2  # wide characters take two columns
    assert terminal_safe("a\x1b]52;c;evil\x07b") == "a\\x1b]52;c;evil\\x07b"
    draft, out = _draft(None)
    draft.add("\x1b[2Jcleared")
    assert out == ["\\x1b[2Jcleared"]


class _Scripted:
    """A service whose model drafts a sentence the check then refuses."""

    def stream(self, question: str, history: Any) -> Iterator[object]:
        yield Delta(DRAFT)
        yield Done(Answer(question, question, "nl", REFUSAL, True))


def test_the_terminal_chat_leaves_the_refusal_not_the_draft() -> None:
    out: list[str] = []
    chat = TerminalChat(_Scripted(), out.append, lambda: (80, 24))  # type: ignore[arg-type]
    chat.answer("Wat is de passie?")
    shown = "".join(out)
    assert shown.startswith(DRAFT + "\r\x1b[J" + REFUSAL)  # one row: erased in place
    assert chat.history == [("Wat is de passie?", REFUSAL)]
    plain: list[str] = []
    TerminalChat(_Scripted(), plain.append).answer("Wat is de passie?")  # type: ignore[arg-type]
    assert f"{WITHDRAWN}\n{REFUSAL}" in "".join(plain)


def test_ask_in_a_pipe_prints_the_checked_answer_only(monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    import qa.factory
    from frontends.cli import app

    monkeypatch.setattr(qa.factory, "open_service", lambda *a, **k: _Scripted())
    result = CliRunner().invoke(app, ["ask", "Wat is de passie?"])
    assert result.exit_code == 0, result.output
    assert REFUSAL in result.stdout and "passie [1]" not in result.stdout
