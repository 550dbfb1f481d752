"""The chat's conversations as kept in the browser: a list of chats (id, title, turns) and which
one is open, with the few changes the sidebar makes (new, open, rename, delete) and the
check that turns whatever the browser sends back into that shape again.

Plain data in, plain data out: no Gradio and no HTML here (app.py wires it to the sidebar,
views.py checks the turns, chat_ui.py renders them). A follow-up only ever sees the open
chat's turns.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from frontends.web.views import View, cut_at_word, load_turns

# Kept in the browser's localStorage (about 5 MB per site): 20 chats of up to 30 turns, the
# least recently used dropped first.
MAX_CHATS = 20
MAX_TITLE = 60
UNTITLED = "New chat"

Store = dict[str, Any]  # {"current": id, "chats": [{"id", "title", "turns"}], most recent first}


def _new_id() -> str:
    return secrets.token_hex(6)


def _clean_title(text: Any) -> str:
    return cut_at_word(text, MAX_TITLE) if isinstance(text, str) else ""


def _chat(id_: str, title: str = "", turns: Sequence[View] = ()) -> dict[str, Any]:
    return {"id": id_, "title": title, "turns": list(turns)}


def empty_store() -> Store:
    chat = _chat(_new_id())
    return {"current": chat["id"], "chats": [chat]}


def load_store(value: Any) -> Store:
    """What the browser kept, checked: malformed chats are dropped, ids made unique, and the
    single conversation of earlier versions (a list of turns) becomes the one chat."""
    if isinstance(value, list):  # before several conversations: one list of turns
        chat = _chat(_new_id(), "", load_turns(value))
        return {"current": chat["id"], "chats": [chat]}
    if not isinstance(value, dict) or not isinstance(value.get("chats"), list):
        return empty_store()
    chats, seen = [], set()
    for c in value["chats"][:MAX_CHATS]:
        if not isinstance(c, dict):
            continue
        id_ = c.get("id")
        if not isinstance(id_, str) or not id_.isalnum() or len(id_) > 32 or id_ in seen:
            id_ = _new_id()
        seen.add(id_)
        chats.append(_chat(id_, _clean_title(c.get("title")), load_turns(c.get("turns"))))
    if not chats:
        return empty_store()
    current = value.get("current")
    return {"current": current if current in seen else chats[0]["id"], "chats": chats}


def _open_chat(store: Store) -> dict[str, Any]:
    return next((c for c in store["chats"] if c["id"] == store["current"]), store["chats"][0])


def current_turns(store: Store) -> list[View]:
    return list(_open_chat(store)["turns"])


def current_title(store: Store) -> str:
    return title_of(_open_chat(store))


def title_of(chat: dict[str, Any]) -> str:
    """The chat's own title, else its first question, else "New chat"."""
    if chat["title"]:
        return str(chat["title"])
    first = next((t["question"] for t in chat["turns"]), "")
    return _clean_title(first) or UNTITLED


def choices(store: Store) -> list[tuple[str, str]]:
    """(label, id) for the sidebar's list, most recently used first."""
    return [(title_of(c), c["id"]) for c in store["chats"]]


def _replace(store: Store, chat: dict[str, Any]) -> Store:
    """`chat` moved to the front (most recent) and opened."""
    others = [c for c in store["chats"] if c["id"] != chat["id"]]
    return {"current": chat["id"], "chats": [chat, *others][:MAX_CHATS]}


def with_turns(store: Store, turns: Sequence[View]) -> Store:
    """The open chat with these turns."""
    return _replace(store, {**_open_chat(store), "turns": list(turns)})


def new_chat(store: Store) -> Store:
    """An empty chat, opened; an empty open chat is reused rather than kept twice."""
    chat = _open_chat(store)
    if not chat["turns"] and not chat["title"]:
        return _replace(store, chat)
    return _replace(store, _chat(_new_id()))


def open_chat(store: Store, id_: Any) -> Store:
    found = next((c for c in store["chats"] if c["id"] == id_), None)
    return store if found is None else {**store, "current": found["id"]}


def rename(store: Store, title: Any) -> Store:
    """The open chat, renamed (an empty title goes back to its first question)."""
    return {
        **store,
        "chats": [
            {**c, "title": _clean_title(title)} if c["id"] == store["current"] else c
            for c in store["chats"]
        ],
    }


def delete(store: Store) -> Store:
    """The open chat removed; the most recent other one opens (or a new, empty one)."""
    rest = [c for c in store["chats"] if c["id"] != store["current"]]
    return {"current": rest[0]["id"], "chats": rest} if rest else empty_store()


__all__ = [
    "MAX_CHATS",
    "Store",
    "choices",
    "current_title",
    "current_turns",
    "delete",
    "empty_store",
    "load_store",
    "new_chat",
    "open_chat",
    "rename",
    "with_turns",
]
