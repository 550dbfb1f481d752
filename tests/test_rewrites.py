"""The reader's training rewrites: questions made unanswerable by one changed word, each kept
only where its paragraph cannot answer it."""

from __future__ import annotations

import random

from train.rewrites import adversarial, capitalised

CONTEXT = (
    "The bridge was opened in 1932. It is the longest bridge in the north of Norway. "
    "Its designer was Olsen."
)


def answer_at(text: str) -> tuple[int, int]:
    start = CONTEXT.index(text)
    return start, start + len(text)


def rewrites(question: str, answer: str, pool: list[str], tries: int = 60) -> dict[str, str]:
    """Every kind of rewrite the question gets over a few seeds."""
    out: dict[str, str] = {}
    for seed in range(tries):
        found = adversarial(question, CONTEXT, answer_at(answer), pool, random.Random(seed))
        if found:
            out[found[1]] = found[0]
    return out


def test_a_negation_keeps_the_word_order() -> None:
    got = rewrites("When was the bridge opened?", "1932", [])
    assert got["negation"] == "When wasn't the bridge opened?"
    assert "can't" in rewrites("What can the bridge carry?", "1932", [])["negation"]


def test_no_negation_where_the_sentence_already_negates() -> None:
    context_negated = "The bridge was not opened in 1932."
    for seed in range(30):
        found = adversarial(
            "When was the bridge opened?", context_negated, (0, 10), [], random.Random(seed)
        )
        assert found is None or found[1] != "negation"


def test_an_antonym_only_where_the_sentence_lacks_it() -> None:
    got = rewrites("What is the longest bridge in the north?", "longest", [])
    assert got["antonym"] in {
        "What is the shortest bridge in the north?",
        "What is the longest bridge in the south?",
    }


def test_a_number_swap_never_lands_on_a_number_of_the_paragraph() -> None:
    got = rewrites("What opened in 1932?", "1932", [])
    new = got["number"].removeprefix("What opened in ").removesuffix("?")
    assert new.isdigit() and new != "1932" and new not in CONTEXT


def test_an_entity_swap_takes_a_name_the_paragraph_does_not_hold() -> None:
    question = "Which is the longest bridge in Norway?"
    got = rewrites(question, "longest", ["Norway", "Sweden"])
    assert got["entity"] == "Which is the longest bridge in Sweden?"
    assert "entity" not in rewrites(question, "longest", ["Norway"])


def test_an_entity_swap_changes_a_name_of_the_answer_sentence_only() -> None:
    # "Norway" is in the second sentence, the answer in the third: the swap would not
    # touch what ties the question to its answer
    assert "entity" not in rewrites("Who designed the bridge in Norway?", "Olsen", ["Sweden"])


def test_the_swap_pool_leaves_out_the_paragraph_itself() -> None:
    article = {"paragraphs": [{"context": "A Oslo b."}, {"context": "A Bergen b Tromso."}]}
    assert capitalised(article, 0) == ["Bergen", "Tromso"]
