"""The answerers by name: `answer.answerer` in the settings picks one (`extractive`, the
offline default, or `llm`). Each is built from the answer settings and the embedder; a new
answerer is one more entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from embeddings.embedders import Embedder
from embeddings.errors import BadInput
from qa.answering import Answerer, ExtractiveAnswerer

if TYPE_CHECKING:
    from qa.settings import AnswerConfig


def _extractive(config: AnswerConfig, embedder: Embedder) -> Answerer:
    return ExtractiveAnswerer(embedder, config.max_sentences)


def _llm(config: AnswerConfig, embedder: Embedder) -> Answerer:
    from qa.llm import LLMAnswerer, load_chat_model

    model = load_chat_model(
        config.llm, config.llm_base_url, config.llm_timeout, config.llm_max_tokens
    )
    return LLMAnswerer(model, config.llm_base_url)


ANSWERERS: dict[str, Callable[[AnswerConfig, Embedder], Answerer]] = {
    "extractive": _extractive,
    "llm": _llm,
}


def load_answerer(config: AnswerConfig, embedder: Embedder) -> Answerer:
    """The answerer `config.answerer` names, built from the answer settings."""
    factory = ANSWERERS.get(config.answerer)
    if factory is None:
        raise BadInput(
            f"Unknown answerer {config.answerer!r}; choose one of: {', '.join(ANSWERERS)}"
        )
    return factory(config, embedder)


__all__ = ["ANSWERERS", "load_answerer"]
