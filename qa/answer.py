"""What a question gets back: the events of a streamed answer (`Retrieved`, then `Delta`
pieces, then `Done`) and the `Answer` with its checked citations, as every front end shows
it (`as_json` is the shape of `citeqa ask --json`, the API's extras and MCP's result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.citations import Citation, Claim
from qa.retrieval import Hit


@dataclass(frozen=True)
class Retrieved:
    question: str  # as asked
    standalone: str  # what was searched for
    hits: list[Hit]


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass
class Answer:
    question: str
    standalone: str
    lang: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    evidence: float = 0.0  # the answerability model's probability that the index answers it
    signals: dict[str, float] = field(default_factory=dict)
    # on abstention: the closest passages, offered as related reading, never as citations
    related: list[Hit] = field(default_factory=list)
    # the reader's short answer inside the answer text: (start, end) character offsets
    answer_span: tuple[int, int] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [
                {
                    "n": c.n,
                    "doc_id": c.doc_id,
                    "source": c.source,
                    "title": c.title,
                    "chunk_id": c.chunk_id,
                    "quote": c.quote,
                    "start": c.start,
                    "end": c.end,
                    "supported": c.supported,
                }
                for c in self.citations
            ],
        }
        if self.answer_span is not None:
            start, end = self.answer_span
            out["answer_span"] = {"start": start, "end": end, "text": self.text[start:end]}
        if self.abstained:
            out["related"] = [h.as_json() for h in self.related]
        return out


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Retrieved | Delta | Done


__all__ = ["Answer", "Delta", "Done", "Event", "Retrieved"]
