"""Follow-ups read around the previous answer in document order: a neighbour sentence in
the chunk before counts as a neighbour, every chunk that holds the previous answer is an
anchor, the previous answer's rare names carry its subject, and a "why" after "how many"
asks for no number."""

from __future__ import annotations

from dataclasses import replace

from embeddings.store import ChunkRecord
from qa.answering import ExtractiveAnswerer, Reading, reading_order
from qa.followups import around_previous_answer, previous_answer_region
from qa.retrieval import Hit
from tests.test_answering import passage
from tests.test_answertypes import FlatEmbedder


def _chunks(doc_id: str, texts: list[str], first_row: int = 10) -> list[ChunkRecord]:
    """Consecutive chunks of one document, with their offsets in it."""
    out, start = [], 0
    for i, text in enumerate(texts):
        chunk = passage(text, first_row + i)
        out.append(replace(chunk, doc_id=doc_id, ordinal=i, start=start, end=start + len(text)))
        start += len(text) + 1
    return out


class _Index:
    def __init__(self, records: list[ChunkRecord]) -> None:
        self.records = {r.row: r for r in records}

    def chunks(self, rows):  # type: ignore[no-untyped-def]
        return {r: self.records[r] for r in rows if r in self.records}


def test_reading_order_runs_across_chunks() -> None:
    a, b = _chunks("d", ["Een. Twee zinnen hier.", "Drie is het. Vier ook."])
    order = reading_order([b, a])  # in any order of retrieval
    assert [order[("d", t)] for t in ("Een.", "Twee zinnen hier.", "Drie is het.")] == [0, 1, 2]
    # a stretch no passage holds is a gap, not a neighbour
    far = replace(b, start=b.start + 5000, end=b.end + 5000, text="Ver weg.")
    assert reading_order([a, far])[("d", "Ver weg.")] > 2


def test_every_chunk_quoting_the_previous_answer_is_an_anchor() -> None:
    doc = _chunks(
        "d", ["Nul hier.", "Het kabinet ziet dat.", "Het koestert niets.", "Vijftig.", "Ver."]
    )
    hits = [Hit(doc[1], 0.9, 1), Hit(doc[2], 0.8, 2)]
    previous = "Het kabinet ziet dat. [1] Het koestert niets. [1]"
    region = previous_answer_region(_Index(doc), hits, previous)  # type: ignore[arg-type]
    assert [h.chunk.row for h in region] == [11, 12, 10, 13]  # anchors, then both neighbours
    out = around_previous_answer(_Index(doc), hits, previous)  # type: ignore[arg-type]
    assert [h.chunk.row for h in out] == [11, 12, 10, 13]


def _follow_up(question: str, previous_q: str, previous_a: str, chunks: list[ChunkRecord]) -> str:
    answerer = ExtractiveAnswerer(FlatEmbedder(), passages_considered=len(chunks))  # type: ignore[arg-type]
    focus = f"{previous_q} {question}"
    reading = Reading(
        question,
        focus,
        "nl",
        chunks,
        answerer.candidates(focus, chunks, question),
        ((previous_q, previous_a),),
    )
    return answerer.follow_up(reading)[0].text


def test_the_amount_before_the_previous_answer_in_the_chunk_before() -> None:
    """The amount asked for sits in the chunk before the previous answer's, and shares its
    rare name (UNOPS); the amount after it is another item, sharing only common names."""
    chunks = _chunks(
        "d",
        [
            "Nederland steunt de hulp met geld. Het kabinet geeft 1,5 miljoen euro aan UNOPS.",
            "Ook helpt Nederland via UNOPS met monitoring. Daarnaast geeft het land 3 miljoen "
            "euro aan het Rode Kruis in Nederland. Verder blijft Nederland diplomatiek actief.",
        ],
    )
    previous = "Ook helpt Nederland via UNOPS met monitoring. [2]"
    # the anchor chunk first, as the service orders them
    best = _follow_up("Hoeveel?", "Hoe helpt Nederland met monitoring?", previous, chunks[::-1])
    assert "1,5 miljoen" in best


def test_why_after_how_many_asks_for_no_number() -> None:
    chunks = _chunks(
        "d",
        [
            "Het is vrijwel uitgesloten dat een vergunning voor wapens wordt verleend.",
            "Sinds 2023 heeft het kabinet elf aanvragen afgewezen. Zie ook Kamerbrief 9 "
            "december 2024 (Kamerstuk 23 432, nr. 544). Daarna volgt iets anders hier.",
        ],
    )
    previous_q = "Hoeveel aanvragen heeft het kabinet afgewezen?"
    previous = "Sinds 2023 heeft het kabinet elf aanvragen afgewezen. [1]"
    answerer = ExtractiveAnswerer(FlatEmbedder(), passages_considered=2)  # type: ignore[arg-type]
    focus = f"{previous_q} En waarom?"
    candidates = answerer.candidates(focus, chunks[::-1], "En waarom?")
    assert not any(c.text.startswith("Zie ook") for c in candidates)  # a pointer, no content
    reading = Reading(
        "En waarom?", focus, "nl", chunks[::-1], candidates, ((previous_q, previous),)
    )
    best = answerer.follow_up(reading)[0]
    assert "vrijwel uitgesloten" in best.text and best.typed


def test_a_sentence_adding_another_point_is_not_the_previous_answers_next() -> None:
    """ "Daarnaast …" right after the previous answer starts another item; the amount
    before the answer (in the chunk before, so ranked lower) is the one asked for."""
    chunks = _chunks(
        "d",
        [
            "Het gaat om 1,5 miljoen euro voor de monitoring.",
            "Ook helpt het kabinet met de monitoring. Daarnaast gaat 3 miljoen euro naar "
            "het rode kruis.",
        ],
    )
    previous = "Ook helpt het kabinet met de monitoring. [1]"
    best = _follow_up("Hoeveel?", "Hoe helpt het kabinet?", previous, chunks[::-1])
    assert "1,5 miljoen" in best


def test_the_previous_answers_rare_name_carries_its_subject() -> None:
    """Two sentences next to the previous answer; the one sharing its rare name (GHF) is
    on its subject, the one sharing a name most sentences have (Nederland) is not."""
    chunks = _chunks(
        "d",
        [
            "Ook helpt Nederland met veel geld. Daar werkt Nederland met de VN samen. De chaos "
            "bij GHF is onacceptabel voor Nederland. Het mechanisme van GHF schiet ernstig "
            "tekort. Zo blijft Nederland actief in de regio."
        ],
    )
    previous = "De chaos bij GHF is onacceptabel voor Nederland. [1]"
    best = _follow_up("Waarom?", "Wat zegt het kabinet over de chaos?", previous, chunks)
    assert "mechanisme van GHF" in best
