"""Hybrid search: jieba BM25 and dense vectors, fused at the level of measures.

Every chunk is scored by both sides; a measure takes the best score of its
chunks on each side; the two measure rankings are fused (reciprocal rank
fusion by default, weights tuned by the evaluation). The best sentences of
each measure come along as the evidence to quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from index.chunking import Chunk
from index.expansion import QUERY_FILLER, expansion_terms, lexical_query

DENSE_CANDIDATES = 400  # chunks read from FAISS when the index is too large to score every vector


@dataclass(frozen=True)
class FusionParams:
    method: str = "linear"  # "linear" or "rrf" (measured on the bundled question set: linear 0.7 is best)
    rrf_k: float = 10.0
    lexical_weight: float = 0.7
    dense_weight: float = 1.0
    sentences_per_measure: int = 2
    expand_lexical: bool = True  # add policy terms for lay phrases to the BM25 query
    expand_dense: bool = False  # ... and to the text that is embedded
    drop_filler: bool = True  # drop topic-less question words (政府, 扶持) from the BM25 query


@dataclass(frozen=True)
class SentenceHit:
    chunk: Chunk
    score: float


@dataclass
class MeasureHit:
    doc_id: str
    measure_key: str
    score: float  # fused
    lexical: float  # best BM25 score of its chunks (raw)
    dense: float  # best cosine of its chunks
    sentences: list[SentenceHit] = field(default_factory=list)


@dataclass
class SearchFilters:
    doc_ids: frozenset[str] | None = None
    measures: frozenset[tuple[str, str]] | None = None  # (doc_id, key) allowed
    exclude: frozenset[tuple[str, str]] = frozenset()


class HybridSearcher:
    """Holds one loaded index version; immutable once built, safe to share between threads."""

    def __init__(self, chunks: list[Chunk], tokenizer, lexical, dense, embedder, params: FusionParams | None = None):
        self.chunks = chunks
        self.tokenizer = tokenizer
        self.lexical = lexical
        self.dense = dense
        self.embedder = embedder
        self.params = params or FusionParams()
        keys: dict[tuple[str, str], int] = {}
        for chunk in chunks:
            keys.setdefault((chunk.doc_id, chunk.measure_key), len(keys))
        self.measure_keys = list(keys)
        self.chunk_measure = np.array([keys[(c.doc_id, c.measure_key)] for c in chunks], dtype=np.int64)
        self.is_sentence = np.array([c.kind == "sentence" for c in chunks], dtype=bool)
        # the sentence chunks of each measure, in chunk order, as one slice each (no scan over all chunks)
        sentence_ids = np.flatnonzero(self.is_sentence)
        self._sentence_ids = sentence_ids[np.argsort(self.chunk_measure[sentence_ids], kind="stable")]
        self._sentence_bounds = np.searchsorted(self.chunk_measure[self._sentence_ids],
                                                np.arange(len(self.measure_keys) + 1))
        # the chunks the dense side scores: every sentence, and a whole measure only when it has none
        # (index.building.embedded_chunks: its stored vector is otherwise a mean, not an embedding)
        has_sentences = np.zeros(len(self.measure_keys), dtype=bool)
        has_sentences[self.chunk_measure[self.is_sentence]] = True
        self.dense_scored = self.is_sentence | ~has_sentences[self.chunk_measure]

    # -- the two sides ---------------------------------------------------------------
    def lexical_scores(self, query: str, params: FusionParams | None = None) -> np.ndarray:
        params = params or self.params
        words = self.tokenizer.words(query) if params.expand_lexical else ()
        tokens = self.tokenizer(lexical_query(query, params.expand_lexical, words))
        if params.drop_filler:
            tokens = [t for t in tokens if t not in QUERY_FILLER]
        if not tokens:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.lexical.scores(tokens), dtype=np.float32)

    def encode(self, query: str) -> np.ndarray:
        return self.embedder.encode_queries([query])[0]

    def dense_scores(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of every chunk, shape (n_chunks,) float32; chunks FAISS did not return, and whole
        measures that are scored by their sentences (``dense_scored`` false), get -1."""
        n = len(self.chunks)
        k = n if n <= 20_000 else DENSE_CANDIDATES
        scores, ids = self.dense.search(vector.reshape(1, -1).astype(np.float32), k)
        out = np.full(n, -1.0, dtype=np.float32)
        valid = ids[0] >= 0
        out[ids[0][valid]] = scores[0][valid]
        out[~self.dense_scored] = -1.0
        return out

    # -- fusion ------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, filters: SearchFilters | None = None,
               vector: np.ndarray | None = None, params: FusionParams | None = None,
               sides: tuple[str, ...] = ("lexical", "dense")) -> list[MeasureHit]:
        params = params or self.params
        n_measures = len(self.measure_keys)
        lexical = self.lexical_scores(query, params) if "lexical" in sides else np.zeros(len(self.chunks), np.float32)
        if "dense" in sides:
            if vector is None:
                vector = self.encode(f"{query} {expansion_terms(query)}".strip() if params.expand_dense else query)
            dense = self.dense_scores(vector)
        else:
            dense = np.zeros(len(self.chunks), np.float32)

        best_lex = np.zeros(n_measures, dtype=np.float32)
        np.maximum.at(best_lex, self.chunk_measure, lexical)
        best_dense = np.full(n_measures, -1.0, dtype=np.float32)
        np.maximum.at(best_dense, self.chunk_measure, dense)

        allowed = self._allowed(filters)
        fused = self._fuse(best_lex, best_dense, allowed, params, sides)
        order = self._top(fused, allowed, k)
        lex_max = best_lex.max() if order else 0.0
        hits = []
        for m in order:
            doc_id, key = self.measure_keys[m]
            hit = MeasureHit(doc_id, key, float(fused[m]), float(best_lex[m]), float(best_dense[m]))
            hit.sentences = self._best_sentences(m, lexical, dense, lex_max, params)
            hits.append(hit)
        return hits

    @staticmethod
    def _top(fused: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
        """The k best allowed measures with a positive score; equal scores keep measure order."""
        eligible = np.flatnonzero(allowed & (fused > 0))
        if 0 < k < len(eligible):  # keep the k best and everything tied with the k-th, then sort those
            kth = np.partition(-fused[eligible], k - 1)[k - 1]
            eligible = eligible[-fused[eligible] <= kth]
        return eligible[np.argsort(-fused[eligible], kind="stable")][:k].tolist()

    def _allowed(self, filters: SearchFilters | None) -> np.ndarray:
        allowed = np.ones(len(self.measure_keys), dtype=bool)
        if filters is None:
            return allowed
        for i, (doc_id, key) in enumerate(self.measure_keys):
            if filters.doc_ids is not None and doc_id not in filters.doc_ids:
                allowed[i] = False
            elif filters.measures is not None and (doc_id, key) not in filters.measures:
                allowed[i] = False
            elif (doc_id, key) in filters.exclude:
                allowed[i] = False
        return allowed

    @staticmethod
    def _fuse(lex: np.ndarray, dense: np.ndarray, allowed: np.ndarray, params: FusionParams,
              sides: tuple[str, ...]) -> np.ndarray:
        fused = np.zeros(len(lex), dtype=np.float64)
        if params.method == "rrf":
            for side, scores, weight in (("lexical", lex, params.lexical_weight), ("dense", dense, params.dense_weight)):
                if side not in sides:
                    continue
                candidates = np.where(allowed & (scores > (0 if side == "lexical" else -1)))[0]
                ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
                fused[ranked] += weight / (params.rrf_k + np.arange(1, len(ranked) + 1))
            return fused
        # linear: each side scaled to [0, 1] over the allowed measures
        for side, scores, weight in (("lexical", lex, params.lexical_weight), ("dense", dense, params.dense_weight)):
            if side not in sides or not allowed.any():
                continue
            values = scores[allowed]
            low, high = (0.0 if side == "lexical" else float(values.min())), float(values.max())
            if high > low:
                fused += weight * np.clip((scores - low) / (high - low), 0, 1)
        return fused

    def _best_sentences(self, measure: int, lexical: np.ndarray, dense: np.ndarray, lex_max: float,
                        params: FusionParams) -> list[SentenceHit]:
        ids = self._sentence_ids[self._sentence_bounds[measure]:self._sentence_bounds[measure + 1]]
        if len(ids) == 0:
            return []
        lex = lexical[ids] / lex_max if lex_max > 0 else np.zeros(len(ids))
        score = lex + np.clip(dense[ids], 0, 1)
        order = ids[np.argsort(-score, kind="stable")][: params.sentences_per_measure]
        by_chunk = dict(zip(ids.tolist(), score.tolist()))
        return [SentenceHit(self.chunks[i], float(by_chunk[int(i)])) for i in order]
