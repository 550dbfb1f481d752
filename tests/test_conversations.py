"""The chat's conversations as kept in the browser (frontends/web/conversations.py): new,
open, rename, delete, the open chat's turns only, and hostile or earlier-version values
checked."""

from __future__ import annotations

from typing import Any

from frontends.web.conversations import (
    MAX_CHATS,
    choices,
    current_title,
    current_turns,
    delete,
    empty_store,
    load_store,
    new_chat,
    open_chat,
    rename,
    with_turns,
)
from frontends.web.views import error_view, history_of


def turn(question: str, text: str = "An answer.") -> dict[str, Any]:
    return {
        **error_view(question, ""),
        "text": text,
        "error": None,
        "abstained": False,
        "span": None,
    }


def two_chats() -> tuple[dict[str, Any], str, str]:
    store = with_turns(empty_store(), [turn("Did it rain?", "It rained. [1]")])
    first = store["current"]
    store = with_turns(new_chat(store), [turn("Who won?", "Ajax.")])
    return store, first, store["current"]


def test_each_chat_keeps_its_own_turns_and_follow_ups_see_only_the_open_one() -> None:
    store, first, second = two_chats()
    assert first != second
    assert history_of(current_turns(store)) == [("Who won?", "Ajax.")]
    store = open_chat(store, first)
    assert history_of(current_turns(store)) == [("Did it rain?", "It rained. [1]")]
    assert [label for label, _ in choices(store)] == ["Who won?", "Did it rain?"]  # recent first
    assert open_chat(store, "no-such-id") == store


def test_new_reuses_an_empty_chat_and_titles_come_from_the_first_question() -> None:
    store = new_chat(empty_store())
    assert len(store["chats"]) == 1 and current_title(store) == "New chat"
    long = "Which Israeli ministers did the Dutch government declare persona non grata and why?"
    store = with_turns(store, [turn(long)])
    title = current_title(store)
    assert title.endswith("…") and len(title) <= 60 and long.startswith(title[:-1])
    assert not title[:-1].endswith(" ") and long[len(title) - 1] == " "  # cut at a word end


def test_rename_and_delete_act_on_the_open_chat() -> None:
    store, first, _ = two_chats()
    store = rename(store, "  Football\n<b>scores</b>  ")
    assert current_title(store) == "Football <b>scores</b>"  # one line; escaped when shown
    assert rename(store, "")["chats"][0]["title"] == ""  # back to the first question
    store = delete(store)
    assert store["current"] == first and [c["id"] for c in store["chats"]] == [first]
    store = delete(store)
    assert len(store["chats"]) == 1 and current_turns(store) == []  # a new, empty chat


def test_stored_values_are_checked_and_the_single_conversation_carried_over() -> None:
    store, _, _ = two_chats()
    assert load_store(store) == store  # round trip
    # before several conversations the browser kept one list of turns
    old = load_store([turn("Did it rain?")])
    assert len(old["chats"]) == 1 and current_title(old) == "Did it rain?"
    assert old["current"] == old["chats"][0]["id"]
    hostile: list[Any] = [
        None,
        "text",
        {"chats": "no"},
        {"chats": [7, {"id": "../x", "title": 5, "turns": "no"}], "current": "../x"},
    ]
    for value in hostile:
        checked = load_store(value)
        assert len(checked["chats"]) == 1
        assert (
            checked["chats"][0]["id"].isalnum() and checked["current"] == checked["chats"][0]["id"]
        )
    same = load_store({"chats": [{"id": "a1", "turns": []}, {"id": "a1", "turns": []}]})
    assert len({c["id"] for c in same["chats"]}) == 2  # ids made unique
    many = {"chats": [{"id": f"c{i}", "turns": [turn(f"q{i}")]} for i in range(MAX_CHATS + 5)]}
    assert len(load_store(many)["chats"]) == MAX_CHATS
