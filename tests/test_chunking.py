from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.chunking import _normalise, chunk_document, split_sentences
from embeddings.documents import Document, boilerplate_spans, doc_id_for
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
