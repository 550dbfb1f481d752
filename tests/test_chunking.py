from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.chunking import _normalise, chunk_document, split_sentences
from embeddings.cleaning import boilerplate_spans
from embeddings.documents import Document, doc_id_for
from embeddings.embedders import FakeEmbedder

COUNT = FakeEmbedder().count_tokens


def make_doc(text: str) -> Document:
    return Document(
        doc_id=doc_id_for(text),
        source="x.txt",
        title="t",
        lang="en",
        text=text,
        boilerplate=tuple(boilerplate_spans(text)),
    )


def test_sentences_split_on_glued_periods_and_keep_abbreviations() -> None:
    text = "Hij sprak op 25 juli jl. met de pers. Het ging over ontmijnen.Ondertussen reisde hij."
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == [
        "Hij sprak op 25 juli jl. met de pers.",
        "Het ging over ontmijnen.",
        "Ondertussen reisde hij.",
    ]


def test_chunks_respect_the_token_bound_and_overlap() -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(60))
    chunks = chunk_document(make_doc(text), COUNT, max_tokens=40, overlap_tokens=10)
    assert len(chunks) > 5
    assert all(c.n_tokens <= 40 for c in chunks)
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end  # overlap: the next chunk starts inside the previous one
        assert b.end > a.end


def test_a_sentence_longer_than_the_bound_is_split_at_words() -> None:
    text = " ".join(["word"] * 500) + "."
    chunks = chunk_document(make_doc(text), COUNT, max_tokens=50, overlap_tokens=0)
    assert all(c.n_tokens <= 50 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) == 500


def test_chunk_ids_depend_on_content_and_position() -> None:
    doc = make_doc("Alpha beta gamma. Delta epsilon zeta. Eta theta iota.")
    a = chunk_document(doc, COUNT, max_tokens=8, overlap_tokens=0)
    b = chunk_document(doc, COUNT, max_tokens=8, overlap_tokens=0)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)
    other = make_doc("Alpha beta gamma. Delta epsilon zeta. Eta theta iota!")
    assert chunk_document(other, COUNT, 8, 0)[0].chunk_id != a[0].chunk_id


words = st.text(alphabet="abcdefghij ÄëéXYZ.!?\n", min_size=0, max_size=400)


@settings(max_examples=200, deadline=None)
@given(text=words, max_tokens=st.integers(8, 60), overlap=st.integers(0, 7))
def test_offsets_map_back_and_chunks_cover_the_text(
    text: str, max_tokens: int, overlap: int
) -> None:
    doc = make_doc(text)
    chunks = chunk_document(doc, COUNT, max_tokens=max_tokens, overlap_tokens=overlap)
    covered = [False] * len(text)
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text.strip() == c.text and c.text
        for i in range(c.start, c.end):
            covered[i] = True
    # every sentence lands in some chunk, except a long sentence's later repeats
    seen: set[str] = set()
    for s, e in split_sentences(text):
        key = _normalise(text[s:e])
        repeat = len(key) > 20 and key in seen
        seen.add(key)
        if not repeat:
            assert all(covered[i] for i in range(s, e) if not text[i].isspace())


# --- issue 15: chunking is linear in the document -------------------------------------------


class _Counting:
    """A token counter that records how many characters it was asked to count."""

    def __init__(self) -> None:
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.chars += len(text)
        return COUNT(text)


def _no_sentence_breaks(n_words: int) -> str:
    return " ".join(
        f"woord{i % 97} bijv." if i % 7 == 0 else f"tekst{i % 89}" for i in range(n_words)
    )


def test_a_text_without_sentence_breaks_is_counted_a_bounded_number_of_times() -> None:
    """Before: the longest-prefix search counted from each piece to the end of the text, so
    a 20,000-word run was counted ~ (text / piece) x text characters."""
    text = _no_sentence_breaks(20_000)
    counter = _Counting()
    chunks = chunk_document(make_doc(text), counter, max_tokens=100, overlap_tokens=20)
    assert all(c.n_tokens <= 100 for c in chunks) and len(chunks) > 100
    assert counter.chars <= 4 * len(text), counter.chars / len(text)


def test_the_abbreviation_check_reads_only_the_end_of_a_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: each suppressed boundary ("bijv. Word") searched the whole run since the last
    sentence start, quadratic in a text of many abbreviations."""
    import embeddings.chunking as chunking

    real = chunking._ABBREVIATIONS
    scanned = [0]

    class Spy:
        def search(self, text: str, pos: int = 0, endpos: int | None = None):  # type: ignore[no-untyped-def]
            stop = len(text) if endpos is None else endpos
            scanned[0] += stop - pos
            return real.search(text, pos, stop)

    monkeypatch.setattr(chunking, "_ABBREVIATIONS", Spy())
    text = " ".join("zie bijv. Amsterdam of bijv. Rotterdam" for _ in range(3000)) + "."
    spans = split_sentences(text)
    assert spans == [(0, len(text))]  # "bijv. Amsterdam" is no sentence break
    assert scanned[0] <= 2 * len(text)


class _CountingSpans(tuple):  # type: ignore[type-arg]
    """Boilerplate spans that count how often they are walked."""

    walked = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for span in super().__iter__():
            _CountingSpans.walked += 1
            yield span


def test_boilerplate_spans_are_walked_once_not_per_sentence() -> None:
    lines = []
    for i in range(2000):
        lines.append("[Home] [Nieuws] [Contact] [Zoeken]")
        lines.append(f"Zin nummer {i} gaat over onderwerp {i % 13}.")
    text = "\n".join(lines)
    spans = boilerplate_spans(text)
    assert len(spans) == 2000
    doc = make_doc(text)
    doc = Document(
        doc.doc_id, doc.source, doc.title, doc.lang, text, boilerplate=_CountingSpans(spans)
    )
    _CountingSpans.walked = 0
    chunks = chunk_document(doc, COUNT, max_tokens=100, overlap_tokens=20)
    assert chunks and not any("[Home]" in c.text for c in chunks)
    assert _CountingSpans.walked <= 2 * len(spans)


def test_a_word_longer_than_the_bound_is_cut_between_characters() -> None:
    """A base64 blob or a long URL: before, one chunk held it whole, far over the bound."""

    def per_four_chars(text: str) -> int:  # like a subword tokenizer on random characters
        return sum(-(-len(w) // 4) for w in text.split())

    text = "Een zin vooraf. " + "QUJD" * 2000 + " en een zin erna."
    chunks = chunk_document(make_doc(text), per_four_chars, max_tokens=50, overlap_tokens=10)
    assert all(c.n_tokens <= 50 and per_four_chars(c.text) <= 50 for c in chunks)
    assert "".join(c.text for c in chunks if "QUJD" in c.text).count("QUJD") >= 2000
