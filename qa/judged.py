"""What a service remembers of the questions it judged: each one's answerability, so that a
follow-up on an answered turn reads the probability that turn had instead of retrieving and
judging it again (`qa.service`). It judges nothing itself.

An entry is the turn as the follow-up names it (its question and the conversation before it)
with everything else the judgement depended on: the index generation, the search options and
the answerer (an LLM condenses a follow-up its own way). A turn it does not hold (a caller
that keeps the conversation itself and asks a service that never saw its first turn) is
judged again by the caller, with the same result.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from qa.query import Turn

MAX_JUDGED = 4096  # turns remembered, least recently used dropped first


class Judged:
    """Answerability by turn, for the follow-ups of one service. Thread-safe."""

    def __init__(self, size: int = MAX_JUDGED) -> None:
        self.size = size
        self._found: OrderedDict[Hashable, tuple[weakref.ref[Any], float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(
        index: Any,
        question: str,
        history: Sequence[Turn],
        options: tuple[int | None, str | None, str | None],
        answerer: Any,
    ) -> Hashable:
        """The turn `question` after `history`, judged on `index` (a loaded generation) with
        `options` (k, mode, lang) and `answerer`."""
        where = (str(index.root), index.generation.name)
        # the conversation by its digest: an entry stays small however long the turns are
        turn = hashlib.sha256(json.dumps([question, list(history)]).encode()).hexdigest()
        return (where, turn, options, answerer.name, id(answerer))

    def get(self, key: Hashable, answerer: Any) -> float | None:
        with self._lock:
            found = self._found.get(key)
            # the same answerer object, not a later one given the same id
            if found is None or found[0]() is not answerer:
                return None
            self._found.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, answerer: Any, probability: float) -> None:
        try:
            ref = weakref.ref(answerer)
        except TypeError:  # an answerer that takes no weak reference: not remembered
            return
        with self._lock:
            self._found[key] = (ref, probability)
            self._found.move_to_end(key)
            while len(self._found) > self.size:
                self._found.popitem(last=False)


__all__ = ["MAX_JUDGED", "Judged"]
