"""The search protocol on Milvus, through pymilvus' ``MilvusClient``.

The same code runs on Milvus Lite (``uri`` a local ``.db`` path: the ``milvus-lite``
package, in this process, for tests and one machine) and on a Milvus server or
cluster (``uri`` such as ``http://host:19530``, ``token`` ``user:password`` or an
API key).

Layout. Every version is one collection, ``<prefix>__<version>``; the live one is
the one the alias ``<prefix>`` points at, so switching is one ``alter_alias``,
atomic for every client. A collection holds one row per chunk:

======================  ============================================================
pk                      ``measure_uid/chunk_id`` (VARCHAR primary key)
doc_id, measure_key     the chunk's document and measure; ``measure_uid`` both in one
chunk_id, kind, ...     the rest of :class:`index.chunking.Chunk` (to rebuild it)
dense_scored            whether the dense side scores the chunk (BOOL; see below)
lex                     the text Milvus' BM25 function reads (VARCHAR with an analyzer)
sparse                  BM25 function output (SPARSE_FLOAT_VECTOR, SPARSE_INVERTED_INDEX)
vector                  the chunk's embedding (FLOAT_VECTOR (dim), HNSW, inner product)
======================  ============================================================

The version's settings (format, embedder, dim, analyzer, user dictionary, tag)
are a collection property (``policyqa.meta``), checked when the version is opened.

Embedded once. As in-process (``HybridSearcher.dense_scored``, ``index.building.embedded_chunks``),
the dense side scores every sentence chunk and a whole-measure chunk only when its measure has
no sentence chunk: the whole measure's stored vector is then the mean of its sentences', not an
embedding. ``upsert`` sets ``dense_scored`` per chunk from the chunks of the call (which hold
whole documents); the dense request of a search filters on it, and a measure's ``dense`` score
is the best cosine of its scored chunks.

Ranking (``ranker``). Answers compare a hit's fused score with the best hit's
(``Relevance.keep_with``: measures within 0.85 of the best are cited beside it), so the
score must be the in-process one, not merely the order. ``Ranker.MEASURES`` (default) does
the in-process fusion (:meth:`index.hybrid.HybridSearcher._fuse`, ``FusionParams``: BM25
scaled by the best measure, cosine min–max scaled over the measures, 0.7 / 1.0) over the
candidate measures: one grouping search per side (``group_by_field="measure_uid"``) gives
the ``candidates`` best measures with their best chunk's score; a measure BM25 did not
return scores 0 when BM25 returned fewer than ``candidates`` (it matched nothing), else
it is looked up when its ceiling could still reach the top k; a measure only BM25 found
gets its cosine from a search restricted to it. Exact when each side returns every measure
of the scope (at most ``candidates``, 1000 by default) and the HNSW search finds each
measure's best chunk (``ef`` = max(128, ``candidates``); exhaustive on the bundled
corpora). Beyond that the dense side's lowest score is the lowest among the candidates
(in-process: among all measures; above 20,000 chunks in-process it is -1 as FAISS then
returns 400 chunks), which weighs the dense side more.

Measured with ``eval/bench_backends.py`` through the answering path (``Context.search``;
``policyqa eval``'s scores), Milvus Lite, 2026-11-30. Choosing on the tune parts,
``multi-2026`` (13 documents, 302 measures, 39 retrieval questions): in-process hit@1 0.821,
hit@3 0.897; ``measures`` with 1000 candidates the same, on every question, and the same
citations in all 90 answers; 300 candidates 0.769 / 0.872 (same top-1 on 35), 100 0.769 /
0.872; ``RRFRanker(20)`` over 100 chunks per side 0.795 / 0.846 (same top-1 on 35, same
citations in 55 of 90 answers: its scores, 0 … 2/21, crowd within 0.85 of the best). On
``weihai-2026`` (1 document, 77 tune questions) every variant but RRF (71 same top-1) equals
in-process. The test parts: docs/scaling.md.

Lexical side (``analyzer``). ``"tokens"`` (default): our
:class:`index.tokenization.Tokenizer`'s tokens (jieba + the corpus' user dictionary +
character bigrams), space-separated in ``lex`` and read by Milvus' ``standard``
tokenizer, which splits only where a character is neither a letter nor a digit
(the same on Milvus Lite and on servers; tokens such as ``7%`` are sent as ``7``):
BM25 scores equal to in-process (ratio 1.00, p5-p95), so the fusion and the refusal
model's features keep their scale. ``"jieba"``: Milvus' own jieba analyzer (search mode,
``dict: ["_default_", *terms]``, our stopwords), ``lex`` the normalized text: BM25 scores
0.41 × in-process (fewer, coarser tokens), the same top-1 as in-process on 138 of 154
questions with RRF; Milvus Lite cuts it with Python jieba (adding the dictionary to the
process' global jieba), servers with jieba-rs. ``Ranker.RRF`` / ``Ranker.WEIGHTED`` use
``hybrid_search`` (``candidates`` chunks per side, default 100) and group the fused chunk
ranking by measure; Milvus' ``WeightedRanker`` normalizes BM25 by arctan, which saturates
at these scores.

For the k measures found, one ``query`` fetches all their chunks with vectors (cosines
computed here, exactly) and one BM25 search restricted to them scores them, so hits
carry the best lexical and dense score of each measure and its best sentences as
in-process. BM25 scores are divided by (k1 + 1): Milvus' formula carries that factor,
bm25s' "lucene" variant does not. A sentence's score divides its BM25 score by the best
measure's in the search's scope (in-process: of every measure; the rrf and weighted
rankers: of the k found) and adds its cosine.

Errors from Milvus become :class:`index.backends.SearchBackendError` (or
``BackendUnavailableError`` when Milvus cannot be reached), saying what to check.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Sequence

import numpy as np

from index.backends import (
    BackendUnavailableError, MeasureHit, NoLiveVersionError, SearchBackendError, SearchFilters, SearchRequest,
    SentenceHit, VersionError, VersionInfo, check_chunks, measure_uid, public_uri, shared_tokenizer,
)
from index.chunking import Chunk
from index.expansion import QUERY_FILLER, lexical_query
from index.hybrid import FusionParams, HybridSearcher
from index.tokenization import DEFAULT_STOPWORDS, Tokenizer, normalize_text

__all__ = ["Analyzer", "MilvusBackend", "Ranker"]


class Analyzer(str, Enum):
    """How the BM25 side cuts text (see the module docstring for the measurement)."""

    TOKENS = "tokens"  # our own Tokenizer's tokens, space-separated (default)
    JIEBA = "jieba"  # Milvus' jieba analyzer with our user dictionary and stopwords


class Ranker(str, Enum):
    """How the BM25 and the dense ranking are fused (see the module docstring for the measurement)."""

    MEASURES = "measures"  # per measure, as in-process (FusionParams: linear 0.7 / 1.0): the default
    RRF = "rrf"  # Milvus' hybrid_search over chunks: reciprocal rank fusion, Σ 1 / (rrf_k + rank)
    WEIGHTED = "weighted"  # Milvus' hybrid_search over chunks: weighted sum of arctan-normalized scores


FORMAT = 2  # 2: the dense_scored field (a version of format 1 is refused: rebuild)
META_PROPERTY = "policyqa.meta"
DEFAULT_RRF_K = 20
DEFAULT_WEIGHTS = (0.7, 1.0)  # lexical, dense: the in-process linear weights
DEFAULT_CANDIDATES = {"measures": 1000, "rrf": 100, "weighted": 100}  # measures (or chunks) per side, by ranker
BM25_K1, BM25_B = 1.2, 0.75  # index.lexical.LexicalIndex's defaults
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 128
MIN_EF = 128
MAX_VARCHAR_BYTES = 65_535
MAX_ROWS = 16_384  # Milvus' limit on the rows of one query or search
INSERT_BATCH = 512
ALIAS_TTL = 5.0  # seconds a resolved alias is trusted before it is looked up again
SEARCH_TIMEOUT = 10.0  # seconds one call of a search may take
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,120}$")
_VERSION = re.compile(r"^v[0-9A-Za-z_]{1,100}$")
_ALNUM = re.compile(r"[^\W_]+")
_MISSING_CODES = {100, 101}  # collection missing / not loaded: the alias moved under us
_OUTPUT = ["pk", "doc_id", "measure_key", "measure_uid", "chunk_id", "kind", "text", "quote", "start", "end",
           "sentence_index", "dense_scored"]
_FIX = "check POLICYQA_MILVUS_URI / POLICYQA_MILVUS_TOKEN and that the Milvus server is running"


@dataclass
class _Version:
    """What this client knows of one collection: name, settings, and the query-side tokenizer."""

    version: str
    collection: str
    meta: dict
    tokenizer: Tokenizer
    resolved_at: float = 0.0


class MilvusBackend:
    """The search protocol (:class:`index.backends.SearchBackend`) on Milvus.

    Parameters: ``uri`` (a ``.db`` path for Milvus Lite, or ``http(s)://host:port``);
    ``embedder`` (its ``dim`` sizes the vector field, its ``name`` is checked on open,
    it encodes queries that come without a vector); ``token``; ``prefix`` (the alias;
    collections are ``<prefix>__<version>``); ``analyzer``, ``ranker``, ``rrf_k``,
    ``weights``, ``candidates`` (see the module docstring); ``params`` (the fusion of
    ``Ranker.MEASURES``, sentences per measure); ``consistency`` (of new collections: ``"Session"``, so a
    client reads its own writes; other clients see them once flushed, which
    ``switch_version`` does before moving the alias); ``timeout`` (seconds to connect; pymilvus' default
    is 10); ``search_timeout`` (seconds each call of a search may take, so that a Milvus that hangs
    fails the question instead of holding it; None: no limit).

    A search returns at most k measures among the ``candidates`` best measures of each side
    (``Ranker.MEASURES``; the other rankers: among the measures of the ``candidates`` best
    chunks of each side; in-process: among all measures). Nothing connects until first use.
    Thread-safe: pymilvus' client is; the cached live version is replaced whole.
    """

    name = "milvus"

    def __init__(self, uri: str, embedder, *, token: str | None = None, prefix: str = "policyqa",
                 analyzer: Analyzer | str = Analyzer.TOKENS, ranker: Ranker | str = Ranker.MEASURES,
                 rrf_k: float = DEFAULT_RRF_K, weights: tuple[float, float] = DEFAULT_WEIGHTS,
                 candidates: int | None = None, params: FusionParams | None = None,
                 consistency: str = "Session", timeout: float | None = None,
                 search_timeout: float | None = SEARCH_TIMEOUT, alias_ttl: float = ALIAS_TTL):
        if not _NAME.match(prefix) or "__" in prefix:
            raise ValueError(f"prefix {prefix!r} must be letters, digits and single underscores, starting with a "
                             "letter or an underscore (it names a Milvus alias)")
        ranker = Ranker(ranker)
        candidates = DEFAULT_CANDIDATES[ranker.value] if candidates is None else candidates
        if isinstance(candidates, bool) or not isinstance(candidates, int) or not 1 <= candidates <= MAX_ROWS:
            raise ValueError(f"candidates must be an integer in 1..{MAX_ROWS}, got {candidates!r}")
        self.uri = str(uri)
        self.where = public_uri(self.uri)  # what messages and /health show: no user, password or query
        self.embedder = embedder
        self.token = token or ""
        self.prefix = prefix
        self.analyzer = Analyzer(analyzer)
        self.ranker = ranker
        self.rrf_k = float(rrf_k)
        self.weights = tuple(float(w) for w in weights)
        self.candidates = candidates
        self.params = params or FusionParams()
        self.consistency = consistency
        self.timeout = timeout
        self.search_timeout = search_timeout
        self.alias_ttl = alias_ttl
        self._client_obj = None
        self._lock = threading.RLock()
        self._live: _Version | None = None

    def __repr__(self) -> str:
        return (f"MilvusBackend(uri={self.where!r}, prefix={self.prefix!r}, analyzer={self.analyzer.value}, "
                f"ranker={self.ranker.value})")

    # -- connection --------------------------------------------------------------------
    @property
    def local(self) -> bool:
        """True for Milvus Lite (a ``.db`` file in this process)."""
        return self.uri.endswith(".db") and "://" not in self.uri

    def _client(self):
        if self._client_obj is not None:
            return self._client_obj
        with self._lock:
            if self._client_obj is None:
                try:
                    from pymilvus import MilvusClient
                except ImportError as exc:
                    raise BackendUnavailableError(
                        f"the milvus search backend needs pymilvus ({exc}); install it with "
                        "`pip install pymilvus milvus-lite` (milvus-lite for a local .db file)") from exc
                uri = self.uri
                if self.local:
                    path = Path(uri).expanduser().resolve()
                    path.parent.mkdir(parents=True, exist_ok=True)
                    uri = str(path)
                    logging.getLogger("jieba").setLevel(logging.WARNING)  # Milvus Lite cuts with Python jieba
                lite_errors = _LiteErrors() if self.local else None
                try:
                    with lite_errors or nullcontext():
                        self._client_obj = MilvusClient(uri=uri, token=self.token, timeout=self.timeout)
                except Exception as exc:  # pymilvus raises MilvusException, grpc errors or ConnectionError
                    reason = self._message(exc)
                    if lite_errors is not None:  # Milvus Lite logs the cause (a traceback) and raises a vaguer error
                        reason += "".join(f" ({self._message(cause)})" for cause in lite_errors.causes)
                        fix = "a Milvus Lite file is open in one process at a time: stop the other process using it, " \
                              "or give this one its own POLICYQA_MILVUS_URI"
                    else:
                        fix = _FIX
                    raise BackendUnavailableError(f"cannot connect to Milvus at {self.where}: {reason}; {fix}") from exc
        return self._client_obj

    def _call(self, what: str, fn, *args, **kwargs):
        """Call the client, turning Milvus' errors into SearchBackendError (saying what failed)."""
        try:
            return fn(*args, **kwargs)
        except SearchBackendError:
            raise
        except Exception as exc:
            from pymilvus.exceptions import MilvusException

            # OSError: a connection refused, reset or timed out below pymilvus
            if isinstance(exc, (MilvusException, OSError)) or type(exc).__module__.startswith("grpc"):
                error = SearchBackendError(f"Milvus at {self.where} failed to {what}: {self._message(exc)}; {_FIX}")
                error.code = getattr(exc, "code", None)
                raise error from exc
            raise

    def _message(self, exc: BaseException) -> str:
        """The error's text, without the URI's credentials or the token should the client echo them."""
        text = _message(exc).replace(self.uri, self.where)
        return text.replace(self.token, "***") if self.token else text

    def close(self) -> None:
        with self._lock:
            if self._client_obj is not None:
                try:
                    self._client_obj.close()
                finally:
                    self._client_obj = None
            self._live = None

    # -- versions ----------------------------------------------------------------------
    def _collection(self, version: str) -> str:
        return f"{self.prefix}__{version}"

    def _version_names(self) -> list[str]:
        names = self._call("list collections", self._client().list_collections)
        start = self.prefix + "__"
        return sorted(n[len(start):] for n in names if n.startswith(start) and _VERSION.match(n[len(start):]))

    def _check_version(self, version: str) -> str:
        if not isinstance(version, str) or not _VERSION.match(version) or version not in self._version_names():
            known = ", ".join(self._version_names()) or "none"
            raise VersionError(f"no version {version!r} under the Milvus alias {self.prefix} (versions: {known})")
        return self._collection(version)

    def create_version(self, user_terms: Sequence[str] = (), tag: str = "") -> str:
        from pymilvus import DataType, Function, FunctionType

        client = self._client()
        terms = list(dict.fromkeys(t for t in (normalize_text(term).strip() for term in user_terms) if t))
        suffix = re.sub(r"[^A-Za-z0-9]", "", tag)[:8]
        with self._lock:
            existing = set(self._version_names())
            while True:
                now = time.time_ns()
                version = time.strftime("v%Y%m%dT%H%M%S", time.gmtime(now / 1e9)) + f"_{now % 1_000_000:06d}"
                version += f"_{suffix}" if suffix else ""
                if version not in existing:
                    break
                time.sleep(0.001)
        dim = int(self.embedder.dim)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=2048)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("measure_key", DataType.VARCHAR, max_length=256)
        schema.add_field("measure_uid", DataType.VARCHAR, max_length=2048)
        schema.add_field("chunk_id", DataType.INT64)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        schema.add_field("quote", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("sentence_index", DataType.INT64)  # -1: none
        schema.add_field("dense_scored", DataType.BOOL)  # the dense side scores it (module docstring)
        schema.add_field("lex", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES, enable_analyzer=True,
                         analyzer_params=self._analyzer_params(terms))
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["lex"],
                                     output_field_names=["sparse"]))
        index = client.prepare_index_params()
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=self._index_params(bm25_k1=BM25_K1, bm25_b=BM25_B))
        index.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                        params=self._index_params(M=HNSW_M, efConstruction=HNSW_EF_CONSTRUCTION))
        meta = {"format": FORMAT, "embedder": self.embedder.name, "dim": dim, "analyzer": self.analyzer.value,
                "user_terms": terms, "tag": tag, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._call(f"create collection {self._collection(version)}", client.create_collection,
                   self._collection(version), schema=schema, index_params=index, consistency_level=self.consistency,
                   properties={META_PROPERTY: json.dumps(meta, ensure_ascii=False)})
        return version

    def _index_params(self, **params) -> dict:
        """Index build parameters. pymilvus sends them as top-level keys, which servers read; Milvus Lite
        reads only a JSON ``params`` key (without it, BM25 ran with its default k1 = 1.5), so it gets both."""
        return {**params, "params": dict(params)} if self.local else params

    def _analyzer_params(self, terms: list[str]) -> dict:
        if self.analyzer is Analyzer.TOKENS:
            return {"tokenizer": "standard"}
        return {"tokenizer": {"type": "jieba", "dict": ["_default_", *terms], "mode": "search", "hmm": True},
                "filter": [{"type": "stop", "stop_words": sorted(DEFAULT_STOPWORDS)}]}

    def _meta(self, collection: str) -> dict:
        described = self._call(f"describe {collection}", self._client().describe_collection, collection)
        raw = (described.get("properties") or {}).get(META_PROPERTY)
        try:
            meta = json.loads(raw) if raw else None
        except ValueError:
            meta = None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SearchBackendError(f"Milvus collection {collection} was not written by this version of policyqa "
                                     f"(no {META_PROPERTY} property of format {FORMAT}); rebuild the index")
        if meta.get("embedder") != self.embedder.name or meta.get("dim") != self.embedder.dim:
            raise SearchBackendError(f"Milvus collection {collection} was built with {meta.get('embedder')} "
                                     f"({meta.get('dim')} dims), not {self.embedder.name} ({self.embedder.dim} "
                                     "dims); rebuild the index with this embedder")
        return meta

    def _open(self, version: str) -> _Version:
        collection = self._collection(version)
        meta = self._meta(collection)
        return _Version(version, collection, meta, shared_tokenizer(meta.get("user_terms", [])), time.monotonic())

    def live_version(self) -> str | None:
        live = self._resolve(force=True)
        return live.version if live else None

    def _alias_target(self) -> str | None:
        client = self._client()
        aliases = self._call("list aliases", client.list_aliases)
        names = aliases.get("aliases", []) if isinstance(aliases, dict) else list(aliases or [])
        if self.prefix not in names:
            return None
        described = self._call(f"describe alias {self.prefix}", client.describe_alias, self.prefix)
        return described.get("collection_name")

    def _resolve(self, force: bool = False) -> _Version | None:
        """The live version; the alias is looked up again after ``alias_ttl`` seconds (another client may
        have switched it) and loaded into memory when it is not (after a restart)."""
        live = self._live
        if live is not None and not force and time.monotonic() - live.resolved_at < self.alias_ttl:
            return live
        collection = self._alias_target()
        if collection is None:
            self._live = None
            return None
        start = self.prefix + "__"
        if not collection.startswith(start):
            raise SearchBackendError(f"the Milvus alias {self.prefix} points at {collection}, which is not one of its "
                                     f"versions ({start}...); point it at a version or choose another prefix")
        if live is not None and live.collection == collection:
            live.resolved_at = time.monotonic()
            return live
        opened = self._open(collection[len(start):])
        self._ensure_loaded(collection)
        self._live = opened
        return opened

    def _ensure_loaded(self, collection: str) -> None:
        client = self._client()
        state = self._call(f"read the load state of {collection}", client.get_load_state, collection)
        if "Loaded" not in str(state.get("state") if isinstance(state, dict) else state):
            self._call(f"load {collection}", client.load_collection, collection)

    def switch_version(self, version: str) -> None:
        client = self._client()
        with self._lock:
            collection = self._check_version(version)
            self._meta(collection)  # refuse another embedder's collection before pointing at it
            self._call(f"flush {collection}", client.flush, collection)
            self._ensure_loaded(collection)
            previous = self._alias_target()
            if previous is None:
                self._call(f"create alias {self.prefix}", client.create_alias, collection, self.prefix)
            elif previous != collection:
                self._call(f"move alias {self.prefix}", client.alter_alias, collection, self.prefix)
            self._live = None
            self._resolve(force=True)
            if previous and previous != collection and previous in self._call("list collections",
                                                                              client.list_collections):
                # the old version stays on disk for a switch back, out of memory
                self._call(f"release {previous}", client.release_collection, previous)

    def versions(self) -> list[VersionInfo]:
        client = self._client()
        target = self._alias_target()
        out = []
        for version in self._version_names():
            collection = self._collection(version)
            try:
                meta = self._meta(collection)
            except SearchBackendError:
                meta = {}
            stats = self._call(f"count {collection}", client.get_collection_stats, collection)
            out.append(VersionInfo(version, collection == target, int(stats.get("row_count", 0)),
                                   meta.get("tag", ""), meta.get("created_at", "")))
        return out

    def drop_version(self, version: str) -> None:
        with self._lock:
            collection = self._check_version(version)
            if collection == self._alias_target():
                raise VersionError(f"version {version} is live; switch to another version before dropping it")
            self._call(f"drop {collection}", self._client().drop_collection, collection)

    def drop_all(self) -> None:
        """Remove the alias and every version under it (not part of the protocol: for tests and benchmarks)."""
        client = self._client()
        with self._lock:
            if self._alias_target() is not None:
                self._call(f"drop alias {self.prefix}", client.drop_alias, self.prefix)
            for version in self._version_names():
                self._call(f"drop {self._collection(version)}", client.drop_collection, self._collection(version))
            self._live = None

    # -- writing -----------------------------------------------------------------------
    def _target(self, version: str | None) -> _Version:
        if version is None:
            live = self._resolve()
            if live is None:
                raise NoLiveVersionError(f"no live version under the Milvus alias {self.prefix}: create a version, "
                                         "fill it and switch to it (or build the index with `policyqa index`)")
            return live
        self._check_version(version)
        live = self._live
        if live is not None and live.version == version:
            return live
        opened = self._open(version)
        self._ensure_loaded(opened.collection)
        return opened

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, *, version: str | None = None) -> int:
        chunks, data = check_chunks(chunks, vectors, self.embedder.dim)
        target = self._target(version)
        client = self._client()
        with_sentences = {(c.doc_id, c.measure_key) for c in chunks if c.kind == "sentence"}
        rows = [self._row(chunk, vector, target,
                          chunk.kind == "sentence" or (chunk.doc_id, chunk.measure_key) not in with_sentences)
                for chunk, vector in zip(chunks, data)]
        stale = self._stale_pks(target.collection, rows)  # before writing: what the new rows leave behind
        for start in range(0, len(rows), INSERT_BATCH):
            self._call(f"upsert into {target.collection}", client.upsert, target.collection,
                       rows[start:start + INSERT_BATCH])
        for start in range(0, len(stale), INSERT_BATCH):
            self._call(f"delete from {target.collection}", client.delete, target.collection,
                       filter=f"pk in {_quote_list(stale[start:start + INSERT_BATCH])}")
        return len(rows)

    def _stale_pks(self, collection: str, rows: list[dict]) -> list[str]:
        """Keys of the chunks these rows' documents hold now and the rows do not replace.

        One count per batch of documents (0 when a new version is being filled), then the keys of
        each document already present; a document is read whole (at most MAX_ROWS chunks).
        """
        new: dict[str, set[str]] = {}
        for row in rows:
            new.setdefault(row["doc_id"], set()).add(row["pk"])
        docs = list(new)
        stale: list[str] = []
        for start in range(0, len(docs), INSERT_BATCH):
            batch = docs[start:start + INSERT_BATCH]
            if not self._count(collection, f"doc_id in {_quote_list(batch)}"):
                continue
            for doc_id in batch:
                held = self._call(f"read keys of {collection}", self._client().query, collection,
                                  filter=f"doc_id == {_quote(doc_id)}", output_fields=["pk"], limit=MAX_ROWS)
                stale.extend(sorted({row["pk"] for row in held} - new[doc_id]))
        return stale

    def _row(self, chunk: Chunk, vector: np.ndarray, target: _Version, dense_scored: bool = True) -> dict:
        uid = measure_uid(chunk.doc_id, chunk.measure_key)
        if target.meta.get("analyzer") == Analyzer.TOKENS.value:  # the version's analyzer, not this client's
            lex = " ".join(_alnum_parts(target.tokenizer(chunk.text)))
        else:
            lex = normalize_text(chunk.text)
        return {"pk": f"{uid}/{chunk.chunk_id}", "doc_id": chunk.doc_id, "measure_key": chunk.measure_key,
                "measure_uid": uid, "chunk_id": int(chunk.chunk_id), "kind": chunk.kind,
                "text": _fit(chunk.text), "quote": _fit(chunk.quote), "start": int(chunk.start), "end": int(chunk.end),
                "sentence_index": -1 if chunk.sentence_index is None else int(chunk.sentence_index),
                "dense_scored": bool(dense_scored), "lex": _fit(lex), "vector": vector.tolist()}

    def _count(self, collection: str, expr: str) -> int:
        rows = self._call(f"count in {collection}", self._client().query, collection, filter=expr,
                          output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def drop_document(self, doc_id: str, *, version: str | None = None) -> int:
        target = self._target(version)
        expr = f"doc_id == {_quote(doc_id)}"
        count = self._count(target.collection, expr)
        if count:
            self._call(f"delete from {target.collection}", self._client().delete, target.collection, filter=expr)
        return count

    # -- searching ---------------------------------------------------------------------
    def search(self, request: SearchRequest) -> list[MeasureHit]:
        live = self._resolve()
        if live is None:
            raise NoLiveVersionError(f"no live version under the Milvus alias {self.prefix}: build the index with "
                                     "`policyqa index`")
        try:
            return self._search(live, request)
        except SearchBackendError as exc:
            if getattr(exc, "code", None) not in _MISSING_CODES:
                raise
            live = self._resolve(force=True)  # switched and dropped or released by another client: once more
            if live is None:
                raise NoLiveVersionError(f"the live version under the Milvus alias {self.prefix} is gone") from exc
            return self._search(live, request)

    def query_words(self, text: str, tokenizer: Tokenizer, analyzer: str, expand: bool) -> str:
        """The lexical query as sent to Milvus: words (or tokens) separated by spaces; "" when none is left."""
        text = lexical_query(text, expand, tokenizer.words(text) if expand else ())
        if analyzer == Analyzer.TOKENS.value:
            return " ".join(_alnum_parts(t for t in tokenizer(text) if t not in QUERY_FILLER))
        return " ".join(w for w in tokenizer.words(text) if w not in QUERY_FILLER and w not in DEFAULT_STOPWORDS)

    def _search(self, live: _Version, request: SearchRequest) -> list[MeasureHit]:
        expr = _filter_expression(request.filters)
        if expr is None:
            return []  # the filters allow nothing
        words = ""
        if "lexical" in request.sides:
            words = self.query_words(request.text, live.tokenizer, live.meta.get("analyzer", ""), request.expand)
        vector = None
        if "dense" in request.sides:
            vector = request.query_vector(self.embedder.dim)
            if vector is None:
                vector = self.embedder.encode_queries([request.text])[0]
        if self.ranker is Ranker.MEASURES:
            return self._search_measures(live, request, expr, words, vector)
        return self._search_chunks(live, request, expr, words, vector)

    def _search_measures(self, live: _Version, request: SearchRequest, expr: str, words: str,
                         vector: np.ndarray | None) -> list[MeasureHit]:
        """Ranker.MEASURES: the in-process fusion (:meth:`index.hybrid.HybridSearcher._fuse`) over the candidate
        measures, each with its exact best BM25 score and cosine (module docstring)."""
        lexical: dict[str, float] = {}
        dense: dict[str, float] = {}
        lexical_whole = dense_whole = True  # the side's search returned every measure it scores (> 0 for BM25)
        if words:
            lexical = self._best_per_measure(live, "lexical", words, expr, self.candidates)
            lexical_whole = len(lexical) < self.candidates
        if vector is not None:
            dense = self._best_per_measure(live, "dense", vector, expr, self.candidates)
            dense_whole = len(dense) < self.candidates
        uids = list(dict.fromkeys([*dense, *lexical]))
        if not uids:
            return []
        if not dense_whole:  # measures only BM25 found: their cosine, from a search restricted to them
            missing = [uid for uid in uids if uid not in dense]
            if missing:
                dense.update(self._best_per_measure(live, "dense", vector, _among(missing), len(missing)))
        cos = np.array([dense.get(uid, -1.0) for uid in uids], dtype=np.float32)
        lex = np.array([lexical.get(uid, 0.0) for uid in uids], dtype=np.float32)
        allowed = np.ones(len(uids), dtype=bool)
        fused = HybridSearcher._fuse(lex, cos, allowed, self.params, request.sides)
        if not lexical_whole:
            # a measure BM25 did not return scores at most the lowest it returned: look up those that could
            # then still reach the top k (the scaling of each side does not depend on them)
            unknown = np.array([uid not in lexical for uid in uids])
            ceiling = lex.copy()
            ceiling[unknown] = min(lexical.values())
            upper = HybridSearcher._fuse(ceiling, cos, allowed, self.params, request.sides)
            kth = np.sort(fused)[::-1][min(int(request.k), len(fused)) - 1]
            missing = [uid for uid, maybe in zip(uids, unknown & (upper >= kth)) if maybe]
            if missing:
                lexical.update(self._best_per_measure(live, "lexical", words, _among(missing), len(missing)))
                lex = np.array([lexical.get(uid, 0.0) for uid in uids], dtype=np.float32)
                fused = HybridSearcher._fuse(lex, cos, allowed, self.params, request.sides)
        order = HybridSearcher._top(fused, allowed, int(request.k))
        if not order:
            return []
        return self._measure_hits(live, [uids[i] for i in order], {uids[i]: float(fused[i]) for i in order}, words,
                                  vector, request.sides, lex_max=float(lex.max()))

    def _best_per_measure(self, live: _Version, side: str, query, expr: str, limit: int) -> dict[str, float]:
        """The best chunk score of each of the ``limit`` best measures on one side (a grouping search):
        BM25 in bm25s' units for "lexical" (``query`` the words), the cosine for "dense" (``query`` the vector)."""
        if side == "lexical":
            field, data, params = "sparse", [query], {"metric_type": "BM25"}
        else:
            field, data = "vector", [query.tolist()]
            params = {"metric_type": "IP", "params": {"ef": max(MIN_EF, limit)}}
            expr = f"({expr}) and dense_scored == true" if expr else "dense_scored == true"
        found = self._call(f"search {live.collection}", self._client().search, live.collection, data=data,
                           anns_field=field, filter=expr, limit=min(limit, MAX_ROWS), output_fields=["measure_uid"],
                           search_params=params, group_by_field="measure_uid", group_size=1,
                           timeout=self.search_timeout)
        best: dict[str, float] = {}
        for hit in found[0] if found else []:
            uid, score = hit["entity"]["measure_uid"], float(hit["distance"])
            # Milvus Lite reports BM25 as a negative distance, servers as a positive score
            score = abs(score) / (BM25_K1 + 1.0) if side == "lexical" else score
            best[uid] = max(score, best.get(uid, score))
        return best

    def _search_chunks(self, live: _Version, request: SearchRequest, expr: str, words: str,
                       vector: np.ndarray | None) -> list[MeasureHit]:
        """Ranker.RRF and Ranker.WEIGHTED: Milvus' own ``hybrid_search`` over chunks, grouped by measure."""
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        routes, kinds = [], []
        if words:
            routes.append(AnnSearchRequest([words], "sparse", {"metric_type": "BM25"}, self.candidates,
                                           expr=expr or None))
            kinds.append("lexical")
        if vector is not None:
            dense_expr = f"({expr}) and dense_scored == true" if expr else "dense_scored == true"
            routes.append(AnnSearchRequest([vector.tolist()], "vector",
                                           {"metric_type": "IP", "params": {"ef": max(MIN_EF, self.candidates)}},
                                           self.candidates, expr=dense_expr))
            kinds.append("dense")
        if not routes:
            return []
        if self.ranker is Ranker.RRF:
            ranker = RRFRanker(self.rrf_k)
        else:
            weight = {"lexical": self.weights[0], "dense": self.weights[1]}
            ranker = WeightedRanker(*[weight[kind] for kind in kinds])
        fused = self._call(f"search {live.collection}", self._client().hybrid_search, live.collection, routes,
                           ranker, limit=self.candidates, output_fields=["measure_uid"], timeout=self.search_timeout)
        best: dict[str, float] = {}
        for hit in fused[0] if fused else []:
            uid = hit["entity"]["measure_uid"]
            if uid not in best:
                best[uid] = float(hit["distance"])
        top = [uid for uid, score in best.items() if score > 0][: int(request.k)]
        if not top:
            return []
        return self._measure_hits(live, top, best, words, vector, request.sides)

    def _measure_hits(self, live: _Version, top: list[str], fused: dict[str, float], words: str,
                      vector: np.ndarray | None, sides: tuple[str, ...],
                      lex_max: float | None = None) -> list[MeasureHit]:
        """Every chunk of the ``top`` measures, with exact per-chunk scores: the cosine from its vector, the
        BM25 score from a search restricted to these measures; then best scores and sentences per measure.

        A sentence's score is its BM25 score divided by ``lex_max`` (None: the best among these chunks)
        plus its cosine, as in-process (where ``lex_max`` is the best of all measures)."""
        client = self._client()
        expr = f"measure_uid in {_quote_list(top)}"
        rows = self._call(f"read chunks of {live.collection}", client.query, live.collection, filter=expr,
                          output_fields=_OUTPUT + (["vector"] if vector is not None else []), limit=MAX_ROWS,
                          timeout=self.search_timeout)
        lexical: dict[str, float] = {}
        if "lexical" in sides and words:
            found = self._call(f"score chunks of {live.collection}", client.search, live.collection, data=[words],
                               anns_field="sparse", filter=expr, limit=min(MAX_ROWS, max(1, len(rows))),
                               output_fields=["pk"], search_params={"metric_type": "BM25"},
                               timeout=self.search_timeout)
            # Milvus Lite reports BM25 as a negative distance, servers as a positive score
            lexical = {hit["entity"]["pk"]: abs(float(hit["distance"])) / (BM25_K1 + 1.0)
                       for hit in (found[0] if found else [])}
        per_measure: dict[str, list[tuple[Chunk, float, float, bool]]] = {uid: [] for uid in top}
        for row in rows:
            chunk = Chunk(chunk_id=int(row["chunk_id"]), doc_id=row["doc_id"], measure_key=row["measure_key"],
                          kind=row["kind"], text=row["text"], quote=row["quote"], start=int(row["start"]),
                          end=int(row["end"]),
                          sentence_index=None if int(row["sentence_index"]) < 0 else int(row["sentence_index"]))
            dense = float(np.dot(np.asarray(row["vector"], dtype=np.float32), vector)) if vector is not None else 0.0
            per_measure[row["measure_uid"]].append((chunk, lexical.get(row["pk"], 0.0), dense,
                                                    bool(row["dense_scored"])))
        if lex_max is None:
            lex_max = max(lexical.values(), default=0.0)
        hits = []
        for uid in top:
            scored = sorted(per_measure[uid], key=lambda item: item[0].chunk_id)
            if not scored:
                continue  # dropped between the two calls
            first = scored[0][0]
            best_lex = max((lex for _, lex, _, _ in scored), default=0.0)
            # only the chunks the dense side scores (a whole measure with sentences is not: module docstring)
            best_dense = max((dense for _, _, dense, counted in scored if counted), default=0.0)
            sentences = [(chunk, (lex / lex_max if lex_max > 0 else 0.0) + min(max(dense, 0.0), 1.0))
                         for chunk, lex, dense, _ in scored if chunk.kind == "sentence"]
            sentences.sort(key=lambda item: -item[1])  # stable: equal scores keep chunk order
            hits.append(MeasureHit(first.doc_id, first.measure_key, fused[uid], best_lex, best_dense,
                                   [SentenceHit(chunk, score)
                                    for chunk, score in sentences[: self.params.sentences_per_measure]]))
        return hits


# --------------------------------------------------------------------------- helpers


class _LiteErrors(logging.Handler):
    """While Milvus Lite starts: keeps the exceptions its logger reports (with a traceback, on stderr
    otherwise), so that the one error raised can say why the file could not be opened."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.causes: list[BaseException] = []
        self._logger = logging.getLogger("milvus_lite")

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.causes.append(record.exc_info[1])

    def __enter__(self) -> "_LiteErrors":
        self._propagate, self._logger.propagate = self._logger.propagate, False
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate



def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]


def _quote(value: str) -> str:
    """A Milvus string literal: double quotes, backslash and quote escaped; line breaks refused."""
    if any(ch in value for ch in "\r\n"):
        raise ValueError(f"{value!r} holds a line break; ids used in Milvus filters cannot")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def _among(uids: Sequence[str]) -> str:
    """The Milvus filter for the chunks of these measures."""
    return f"measure_uid in {_quote_list(uids)}"


def _filter_expression(filters: SearchFilters | None) -> str | None:
    """The Milvus filter for ``filters``: "" for none, None when they allow nothing."""
    if filters is None:
        return ""
    parts = []
    if filters.doc_ids is not None:
        if not filters.doc_ids:
            return None
        parts.append(f"doc_id in {_quote_list(sorted(filters.doc_ids))}")
    if filters.measures is not None:
        if not filters.measures:
            return None
        parts.append(f"measure_uid in {_quote_list(sorted(measure_uid(d, k) for d, k in filters.measures))}")
    if filters.exclude:
        parts.append(f"measure_uid not in {_quote_list(sorted(measure_uid(d, k) for d, k in filters.exclude))}")
    return " and ".join(parts)


def _alnum_parts(tokens) -> list[str]:
    """Tokens split where Milvus' standard tokenizer splits (anything not a letter or digit): 7% → 7."""
    return [part for token in tokens for part in _ALNUM.findall(token)]


def _fit(text: str, limit: int = MAX_VARCHAR_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, at a character boundary (VARCHAR fields are bounded).

    Only whole-measure chunks of very long unstructured records get cut; sentence chunks,
    which hits return, are far shorter.
    """
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")
