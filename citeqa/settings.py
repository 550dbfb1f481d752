"""One typed settings object for citeqa, nested by concern; env vars use the CITEQA_ prefix.

`CITEQA_INDEX=/path` sets the index directory; nested fields use a double underscore, e.g.
`CITEQA_RETRIEVAL__MODE=dense`. Entry points build it once and pass the parts down; both
`embeddings/` and `qa/` read their parts from here, so each value is defined once.

A preset is a named set of values (`citeqa/presets/NAME.json`), chosen with `--preset NAME`
or `CITEQA_PRESET=NAME`. Each value comes from, lowest first: the defaults here, the preset,
the environment (`CITEQA_*`), the command-line options.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from citeqa.errors import BadInput

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


MAX_FILE_MB = 64  # indexing.max_file_mb's default; also load_document's own limit
MAX_FILE_SECONDS = 30.0  # indexing.max_file_seconds's default; also load_document's own


class IndexingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_file_mb: int = Field(
        MAX_FILE_MB,
        ge=1,
        description="Files larger than this many MiB are skipped, with the reason in the "
        "summary. A limit, because embedding is slow: 200 MB of text is about 580,000 "
        "chunks (the bundled corpus has 350 bytes per chunk), some 9 hours at the 18 "
        "chunks/s measured on 2 cores (docs/measurements.md). Raise it to index bigger files.",
    )
    max_file_seconds: float = Field(
        MAX_FILE_SECONDS,
        gt=0,
        description="A file whose text takes longer than this many seconds to read is "
        "skipped (checked between PDF pages and .docx paragraphs): a small file crafted to "
        "unpack to much text (issue 26) is stopped here. Real files read in well under a "
        "second per MB.",
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
    document_vectors: bool = Field(
        True,
        description="Also embed each document the embedder reads in one window (2 to 6 "
        "passages at the default chunking) whole, for hybrid search's document level. On "
        "a collection of abstracts that is about one more embedding per document; off, "
        "indexing is faster and the mean of the passage vectors stands in (CISI hybrid "
        "nDCG@10 0.434 with them, 0.429 without: docs/retrieval.md).",
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
    granularity: Literal["adaptive", "document", "chunk"] = Field(
        "adaptive",
        description="document: a passage's rank also counts its whole document's ranks "
        "(BM25 over the document, cosine with the document's vector), fused with the "
        "passage's own; adaptive: the same for documents the embedder reads in one window, "
        "while a longer document's passages count their own ranks twice; chunk: passages "
        "alone. Hits are passages either way.",
    )
    document_vector: Literal["length", "best", "mean"] = Field(
        "length",
        description="A document's dense score: best, its best passage's cosine (any passage, "
        "not only the candidates); mean, the cosine with its mean passage vector; length, "
        "for documents the embedder reads whole, the cosine with the document embedded whole "
        "at indexing time (the mean where the index has none), the best passage above.",
    )
    mean_up_to: int | None = Field(
        None,
        ge=1,
        description="document_vector=length: the longest document (in passages) whose "
        "dense score is its whole-document (or mean) vector's; unset, as many passages as "
        "fit the embedder's "
        "window (512 tokens at 100-token passages overlapping 20: 6).",
    )
    document_weight: float = Field(
        1.0,
        ge=0.0,
        description="Weight of a passage's document-level fused score, added "
        "to its passage-level one (granularity=document).",
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
    reader: bool = Field(
        True,
        description="Read the best passages with the trained reader (qa/reader.safetensors, "
        "train/reader.py): it marks the short answer in the quoted sentence.",
    )
    reader_weight: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="How much the reader's probability adds to a sentence's hand-tuned "
        "score when ranking (0: it only marks the short answer). Measured in docs/answers.md: "
        "the shipped reader helps SQuAD-style text and costs the bundled corpus.",
    )
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


def _presets() -> dict[str, Any]:
    folder = resources.files("citeqa") / "presets"
    return {f.name.removesuffix(".json"): f for f in folder.iterdir() if f.name.endswith(".json")}


PRESETS = sorted(_presets())


def preset_values(name: str) -> dict[str, Any]:
    """The values of the preset `name` (nested like the settings)."""
    found = _presets().get(name)
    if found is None:
        raise BadInput(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    values = json.loads(found.read_text(encoding="utf-8"))
    values.pop("description", None)
    return dict(values)


class _PresetSource(PydanticBaseSettingsSource):
    """The values of the preset named by the `preset` argument or CITEQA_PRESET, below the
    environment's (pydantic-settings merges nested values from every source)."""

    def __init__(
        self, settings_cls: type[BaseSettings], init: InitSettingsSource, env: EnvSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self.init, self.env = init, env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ gives the whole preset

    def __call__(self) -> dict[str, Any]:
        name = self.init.init_kwargs.get("preset") or self.env().get("preset")
        return preset_values(name) if name else {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITEQA_", env_nested_delimiter="__", extra="forbid"
    )
    preset: str | None = Field(
        None,
        description="A named set of values below the environment's and the options' "
        "(citeqa/presets/NAME.json): " + ", ".join(PRESETS) + ".",
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
    embed_threads: int | None = Field(
        None,
        ge=1,
        description="Threads the bundled embedder (e5-small-q4) uses; unset: its own "
        "choice (all cores). CITEQA_EMBED_THREADS.",
    )
    compiled_cache: bool = Field(
        True,
        description="Keep the embedder's and the reader's OpenVINO graphs compiled in the "
        "index folder's cache/ (about 100 MB each), so a command starts in about a second "
        "instead of three; safe to delete. CITEQA_COMPILED_CACHE.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        preset = _PresetSource(
            settings_cls,
            cast(InitSettingsSource, init_settings),
            cast(EnvSettingsSource, env_settings),
        )
        return init_settings, env_settings, preset, dotenv_settings, file_secret_settings
