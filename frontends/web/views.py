"""From the service's events to the chat's turns as plain data: a JSON-able view of each
turn (kept in the browser between reloads, and checked when it comes back), the history a
follow-up is read against, and the states shown while a question is answered. No HTML here
(chat_ui.py renders these views) and no Gradio.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from frontends.web.backend import display_name
from qa.answer import Answer, Delta, Done, Event, Retrieved
from qa.citations import Citation
from qa.retrieval import Hit

MAX_TURNS = 30  # kept in the browser; older turns drop off (and out of the follow-up context)
SEARCHING = "Searching the documents…"
ANSWERING = "Answering…"

View = dict[str, Any]  # one turn: question, answer text, citations... (see `answer_view`)


# --- views: plain data, safe to keep in the browser and to re-render ---------------------


PageOf = Callable[[str, int], "int | None"]  # (source, offset) -> page number


def citation_view(c: Citation, page_of: PageOf | None = None) -> View:
    spans = getattr(c, "spans", ()) or ((c.start, c.end),)
    return {
        "page": page_of(c.source, c.start) if page_of else None,
        "n": c.n,
        "source": c.source,
        "title": c.title,
        "lang": c.lang,
        "quote": c.quote,
        "start": c.start,
        "end": c.end,
        "supported": c.supported,
        "passage": c.passage,
        "passage_start": c.passage_start,
        "spans": [[int(s), int(e)] for s, e in spans],
    }


def answer_view(question: str, answer: Answer, page_of: PageOf | None = None) -> View:
    related = answer.as_json().get("related") or []
    return {
        "question": question,
        "text": answer.text,
        "abstained": answer.abstained,
        "citations": [citation_view(c, page_of) for c in answer.citations],
        "unsupported": [c.text for c in answer.claims if c.markers and not c.supported],
        "span": list(answer.answer_span) if answer.answer_span else None,
        "related": [
            {
                "source": str(r.get("source", "")),
                "title": str(r.get("title", "")),
                "text": str(r.get("text", "")),
            }
            for r in related
            if isinstance(r, dict)
        ],
        "error": None,
    }


def error_view(question: str, message: str) -> View:
    return {
        "question": question,
        "text": "",
        "abstained": True,
        "citations": [],
        "unsupported": [],
        "related": [],
        "error": message,
    }


def stopped_view(question: str, partial: str = "") -> View:
    """A question whose answer was stopped: kept in the chat (with a retry) and its partial,
    unchecked text shown as such; never part of a follow-up's history."""
    return {
        "question": question,
        "text": partial,
        "abstained": True,
        "citations": [],
        "unsupported": [],
        "span": None,
        "related": [],
        "error": None,
        "stopped": True,
    }


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _span(value: Any, length: int) -> list[int] | None:
    """A stored short-answer span, if it is two offsets inside the answer text."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    start, end = _int(value[0], -1), _int(value[1], -1)
    return [start, end] if 0 <= start < end <= length else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def load_turns(value: Any) -> list[View]:
    """Turns as stored in the browser, checked: anything malformed is dropped, not trusted."""
    if not isinstance(value, list):
        return []
    turns = []
    for t in value[-MAX_TURNS:]:
        if not isinstance(t, dict) or not _str(t.get("question")):
            continue
        citations = []
        for c in t.get("citations") or []:
            if not isinstance(c, dict):
                continue
            spans = [
                [_int(s[0]), _int(s[1])]
                for s in c.get("spans") or []
                if isinstance(s, list) and len(s) == 2
            ]
            citations.append(
                {
                    "n": _int(c.get("n")),
                    **{k: _str(c.get(k)) for k in ("source", "title", "lang", "quote", "passage")},
                    "start": _int(c.get("start")),
                    "end": _int(c.get("end")),
                    "supported": c.get("supported") is True,
                    "passage_start": _int(c.get("passage_start")),
                    "page": _int(c.get("page"), -1) if c.get("page") is not None else None,
                    "spans": spans,
                }
            )
        turns.append(
            {
                "question": _str(t.get("question")),
                "text": _str(t.get("text")),
                "abstained": t.get("abstained") is True,
                "citations": citations,
                "unsupported": [_str(u) for u in t.get("unsupported") or [] if _str(u)],
                "span": _span(t.get("span"), len(_str(t.get("text")))),
                "related": [
                    {k: _str(r.get(k)) for k in ("source", "title", "text")}
                    for r in t.get("related") or []
                    if isinstance(r, dict)
                ],
                "error": _str(t.get("error")) or None,
                **({"stopped": True} if t.get("stopped") is True else {}),
            }
        )
    return turns


def history_of(turns: Sequence[View]) -> list[tuple[str, str]]:
    """The (question, answer) pairs a follow-up is read against; failed turns are left out."""
    return [
        (t["question"], t["text"])
        for t in turns
        if not t.get("error") and not t.get("stopped") and t["text"]
    ]


def plain_text(view: View) -> str:
    """What "copy" puts on the clipboard: the answer, then its sources, no markup."""
    if view.get("error"):
        return str(view["error"])
    lines = [view["text"]]
    if view["citations"]:
        lines.append("")
        lines.append("Sources:")
        lines += [
            f'[{c["n"]}] {display_name(c["title"], c["source"])}: "{c["quote"].strip()}"'
            for c in view["citations"]
        ]
    return "\n".join(lines)


def cut_at_word(text: str, limit: int) -> str:
    """One line of at most `limit` characters: cut at a word end, with an ellipsis if cut."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:-–") + "…"


# --- events -> chat states ------------------------------------------------------------------


@dataclass(frozen=True)
class ChatState:
    """What to show while a question is answered: a status line and the text so far, then the
    finished turn (`view`) with the retrieved passages."""

    status: str
    text: str = ""
    view: View | None = None
    hits: list[Hit] | None = None
    searched: str = ""  # the query retrieval ran (a follow-up's includes the turn before)


def stream_to_chat(
    question: str, events: Iterable[Event], page_of: PageOf | None = None
) -> Iterator[ChatState]:
    """Translate `QAService.stream` events into chat states (first: searching)."""
    yield ChatState(SEARCHING)
    text, searched = "", ""
    hits: list[Hit] = []
    for event in events:
        if isinstance(event, Retrieved):
            hits, searched = event.hits, event.standalone
            yield ChatState(ANSWERING, hits=hits, searched=searched)
        elif isinstance(event, Delta):
            text += event.text
            yield ChatState(ANSWERING, text)
        elif isinstance(event, Done):
            yield ChatState(
                "",
                event.answer.text,
                answer_view(question, event.answer, page_of),
                event.answer.hits or hits,
                event.answer.standalone or searched,
            )


__all__ = [
    "ANSWERING",
    "MAX_TURNS",
    "SEARCHING",
    "ChatState",
    "PageOf",
    "View",
    "answer_view",
    "citation_view",
    "cut_at_word",
    "error_view",
    "history_of",
    "load_turns",
    "plain_text",
    "stopped_view",
    "stream_to_chat",
]
