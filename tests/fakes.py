"""Test doubles: a scripted chat model that records what it was sent; a flat embedder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage


class ScriptedChatModel(GenericFakeChatModel):
    """Replies with the scripted texts in turn (streamed word by word) and keeps the prompts."""

    seen: list[Any] = []  # noqa: RUF012 (a pydantic field, copied per instance)

    @classmethod
    def replying(cls, *replies: str) -> ScriptedChatModel:
        return cls(messages=iter([AIMessage(r) for r in replies]), seen=[])

    def _stream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[Any]:
        self.seen.append(messages)
        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)


class FlatEmbedder:
    """Every text the same vector: sentence choice rests on words, types and position alone."""

    id = "flat"
    dim = 4

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.tile(np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32), (len(texts), 1))

    def embed_query(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
