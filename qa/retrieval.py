"""Find passages: dense (FAISS), BM25, or both fused, with filters and near-duplicate collapse.

Fusion is reciprocal rank fusion made language-aware: BM25 speaks for a candidate only when
the candidate is in the question's language. For a passage in another language its BM25 rank
is noise, so its dense rank stands in for it. On one-language data this is plain RRF; on
purely cross-lingual data it is dense retrieval; on a mixed corpus it is in between.
Hybrid fuses twice, on the passages and on their documents (`qa.doclevel`), and adds the two:
a document whose evidence is spread over its passages climbs, and hits stay passages.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from embeddings.chunking import passages_per_window
from embeddings.embedders import Embedder
from embeddings.errors import BadInput
from embeddings.store import ChunkRecord, Index
from embeddings.stores import LexicalStore
from qa.doclevel import DocumentLevel
from qa.fusion import language_rrf
from qa.query import Query, Turn
from qa.settings import Mode, RetrievalConfig

MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Hit:
    chunk: ChunkRecord
    score: float  # the score that ranked it in this mode
    rank: int
    dense: float | None = None  # cosine similarity
    bm25: float | None = None
    fused: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The fields of a `citeqa search --json` hit (also the API's, MCP's and `related`)."""
        c = self.chunk
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "chunk_id": c.chunk_id,
            "doc_id": c.doc_id,
            "source": c.source,
            "title": c.title,
            "lang": c.lang,
            "text": c.text,
            "start": c.start,
            "end": c.end,
        }


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


class Retriever:
    """Search one loaded index with one embedder. Thread-safe for concurrent searches."""

    def __init__(
        self,
        index: Index | LexicalStore,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
    ):
        if index.embedder != embedder.id:
            from embeddings.store import check_embedder

            check_embedder(index.manifest, embedder.id, index.root)
        # Below, `index` is the embedded store (its BM25 index and SQLite); a store that ranks
        # BM25 itself (Milvus) is searched through `qa.storesearch` before any of that.
        self.index = cast(Index, index)
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._documents: DocumentLevel | None = None
        self._dutch: np.ndarray | None = None

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._query_vectors.clear()

    def embed_query(self, query: str) -> np.ndarray:
        """Query vectors are cached (LRU): modes, follow-ups and evals repeat questions."""
        with self._cache_lock:
            if query in self._query_vectors:
                self._query_vectors.move_to_end(query)
                return self._query_vectors[query]
        vector = self.embedder.embed_query(query)
        with self._cache_lock:
            self._query_vectors[query] = vector
            while len(self._query_vectors) > 2048:
                self._query_vectors.popitem(last=False)
        return vector

    def query(self, text: str, history: Sequence[Turn] = ()) -> Query:
        """`text` (asked after `history`) as a `Query` whose vector comes through this
        retriever's cache."""
        return Query(text, self.embed_query, history)

    def _allowed(self, lang: str | None, source: str | None) -> np.ndarray | None:
        if not lang and not source:
            return None
        return self.index.rows_where(lang=lang, source=source)

    def search(
        self,
        query: str | Query,
        k: int | None = None,
        mode: Mode | None = None,
        lang: str | None = None,
        source: str | None = None,
    ) -> list[Hit]:
        """The `k` best passages for `query` (text, or a `Query` built once by the caller
        and passed on to the answerer)."""
        if isinstance(query, str):
            query = self.query(query.strip())
        if not query.text.strip():
            raise BadInput("The question is empty.")
        mode = mode or self.config.mode
        if mode not in MODES:
            raise BadInput(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        k = k or self.config.k
        pool = max(self.config.pool, 4 * k)
        allowed = self._allowed(lang, source)
        if not isinstance(self.index, Index):  # a LexicalStore: candidates from the store
            from qa import storesearch

            found = storesearch.ranked(self.index, self.config, query, mode, pool, allowed)
            return self._collapse(found, k)
        ranked: list[tuple[int, float, float | None, float | None, float | None]] = []
        if mode == "dense":
            dense = self.index.search(query.vector, pool, allowed)
            ranked = [(r, s, s, None, None) for r, s in dense]
        elif mode == "bm25":
            scores = self.lexical_scores(query)
            ranked = [
                (r, s, None, s, None) for r, s in self.index.lexical.top(scores, pool, allowed)
            ]
        else:
            ranked = self._hybrid(query, pool, allowed)
        return self._collapse(ranked, k)

    def _dutch_rows(self) -> np.ndarray:
        """Which chunks (aligned with the lexical index's rows) were analysed as Dutch."""
        with self._cache_lock:
            if self._dutch is None:
                dutch = self.index.rows_where(lang="nl")
                self._dutch = np.isin(self.index.lexical.rows, dutch)
            return self._dutch

    def lexical_scores(
        self, query: str | Query, documents: DocumentLevel | None = None
    ) -> np.ndarray:
        """BM25 of every chunk (or of every document), each matched with the question stemmed
        in its own language, as it was itself analysed (`query_stemming=language`), or with
        Dutch and English stems together (`both`)."""
        if isinstance(query, str):
            query = self.query(query)
        lexical = documents.lexical if documents is not None else self.index.lexical
        if self.config.query_stemming == "both":
            return lexical.scores(query.repeated_terms)
        dutch = documents.dutch if documents is not None else self._dutch_rows()
        english = lexical.scores(query.terms_in("en"))
        if not dutch.any():
            return english
        return np.where(dutch, lexical.scores(query.terms_in("nl")), english)

    def documents(self) -> DocumentLevel:
        """The index's document-level signals, built on first use (one pass over the counts)."""
        with self._cache_lock:
            if self._documents is None:
                self._documents = DocumentLevel(self.index)
            return self._documents

    def mean_up_to(self) -> int:
        """The longest document (in passages) whose dense score is its whole-document
        vector's (`document_vector=length`; stored at indexing time, or else the mean of its
        passage vectors): by default, as many passages as the embedder reads in one window.
        Beyond that no embedding of the whole document exists and the mean blurs the passage
        that answers, so such a document is scored by its best passage."""
        if self.config.mean_up_to is not None:
            return self.config.mean_up_to
        chunking = self.index.manifest.get("chunking") or {}
        return passages_per_window(
            int(getattr(self.embedder, "max_tokens", 512)),
            int(chunking.get("max_tokens", 100)),
            int(chunking.get("overlap_tokens", 0)),
        )

    def _hybrid(
        self, query: Query, pool: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float, float | None, float | None, float | None]]:
        vector = query.vector
        dense = self.index.search(vector, pool, allowed)
        question_lang = query.lang if self.config.fusion != "rrf" else None
        scores = self.lexical_scores(query)
        lexical = self.index.lexical.top(scores, pool, allowed)
        docs = self.documents() if self.config.granularity != "chunk" else None
        doc_bm25 = self.lexical_scores(query, docs) if docs is not None else None
        # adaptive: a document longer than the embedder's window is no unit at the document
        # level (its BM25 sum favours all its passages, its vector blurs them)
        short = (
            docs.passage_counts() <= self.mean_up_to()
            if docs is not None and self.config.granularity == "adaptive"
            else None
        )
        if doc_bm25 is not None and short is not None:
            doc_bm25 = np.where(short, doc_bm25, 0.0)  # so it adds no candidates by its sum
        extra = self._best_chunks(docs, doc_bm25, scores, pool, allowed) if docs else []
        candidates = list(dict.fromkeys([r for r, _ in dense] + [r for r, _ in lexical] + extra))
        if not candidates:
            return []
        # Exact scores of every candidate on both signals, then ranks within the pool.
        dense_scores = dict(dense)
        missing = [r for r in candidates if r not in dense_scores]
        if missing:
            for r, v in zip(missing, self.index.vectors(missing), strict=True):
                dense_scores[r] = float(v @ vector)
        bm25_scores = self.index.lexical.at(scores, candidates)
        langs = self.index.languages_of(candidates)
        # names and numbers are spelled alike in Dutch and English: across languages, BM25
        # on those terms alone is evidence, where BM25 on the whole question is noise (a
        # second BM25 pass, so only when some candidate is in another language)
        crossing = question_lang and any(langs.get(r) != question_lang for r in candidates)
        neutral = query.neutral_terms if crossing else []
        neutral_scores = (
            self.index.lexical.at(self.index.lexical.scores(neutral), candidates) if neutral else {}
        )
        same = {r: question_lang is None or langs.get(r) == question_lang for r in candidates}
        fused = language_rrf(
            candidates, dense_scores, bm25_scores, neutral_scores, same, self.config.rrf_k
        )
        if docs is not None and doc_bm25 is not None:
            # the same fusion once more, on the candidates' documents; a passage gets both
            doc_of = docs.docs_of(candidates)
            by_doc: dict[int, list[int]] = {}
            for r in candidates:
                by_doc.setdefault(doc_of[r], []).append(r)
            if short is not None:  # a long document's passages count their own score twice
                by_doc = {d: rows for d, rows in by_doc.items() if short[d]}
            # a one-passage document's vector is its passage's: reuse the exact score
            single = {d: rows[0] for d, rows in by_doc.items() if len(docs.rows_of(d)) == 1}
            doc_dense = docs.dense(
                vector,
                (d for d in by_doc if d not in single),
                self.config.document_vector,
                self.mean_up_to(),
            )
            doc_dense.update((d, dense_scores[r]) for d, r in single.items())
            doc_neutral = docs.bm25(neutral) if neutral else None
            doc_fused = language_rrf(
                list(by_doc),
                doc_dense,
                {d: float(doc_bm25[d]) for d in by_doc},
                {d: float(doc_neutral[d]) for d in by_doc} if doc_neutral is not None else {},
                {d: any(same[r] for r in rows) for d, rows in by_doc.items()},
                self.config.rrf_k,
            )
            w = self.config.document_weight
            fused = {r: fused[r] + w * doc_fused.get(doc_of[r], fused[r]) for r in candidates}
        out: list[tuple[int, float, float | None, float | None, float | None]] = [
            (r, fused[r], dense_scores[r], bm25_scores.get(r, 0.0), fused[r]) for r in candidates
        ]
        out.sort(key=lambda t: -t[1])
        return out

    def _best_chunks(
        self,
        docs: DocumentLevel,
        doc_bm25: np.ndarray | None,
        scores: np.ndarray,
        pool: int,
        allowed: np.ndarray | None,
    ) -> list[int]:
        """The best BM25 passage of each of the `pool` best documents by document BM25, so a
        document whose words are spread over its passages becomes a candidate."""
        if doc_bm25 is None:
            return []
        n = min(pool, int((doc_bm25 > 0).sum()))
        if n <= 0:
            return []
        top = np.argpartition(-doc_bm25, n - 1)[:n]
        out = []
        for d in top[np.argsort(-doc_bm25[top], kind="stable")]:
            rows = docs.rows_of(int(d))
            if allowed is not None:
                rows = rows[np.isin(rows, allowed)]
            if len(rows):
                chunk_scores = self.index.lexical.at(scores, rows.tolist())
                out.append(max(rows.tolist(), key=lambda r: chunk_scores.get(r, 0.0)))
        return out

    def _collapse(
        self, ranked: Sequence[tuple[int, float, float | None, float | None, float | None]], k: int
    ) -> list[Hit]:
        """Keep the best of near-duplicate passages (copies of one text in several files)."""
        if not ranked:
            return []
        records = self.index.chunks(r for r, *_ in ranked[: 4 * k])
        hits: list[Hit] = []
        kept_words: list[set[str]] = []
        for row, score, dense, bm25, fused in ranked:
            record = records.get(row)
            if record is None:
                continue
            words = _words(record.text)
            if any(
                len(words & w) / max(1, len(words | w)) >= self.config.dedup_threshold
                for w in kept_words
            ):
                continue
            kept_words.append(words)
            hits.append(Hit(record, score, len(hits) + 1, dense, bm25, fused))
            if len(hits) == k:
                break
        return hits
