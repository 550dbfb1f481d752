"""Where a follow-up is answered: near the previous answer. The chunks that hold its
sentences, the speaker's nearby chunks for "what else did he say?", and their neighbours
come first among the follow-up's hits (`qa.service` reads at most FOLLOW_UP_PASSAGES).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace

from embeddings.chunking import split_sentences
from embeddings.store import Index
from qa.answering import bare
from qa.retrieval import Hit


def has_markers(answer: str) -> bool:
    """Whether an answer cites passages (a refusal cites none)."""
    return re.search(r"(?<!\\)\[\d{1,3}\]", answer) is not None  # "\\[2]": a document's


SPEAKER_WINDOW = 12  # chunks either side of the previous answer's searched for its speaker
FOLLOW_UP_PASSAGES = 8  # at most this many chunks around the previous answer are read


def previous_answer_region(
    index: Index, hits: list[Hit], previous_answer: str, names: Collection[str] = ()
) -> list[Hit]:
    """Where a follow-up is answered: the chunks that hold the previous answer's sentences
    (one answer may span two chunks), then the document's chunks nearby that name `names`
    (the speaker of "what else did he say?"), then the anchors' neighbours. The reason,
    date or amount a follow-up asks for is usually a sentence or two from the previous
    answer, often across a chunk boundary, and the follow-up's own words need not retrieve
    that chunk. Empty when no hit holds a sentence of the previous answer."""
    previous = bare(previous_answer)
    anchors = [
        h
        for h in hits
        if any(bare(h.chunk.text[s:e]) in previous for s, e in split_sentences(h.chunk.text))
    ]
    if not anchors:
        return []
    doc_id = anchors[0].chunk.doc_id  # the best one's document: the previous turn's topic
    anchors = [h for h in anchors if h.chunk.doc_id == doc_id]
    rows = {h.chunk.row for h in anchors}
    ordinals = {h.chunk.ordinal for h in anchors}
    # rows follow a document's chunks in order; the doc_id and ordinal checks make sure
    reach = SPEAKER_WINDOW if names else 1
    near = index.chunks(range(min(rows) - reach, max(rows) + reach + 1))
    same = sorted(
        (n for n in near.values() if n.doc_id == doc_id and n.row not in rows),
        key=lambda n: n.ordinal,
    )
    neighbours = [n for n in same if min(abs(n.ordinal - o) for o in ordinals) == 1]
    speaking = [
        n
        for n in same
        if n not in neighbours
        and any(re.search(rf"\b{re.escape(name)}\b", n.text, re.I) for name in names)
    ]
    return [*anchors, *(Hit(n, 0.0, 0) for n in speaking + neighbours)]


def around_previous_answer(
    index: Index, hits: list[Hit], previous_answer: str, names: Collection[str] = ()
) -> list[Hit]:
    """A follow-up's hits with `previous_answer_region` first, then the other hits;
    unchanged when no hit holds a sentence of the previous answer."""
    return region_first(previous_answer_region(index, hits, previous_answer, names), hits)


def region_first(region: list[Hit], hits: list[Hit]) -> list[Hit]:
    if not region:
        return hits
    taken = {h.chunk.row for h in region}
    ordered = region + [h for h in hits if h.chunk.row not in taken]
    return [replace(h, rank=i) for i, h in enumerate(ordered, start=1)]


__all__ = [
    "FOLLOW_UP_PASSAGES",
    "around_previous_answer",
    "has_markers",
    "previous_answer_region",
    "region_first",
]
