"""One typed settings object for citeqa, nested by concern; env vars use the CITEQA_ prefix.

`CITEQA_INDEX=/path` sets the index directory; nested fields use a double underscore, e.g.
`CITEQA_RETRIEVAL__MODE=dense`. Entry points build it once and pass the parts down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["hybrid", "dense", "bm25"]


class ChunkingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_tokens: int = Field(
        100,
        ge=16,
        le=500,
        description="Upper bound of a chunk, in the "
        "embedder's tokens (multilingual-e5-small reads 512 at most).",
    )
    overlap_tokens: int = Field(
        20,
        ge=0,
        le=200,
        description="Trailing sentences, up to this "
        "many tokens, repeated at the start of the next chunk.",
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError(
                f"overlap_tokens ({self.overlap_tokens}) must be below max_tokens "
                f"({self.max_tokens})"
            )
        return self


class IndexingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_file_mb: int = Field(
        64,
        ge=1,
        description="Files larger than this many MiB are skipped, with the reason in the "
        "summary. A limit, because embedding is slow: 200 MB of text is about 580,000 "
        "chunks (the bundled corpus has 350 bytes per chunk), some 17 hours at 9.3 "
        "chunks/s on 2 cores. Raise it to index bigger files.",
    )

    batch_chunks: int = Field(
        5000,
        ge=1,
        description="A long run publishes what it has indexed after this many new chunks "
        "(or batch_minutes), so a killed run loses at most one batch and the next resumes.",
    )
    batch_minutes: float = Field(
        5.0, gt=0, description="...or after this many minutes, whichever comes first."
    )
    progress_seconds: float = Field(
        5.0, gt=0, description="A progress line this often when stderr is not a terminal."
    )

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 2**20


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Mode = Field("hybrid", description="hybrid (dense + BM25 fused), dense, or bm25.")
    k: int = Field(5, ge=1, le=100, description="Passages returned.")
    pool: int = Field(
        100, ge=10, le=5000, description="Candidates each method contributes to fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    fusion: Literal["language", "rrf"] = Field(
        "language",
        description="language: BM25 counts only for passages in the question's "
        "language (others keep their dense rank); rrf: plain reciprocal rank fusion.",
    )
    granularity: Literal["document", "chunk"] = Field(
        "document",
        description="document: a passage's rank also counts its whole document's ranks "
        "(BM25 over the document, cosine with its mean chunk vector), fused with the "
        "passage's own; chunk: passages alone. Hits are passages either way.",
    )
    document_vector: Literal["best", "mean"] = Field(
        "best",
        description="A document's dense score: best, its best passage's cosine (any passage, "
        "not only the candidates); mean, the cosine with its mean passage vector.",
    )
    query_stemming: Literal["language", "both"] = Field(
        "language",
        description="language: each passage meets the question stemmed in the passage's "
        "language, as the passage itself was; both: Dutch and English stems together.",
    )
    dedup_threshold: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Word-set Jaccard above "
        "which a lower-ranked passage is a near-duplicate and dropped.",
    )


class AnswerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answerer: Literal["extractive", "llm"] = Field(
        "extractive", description="Who writes the answer: extractive (offline) or an LLM."
    )
    llm: str = Field(
        "openai:local",
        description="LLM as provider:model (openai:MODEL for any "
        "OpenAI-compatible server, ollama:MODEL).",
    )
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint URL, e.g. "
        "http://127.0.0.1:8080/v1 for llama.cpp's server.",
    )
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the LLM.")
    llm_max_tokens: int = Field(
        400,
        ge=16,
        le=8192,
        description="Longest LLM reply, in tokens (an answer is at most a few sentences; "
        "a small model that rambles is cut off here).",
    )
    max_sentences: int = Field(3, ge=1, le=10, description="Sentences in an extractive answer.")
    min_evidence: float | None = Field(
        None,
        description="Answer only when the answerability model (qa/answerability.json: a "
        "logistic regression over background-relative similarities and the question's "
        "coverage, fitted by bench/answerability.py) gives at least this probability; "
        "below it citeqa refuses and lists the closest passages as related. Unset: the "
        "model's own operating point.",
    )
    min_support: float = Field(
        0.80,
        ge=0.0,
        le=1.0,
        description="Cosine a cited sentence "
        "needs with its passage's closest sentence to count as supported.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITEQA_", env_nested_delimiter="__", extra="forbid"
    )
    index: Path = Field(Path(".citeqa/index"), description="Index directory.")
    embedder: str | None = Field(
        None,
        description="e5-small-q4, sentence-transformers:<model "
        "path>, or fake; unset means the index's own (new: e5-small-q4).",
    )
    chunking: ChunkingConfig = Field(
        default_factory=ChunkingConfig, description="How documents are cut."
    )
    indexing: IndexingConfig = Field(
        default_factory=IndexingConfig, description="Which files are indexed."
    )
    retrieval: RetrievalConfig = Field(
        default_factory=RetrievalConfig, description="How passages are found."
    )
    answer: AnswerConfig = Field(
        default_factory=AnswerConfig, description="How answers are written."
    )
