"""Training batches for the reader: examples as tensors, the forward pass and the loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from embeddings.onnx_e5 import InputEmbeddings
from qa.reader import Encoded
from train.model import ReaderModel


def tensors(
    batch: Sequence[Any],
    encoded: Sequence[Encoded],
    embed: InputEmbeddings,
    null_span: bool = True,
) -> dict[str, torch.Tensor]:
    """A batch as the model takes it: inputs, the sentence pooling matrix, labels. A window
    without the answer has its span on the first token (`null_span`), so the span head
    learns to say "none" as well as where."""
    x, mask = embed([e.ids for e in encoded])
    B, L = mask.shape
    n = max(len(ex.sentences) for ex in batch)
    pool = np.zeros((B, n, L), np.float32)
    labels = np.zeros((B, n), np.float32)
    valid = np.zeros((B, n), np.float32)
    passage = np.zeros((B, L), np.float32)
    starts = np.full(B, -100, np.int64)
    ends = np.full(B, -100, np.int64)
    for b, (ex, enc) in enumerate(zip(batch, encoded, strict=True)):
        if enc.word_tokens:
            passage[b, enc.word_tokens[0][0] : enc.word_tokens[-1][1] + 1] = 1.0
        for i, (first, last) in enumerate(enc.sentence_words):
            if first < 0:
                continue
            a, z = enc.word_tokens[first][0], enc.word_tokens[last][1]
            pool[b, i, a : z + 1] = 1.0 / (z + 1 - a)
            labels[b, i] = ex.labels[i]
            valid[b, i] = 1.0
        if null_span:
            passage[b, 0] = 1.0  # the first token: "no answer here" (SQuAD 2.0's null span)
        if ex.answer is not None:
            s, e = ex.answer
            inside = [i for i, (ws, we) in enumerate(enc.words) if ws < e and we > s]
            if inside:
                starts[b] = enc.word_tokens[inside[0]][0]
                ends[b] = enc.word_tokens[inside[-1]][1]
        elif null_span:
            starts[b] = ends[b] = 0
    return {
        "x": torch.from_numpy(x),
        "mask": torch.from_numpy(mask),
        "pool": torch.from_numpy(pool),
        "labels": torch.from_numpy(labels),
        "valid": torch.from_numpy(valid),
        "passage": torch.from_numpy(passage),
        "starts": torch.from_numpy(starts),
        "ends": torch.from_numpy(ends),
    }


def forward(model: ReaderModel, t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(sentence logits [B, n], start/end logits [B, L, 2]) for a batch."""
    return model(t["x"], t["mask"], t["pool"])


def loss_of(
    logits: torch.Tensor,
    edges: torch.Tensor,
    t: dict[str, torch.Tensor],
    window_weight: float = 1.0,
) -> torch.Tensor:
    """Each sentence's answer/no-answer loss, the passage's (does any sentence answer?, on
    the log-sum-exp of its sentences' logits: the abstention decision, which the sentence
    average dilutes over the many easy negatives) and the span's."""
    answer = F.binary_cross_entropy_with_logits(logits, t["labels"], reduction="none")
    answer = (answer * t["valid"]).sum() / t["valid"].sum().clamp(min=1.0)
    if window_weight:
        pooled = torch.logsumexp(logits + (1.0 - t["valid"]) * -1e4, dim=1)
        holds = (t["labels"] * t["valid"]).amax(dim=1)
        answer = answer + window_weight * F.binary_cross_entropy_with_logits(pooled, holds)
    outside = (1.0 - t["passage"]) * -1e4
    start = F.cross_entropy(edges[..., 0] + outside, t["starts"], ignore_index=-100)
    end = F.cross_entropy(edges[..., 1] + outside, t["ends"], ignore_index=-100)
    has_span = bool((t["starts"] >= 0).any())
    return answer + (0.25 * (start + end) if has_span else 0.0)
