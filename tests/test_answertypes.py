"""What a question asks for and whether a sentence holds it (qa.answertypes), and that the
extractive answerer quotes the sentence that holds it."""

from __future__ import annotations

import pytest

from embeddings.store import ChunkRecord
from qa.answering import ExtractiveAnswerer
from qa.answertypes import (
    CALENDAR_DATE,
    DURATION,
    NUMBER,
    answer_type,
    follow_up_intent,
)
from tests.fakes import FlatEmbedder


def _passage(text: str) -> ChunkRecord:
    return ChunkRecord(0, "c1", "d1", "letter.txt", 0, 0, len(text), text, "en", 40, "Letter")


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How soon could a ceasefire take effect?", "duration"),
        ("Within what time frame must Hamas disarm?", "duration"),
        ("Hoe lang moest de wapenstilstand duren?", "duration"),
        ("On what date did the conflict flare up again?", "calendar date"),
        ("Op welke datum werd het staakt-het-vuren verbroken?", "calendar date"),
        ("Op welke dag verklaarde het Witte Huis dat?", "date"),
        ("Wanneer moest de de-escalatie plaatsvinden?", "date"),
        ("Hoeveel doden vielen er?", "number"),
        ("Which newspaper cited officials?", None),
        ("What did he say when he arrived?", None),  # "when" not at the start
    ],
)
def test_what_a_question_asks_for(question: str, kind: str | None) -> None:
    found = answer_type(question)
    assert (found.name if found else None) == kind


def test_what_a_sentence_holds() -> None:
    assert DURATION.search('een bestand is aanstaande, "mogelijk binnen 24 uur"')
    assert DURATION.search("een 60-daagse wapenstilstand")
    assert DURATION.search('nog "één of twee dagen"')
    assert not DURATION.search("Biden spoke to Netanyahu on Monday.")
    assert CALENDAR_DATE.search("sinds het conflict op 10 mei opnieuw oplaaide")
    assert CALENDAR_DATE.search("the letter of 28 July 2025")
    assert not CALENDAR_DATE.search("in a conversation with Netanyahu on Monday")
    # the Dutch "ten" of "ten behoeve van" is no number ten
    assert not NUMBER.search("onderdelen ten behoeve van het Iron Dome-systeem")
    assert not NUMBER.search("de rakettenterreur 'ten allerscherpste' veroordeeld")
    assert NUMBER.search("ten people were hurt") and NUMBER.search("vijftig gegijzelden")


def test_typed_follow_ups() -> None:
    how_long = follow_up_intent("And how long?")
    assert how_long is DURATION
    date = follow_up_intent("On what date was that?")
    assert date is CALENDAR_DATE


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How soon could a ceasefire come?", "within 24 hours"),
        ("On what date did the conflict flare up again?", "10 May"),
    ],
)
def test_the_sentence_holding_the_asked_type_is_quoted(question: str, answer: str) -> None:
    """Words shared with the question pull towards the sentence that restates it; the
    sentence holding a duration ("how soon") or a calendar date ("on what date", not "on
    Monday") wins."""
    text = (
        "Officials discussed the ceasefire and the conflict on Monday. "
        "Hamas sources expect a truce within 24 hours. "
        "Fighting resumed on 10 May after weeks of calm."
    )
    answerer = ExtractiveAnswerer(FlatEmbedder())  # type: ignore[arg-type]
    best = answerer.candidates(question, [_passage(text)])[0]
    assert answer in best.text


def test_the_sentence_naming_what_is_asked_for_wins_a_tie() -> None:
    """'In welke krant …' asks for a newspaper: of two sentences matching the question
    equally, the one that names a newspaper ("de krant Die Presse") is quoted."""
    from qa.answertypes import focus_words

    assert focus_words("In welke Oostenrijkse krant sprak Saar?") == ["krant"]
    assert focus_words("Which Israeli newspaper cited officials?") == ["newspaper"]
    assert focus_words("Wat was volgens Israël het doelwit van de aanval?") == ["doelwit"]
    assert focus_words("What did Biden say?") == []
    text = "Minister Saar sprak gisteren uitgebreid. Saar sprak met de krant Die Presse."
    answerer = ExtractiveAnswerer(FlatEmbedder())  # type: ignore[arg-type]
    best = answerer.candidates("In welke krant sprak minister Saar?", [_passage(text)])[0]
    assert "Die Presse" in best.text


def test_the_gate_reads_the_best_sentence_without_the_focus_lift() -> None:
    """Naming the asked-for noun breaks ties between answer sentences; the answerability
    gate still reads the sentence that is best without that lift."""
    from qa.answering import Candidate
    from qa.evidence import gate_sentence

    lifted = Candidate(1, "Het ging om de krant.", 0.90, 0.80, True, 0.03)
    plain = Candidate(1, "Saar sprak met Die Presse.", 0.89, 0.86, True, 0.0)
    assert gate_sentence([lifted, plain]) == 0.86
    assert gate_sentence([]) is None
