"""Search behind one small protocol, with the embedded default behind it.

A *search backend* holds chunks (with their document and measure ids and one
vector each) in *versions*, and answers hybrid searches (text + query vector + k
+ filters) with hits per measure that carry their lexical and dense scores and
the best sentence chunks. Two implementations pass the same contract tests
(``tests/test_search_backends.py``):

- :class:`InProcessBackend` (the default): jieba BM25 (bm25s) + FAISS in this
  process, over the versioned index folder of :mod:`index.store` (the layout
  ``policyqa index`` writes), searched by :class:`index.hybrid.HybridSearcher`;
- :class:`index.milvus.MilvusBackend`: Milvus, through pymilvus' ``MilvusClient``
  (Milvus Lite at a local ``.db`` path, or a server / cluster by URI).

Versions. ``create_version`` starts an empty version that is not searched yet;
``upsert`` fills it; ``switch_version`` makes it live in one atomic step (a
rename of the LIVE pointer in-process, an alias in Milvus), so readers see the
old version or the new one, never half of one. ``upsert`` / ``drop_document``
without a version change the live one (in-process: by writing a new version
with the change and switching to it; Milvus: in place).

Upsert replaces whole documents: every document that has a chunk in the call
ends up holding exactly the chunks of that call (so a document that lost
sentences keeps no stale ones). Chunks are identified by (doc_id, chunk_id).

The fused ``MeasureHit.score`` orders the hits of one search, and answers compare it
with the best hit's (``Relevance.keep_with``), so both backends give it on one scale by
default: the linear fusion of :class:`FusionParams` (0 … 1.7), which Milvus computes over
its candidate measures (``Ranker.MEASURES``; its ``rrf`` and ``weighted`` rankers, kept for
comparison, have scales of their own). ``lexical`` and ``dense`` mean the
same everywhere: the best BM25 score of the measure's chunks in bm25s' "lucene"
units (≥ 0; 0 when the lexical side is off or nothing matched), and the best
cosine of its chunks to the query vector (-1 … 1; 0 when the dense side is off).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from urllib.parse import urlsplit, urlunsplit
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from index.chunking import Chunk
from index.hybrid import FusionParams, HybridSearcher, MeasureHit, SearchFilters, SentenceHit

__all__ = [
    "BACKENDS", "SIDES", "BackendUnavailableError", "InProcessBackend", "MeasureHit", "NoLiveVersionError",
    "SearchBackend", "SearchBackendError", "SearchFilters", "SearchRequest", "SentenceHit", "VersionError",
    "VersionInfo", "check_chunks", "collection_prefix", "make_backend", "measure_uid", "public_uri",
    "shared_tokenizer",
]

BACKENDS = ("inprocess", "milvus")
SIDES = ("lexical", "dense")
_NORM_TOLERANCE = 1e-3


# --------------------------------------------------------------------------- errors


class SearchBackendError(Exception):
    """A search backend cannot do what was asked; the message says why and how to fix it."""

    code: int | None = None  # the engine's own error code, when it gave one (Milvus)


class NoLiveVersionError(SearchBackendError):
    """Nothing has been switched live yet: build a version first."""


class VersionError(SearchBackendError):
    """An unknown version was named, or the live one was to be dropped."""


class BackendUnavailableError(SearchBackendError):
    """The backend cannot be reached or is not installed."""


# --------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class SearchRequest:
    """One hybrid search.

    - ``text``: the question as asked (the lexical side tokenizes it, adding the
      policy terms of :mod:`index.expansion` when ``expand``);
    - ``vector``: the question's embedding, shape (dim,) float32, unit norm, from
      the same embedder as the chunks; None: the backend encodes ``text`` itself
      (only needed when the dense side is on);
    - ``k``: at most this many measures, best first;
    - ``filters``: documents and measures allowed / excluded (None: everything;
      an empty ``doc_ids`` or ``measures`` set allows nothing);
    - ``sides``: ``("lexical", "dense")``, or one of them alone (evaluation).
    """

    text: str
    vector: np.ndarray | None = None
    k: int = 5
    filters: SearchFilters | None = None
    sides: tuple[str, ...] = SIDES
    expand: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"text must be a str, got {type(self.text).__name__}")
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        sides = tuple(self.sides)
        if not sides or any(side not in SIDES for side in sides):
            raise ValueError(f"sides must be a non-empty subset of {SIDES}, got {self.sides!r}")
        object.__setattr__(self, "sides", sides)

    def query_vector(self, dim: int) -> np.ndarray | None:
        """The vector as float32 (dim,), checked; None when none was given."""
        if self.vector is None:
            return None
        vector = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        if vector.shape != (dim,):
            raise ValueError(f"the query vector has shape {np.shape(self.vector)}, expected ({dim},)")
        if not np.isfinite(vector).all():
            raise ValueError("the query vector holds NaN or infinite values")
        return vector


@dataclass(frozen=True)
class VersionInfo:
    """One version of a backend: its name, whether it is live, its chunk count and tag."""

    name: str
    live: bool
    chunks: int
    tag: str = ""  # what the builder recorded with it (e.g. the corpus hash)
    created_at: str = ""  # UTC, ISO 8601
    sealed: bool = True  # False: still being filled (in-process: only in this process' memory)


@runtime_checkable
class SearchBackend(Protocol):
    """What the assistant needs from a search engine (see the module docstring)."""

    name: str  # "inprocess" or "milvus": what /health reports

    def create_version(self, user_terms: Sequence[str] = (), tag: str = "") -> str:
        """A new, empty version that is not live; returns its name.

        ``user_terms`` is the jieba user dictionary of the version (kept whole by the
        tokenizer, index and queries alike); ``tag`` is recorded with it (e.g. the corpus hash).
        """
        ...

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, *, version: str | None = None) -> int:
        """Put ``chunks`` with their ``vectors`` (n, dim) float32, unit-norm rows, into ``version``
        (None: the live one), replacing the documents they belong to; returns n.

        Raises ValueError for mismatched shapes, non-normalized vectors or duplicate
        (doc_id, chunk_id); VersionError for an unknown version; NoLiveVersionError when
        ``version`` is None and nothing is live.
        """
        ...

    def drop_document(self, doc_id: str, *, version: str | None = None) -> int:
        """Remove every chunk of ``doc_id`` from ``version`` (None: live); returns how many there were."""
        ...

    def switch_version(self, version: str) -> None:
        """Make ``version`` live, atomically for every reader. Raises VersionError when unknown."""
        ...

    def live_version(self) -> str | None:
        """The name of the live version, None before the first switch."""
        ...

    def versions(self) -> list[VersionInfo]:
        """Every version this backend holds, oldest name first."""
        ...

    def drop_version(self, version: str) -> None:
        """Delete a version that is not live. Raises VersionError for the live one or an unknown one."""
        ...

    def search(self, request: SearchRequest) -> list[MeasureHit]:
        """At most ``request.k`` measures of the live version, best first, each with its
        best sentence chunks. Raises NoLiveVersionError when nothing is live."""
        ...

    def close(self) -> None:
        """Release connections and files; the backend is not used afterwards."""
        ...


# --------------------------------------------------------------------------- shared helpers


def measure_uid(doc_id: str, measure_key: str) -> str:
    """One string per (document, measure), unambiguous whatever the doc_id holds: ``"<len>:<doc_id>/<key>"``."""
    return f"{len(doc_id)}:{doc_id}/{measure_key}"


def check_chunks(chunks: Sequence[Chunk], vectors: np.ndarray, dim: int) -> tuple[list[Chunk], np.ndarray]:
    """``chunks`` as a list and ``vectors`` as C-contiguous float32 (n, dim), checked.

    Raises ValueError when the counts or the dimension differ, when a row is not
    unit-norm (the embedders return normalized rows) or not finite, or when a
    (doc_id, chunk_id) pair occurs twice; TypeError when an item is not a Chunk.
    """
    chunks = list(chunks)
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, Chunk):
            raise TypeError(f"chunks[{i}] is a {type(chunk).__name__}, expected index.chunking.Chunk")
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if data.ndim != 2 or data.shape != (len(chunks), dim):
        raise ValueError(f"vectors have shape {np.shape(vectors)}, expected ({len(chunks)}, {dim}): one row of "
                         f"the embedder's dimension per chunk")
    if len(chunks):
        if not np.isfinite(data).all():
            raise ValueError("vectors hold NaN or infinite values")
        norms = np.linalg.norm(data, axis=1)
        if np.abs(norms - 1.0).max() > _NORM_TOLERANCE:
            raise ValueError(f"vectors must be unit-norm rows (norms {norms.min():.4f} … {norms.max():.4f}); "
                             "the embedders return them normalized")
    seen: set[tuple[str, int]] = set()
    for chunk in chunks:
        pair = (chunk.doc_id, chunk.chunk_id)
        if pair in seen:
            raise ValueError(f"chunk {chunk.chunk_id} of document {chunk.doc_id!r} occurs twice in one upsert")
        seen.add(pair)
    return chunks, data


_TOKENIZERS: dict[tuple[str, ...], object] = {}
_TOKENIZERS_LOCK = threading.Lock()
_TOKENIZERS_KEPT = 4


def shared_tokenizer(user_terms: Sequence[str]):
    """One :class:`index.tokenization.Tokenizer` per user dictionary, shared by every backend of the
    process (jieba takes about a second to load a dictionary); the last few dictionaries are kept."""
    from index.tokenization import Tokenizer

    key = tuple(user_terms)
    with _TOKENIZERS_LOCK:
        tokenizer = _TOKENIZERS.pop(key, None) or Tokenizer(user_terms=key)
        _TOKENIZERS[key] = tokenizer  # most recent last
        while len(_TOKENIZERS) > _TOKENIZERS_KEPT:
            del _TOKENIZERS[next(iter(_TOKENIZERS))]
    return tokenizer


def by_document(chunks: Sequence[Chunk], vectors: np.ndarray) -> dict[str, tuple[list[Chunk], np.ndarray]]:
    """The chunks and vector rows of each document, documents in first-seen order."""
    rows: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        rows.setdefault(chunk.doc_id, []).append(i)
    return {doc_id: ([chunks[i] for i in ids], vectors[ids]) for doc_id, ids in rows.items()}


def public_uri(uri: str | None) -> str | None:
    """``uri`` without what may be secret: no user or password, no query string (``?token=``), no fragment.

    ``http://root:Milvus@milvus.internal:19530/db?token=x`` → ``http://milvus.internal:19530/db``;
    a Milvus Lite file path is returned as it is."""
    if not uri:
        return None
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def collection_prefix(settings) -> str:
    """A Milvus alias for one embedder and corpus, like ``settings.index_root`` is a folder for them.

    ``policyqa_<readable part>_<8 hex>``: letters, digits and underscores only, at most 120 characters.
    """
    root = Path(settings.index_root)
    try:
        key = root.relative_to(Path(settings.home) / "index").as_posix()
    except ValueError:
        key = root.as_posix()
    readable = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")[:80] or "default"
    return f"policyqa_{readable}_{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def make_backend(settings, embedder, *, params: FusionParams | None = None, **options) -> "SearchBackend":
    """The backend ``settings.search`` names (POLICYQA_SEARCH): ``inprocess`` (default) or ``milvus``.

    ``settings`` needs ``search``, ``home``, ``index_root``, ``milvus_uri`` (None: ``home/milvus.db``,
    Milvus Lite) and ``milvus_token``; ``embedder`` encodes the queries that come without a vector;
    ``params`` are the fusion settings (sentences per measure; the in-process fusion). Other
    ``options`` go to :class:`index.milvus.MilvusBackend` (analyzer, ranker, rrf_k, candidates, ...).
    Nothing is opened or connected until first use. Raises ValueError for an unknown backend name.
    """
    kind = (getattr(settings, "search", None) or "inprocess").strip().lower()
    if kind == "inprocess":
        if options:
            raise ValueError(f"options {sorted(options)} only apply to the milvus backend")
        return InProcessBackend(Path(settings.index_root), embedder, params=params)
    if kind == "milvus":
        from index.milvus import MilvusBackend

        uri = getattr(settings, "milvus_uri", None) or str(Path(settings.home) / "milvus.db")
        return MilvusBackend(uri, embedder, token=getattr(settings, "milvus_token", None),
                             prefix=collection_prefix(settings), params=params, **options)
    raise ValueError(f"unknown search backend {settings.search!r} (POLICYQA_SEARCH); use one of {', '.join(BACKENDS)}")


# --------------------------------------------------------------------------- in-process


@dataclass
class _Draft:
    """An in-process version being filled: documents in memory until switched live."""

    name: str
    terms: tuple[str, ...]
    tag: str
    created_at: str
    docs: dict[str, tuple[list[Chunk], np.ndarray]] = field(default_factory=dict)

    def chunk_count(self) -> int:
        return sum(len(chunks) for chunks, _ in self.docs.values())


@dataclass
class _Loaded:
    """One version on disk, loaded: its chunks and vectors (for copy-on-write) and its searcher."""

    name: str
    tag: str
    created_at: str
    terms: tuple[str, ...]
    chunks: list[Chunk]
    vectors: np.ndarray
    searcher: HybridSearcher

    def documents(self) -> dict[str, tuple[list[Chunk], np.ndarray]]:
        return by_document(self.chunks, self.vectors)


class InProcessBackend:
    """jieba BM25 (bm25s) + FAISS in this process, over the versioned index folder of :mod:`index.store`.

    ``root`` is an index root as ``policyqa index`` writes it (``settings.index_root``):
    versions it built are searched as they are, and versions written here open there
    too (their manifest records ``tag`` as the corpus hash). Versions are immutable on
    disk; a version being filled lives in this process' memory until it is switched
    live, which writes it (bm25s + FAISS files, manifest with checksums) beside the
    live one and renames the LIVE pointer. Changing the live version (``upsert`` /
    ``drop_document`` without a version) writes a new version the same way: the cost
    is a rebuild (tokenizing every chunk again: ~20 s per 100,000 chunks), which is
    what the Milvus backend is for at scale.

    The LIVE pointer is read again before every search (one small file read), so a
    switch made by another process (``policyqa index``) is picked up by the next search.
    Thread-safe: searches share one immutable searcher; writes are serialized.
    """

    name = "inprocess"

    def __init__(self, root: Path, embedder, params: FusionParams | None = None):
        self.root = Path(root)
        self.embedder = embedder
        self.params = params or FusionParams()
        self._lock = threading.RLock()
        self._drafts: dict[str, _Draft] = {}
        self._live: _Loaded | None = None

    def __repr__(self) -> str:
        return f"InProcessBackend(root={str(self.root)!r}, live={self.live_version()!r})"

    # -- versions ----------------------------------------------------------------------
    def create_version(self, user_terms: Sequence[str] = (), tag: str = "") -> str:
        with self._lock:
            name = self._new_name(tag)
            self._drafts[name] = _Draft(name, tuple(user_terms), tag, _utc_now())
        return name

    def _new_name(self, tag: str) -> str:
        """A version name unused on disk and in memory (index.store's format: time, then the tag's hash)."""
        from index.store import new_version_name

        digest = hashlib.sha256(tag.encode("utf-8", "surrogateescape")).hexdigest()
        name = new_version_name(digest)
        while name in self._drafts or (self.root / "versions" / name).exists():
            time.sleep(0.001)
            name = new_version_name(digest)
        return name

    def live_version(self) -> str | None:
        from index.store import IndexStoreError, live_version_dir

        try:
            live = live_version_dir(self.root)
        except IndexStoreError as exc:  # an unreadable pointer, or one naming no valid version
            raise SearchBackendError(str(exc)) from exc
        return live.name if live is not None else None

    def versions(self) -> list[VersionInfo]:
        from index.store import IndexStoreError, read_manifest

        live = self.live_version()
        found: dict[str, VersionInfo] = {}
        folder = self.root / "versions"
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if not path.is_dir() or path.name.startswith("."):
                    continue
                try:
                    manifest = read_manifest(path, verify=False)
                except IndexStoreError:
                    continue  # an incomplete folder is not a version
                found[path.name] = VersionInfo(path.name, path.name == live, int(manifest.counts.get("chunks", 0)),
                                               manifest.corpus_hash, manifest.created_at)
        with self._lock:
            for draft in self._drafts.values():
                found[draft.name] = VersionInfo(draft.name, False, draft.chunk_count(), draft.tag, draft.created_at,
                                                sealed=False)
        return [found[name] for name in sorted(found)]

    def switch_version(self, version: str) -> None:
        with self._lock:
            draft = self._drafts.get(version)
            if draft is not None:
                self._live = self._write(draft)
                del self._drafts[version]
                return
            path = self._version_dir(version)
            loaded = self._load(path)  # refuse a corrupt or mismatched version before pointing at it
            _point_live(self.root, version)
            self._live = loaded

    def drop_version(self, version: str) -> None:
        with self._lock:
            if version in self._drafts:
                del self._drafts[version]
                return
            path = self._version_dir(version)
            if version == self.live_version():
                raise VersionError(f"version {version} is live; switch to another version before dropping it")
            shutil.rmtree(path)

    # -- writing -----------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, *, version: str | None = None) -> int:
        chunks, data = check_chunks(chunks, vectors, self.embedder.dim)
        with self._lock:
            docs, commit = self._target(version)
            for doc_id, pair in by_document(chunks, data).items():
                docs.pop(doc_id, None)  # a replaced document moves to the end, as a re-added one would
                docs[doc_id] = pair
            commit(docs)
        return len(chunks)

    def drop_document(self, doc_id: str, *, version: str | None = None) -> int:
        with self._lock:
            docs, commit = self._target(version)
            removed = docs.pop(doc_id, None)
            if removed is None:
                return 0
            commit(docs)
            return len(removed[0])

    def _target(self, version: str | None):
        """The documents of ``version`` (a draft, or the live one) and the function that makes a change stick."""
        if version is not None and version in self._drafts:
            draft = self._drafts[version]

            def keep(docs):
                draft.docs = docs

            return dict(draft.docs), keep
        if version is not None and version != self.live_version():
            self._version_dir(version)  # VersionError when unknown
            raise VersionError(f"version {version} is sealed (written to disk and not live); change the live "
                               "version, or fill a new one from create_version()")
        live = self._current()
        if live is None:
            raise NoLiveVersionError(f"no live version in {self.root}: create a version, fill it and switch to it "
                                     "(or build the index with `policyqa index`)")

        def write_live(docs):  # copy-on-write: the change becomes a new version, switched live
            self._live = self._write(_Draft(self._new_name(live.tag), live.terms, live.tag, _utc_now(), docs))

        return live.documents(), write_live

    def _write(self, draft: _Draft) -> _Loaded:
        """Write a draft as a version beside the live one and make it live (index.store.write_version)."""
        from index.building import CHUNKS, DENSE, LEXICAL, TERMS, VECTORS
        from index.dense import DenseIndex, choose_index_kind
        from index.lexical import LexicalIndex
        from index.store import IndexStoreError, Manifest, write_version

        started = time.perf_counter()
        chunks = [chunk for doc_chunks, _ in draft.docs.values() for chunk in doc_chunks]
        vectors = np.concatenate([rows for _, rows in draft.docs.values()] or
                                 [np.zeros((0, self.embedder.dim), np.float32)]).astype(np.float32)
        tokenizer = shared_tokenizer(draft.terms)
        lexical = LexicalIndex.build([tokenizer(chunk.text) for chunk in chunks])
        dense = DenseIndex.build(vectors, kind=choose_index_kind(len(vectors)))

        def write(folder: Path) -> Manifest:
            (folder / CHUNKS).write_text("".join(json.dumps(c.to_json(), ensure_ascii=False) + "\n" for c in chunks),
                                         encoding="utf-8")
            np.save(folder / VECTORS, vectors)
            dense.save(folder / DENSE)
            lexical.save(folder / LEXICAL)
            (folder / TERMS).write_text(json.dumps(list(draft.terms), ensure_ascii=False), encoding="utf-8")
            return Manifest(
                version=draft.name, created_at=draft.created_at, corpus_hash=draft.tag, files={},
                embedder=self.embedder.name, dim=int(vectors.shape[1]), faiss_kind=dense.kind,
                counts={"documents": len(draft.docs),
                        "measures": len({(c.doc_id, c.measure_key) for c in chunks}),
                        "chunks": len(chunks), "vectors": int(len(vectors))},
                build_seconds=round(time.perf_counter() - started, 3),
            )

        try:
            write_version(self.root, write)
        except IndexStoreError as exc:  # a full disk, an unwritable folder: the message says which
            raise SearchBackendError(str(exc)) from exc
        except OSError as exc:
            raise SearchBackendError(f"cannot write version {draft.name} into {self.root}: {exc}") from exc
        searcher = HybridSearcher(chunks, tokenizer, lexical, dense, self.embedder, self.params)
        return _Loaded(draft.name, draft.tag, draft.created_at, draft.terms, chunks, vectors, searcher)

    # -- reading -----------------------------------------------------------------------
    def _version_dir(self, version: str) -> Path:
        if not isinstance(version, str) or not version or "/" in version or version.startswith("."):
            raise VersionError(f"{version!r} is not a version name")
        path = self.root / "versions" / version
        if not path.is_dir():
            known = ", ".join(v.name for v in self.versions()) or "none"
            raise VersionError(f"no version {version} in {self.root} (versions: {known})")
        return path

    def _current(self) -> _Loaded | None:
        """The live version, loaded again when the LIVE pointer moved (another process switched)."""
        name = self.live_version()
        if name is None:
            return None
        loaded = self._live
        if loaded is not None and loaded.name == name:
            return loaded
        with self._lock:
            if self._live is None or self._live.name != name:
                self._live = self._load(self.root / "versions" / name)
            return self._live

    def _load(self, path: Path) -> _Loaded:
        from index.building import CHUNKS, DENSE, LEXICAL, TERMS, VECTORS
        from index.dense import DenseIndex, DenseIndexError
        from index.lexical import LexicalIndex, LexicalIndexError
        from index.store import IndexStoreError, read_manifest

        hint = "rebuild it with `policyqa index` or switch to another version"
        try:
            manifest = read_manifest(path)
            if manifest.embedder != self.embedder.name or manifest.dim != self.embedder.dim:
                raise VersionError(f"version {path.name} was built with {manifest.embedder} ({manifest.dim} dims), "
                                   f"not {self.embedder.name} ({self.embedder.dim} dims); {hint}")
            chunks = [Chunk(**json.loads(line)) for line in (path / CHUNKS).read_text(encoding="utf-8").splitlines()]
            terms = tuple(json.loads((path / TERMS).read_text(encoding="utf-8")))
            vectors = np.load(path / VECTORS)
            lexical = LexicalIndex.load(path / LEXICAL)
            dense = DenseIndex.load(path / DENSE, expected_dim=manifest.dim, expected_count=len(chunks))
        except (IndexStoreError, DenseIndexError, LexicalIndexError) as exc:
            raise SearchBackendError(str(exc)) from exc
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise SearchBackendError(f"version {path.name} in {path.parent} is unreadable or corrupt ({exc}); "
                                     f"{hint}") from exc
        if lexical.count != len(chunks) or vectors.shape != (len(chunks), manifest.dim):
            raise SearchBackendError(f"version {path.name} is inconsistent (chunk, BM25 and vector counts differ); "
                                     f"{hint}")
        searcher = HybridSearcher(chunks, shared_tokenizer(terms), lexical, dense, self.embedder, self.params)
        return _Loaded(path.name, manifest.corpus_hash, manifest.created_at, terms, chunks, vectors, searcher)

    def search(self, request: SearchRequest) -> list[MeasureHit]:
        live = self._current()
        if live is None:
            raise NoLiveVersionError(f"no live version in {self.root}: build the index with `policyqa index`")
        vector = request.query_vector(self.embedder.dim) if "dense" in request.sides else None
        if not live.chunks:
            return []  # every document was dropped
        params = self.params if request.expand == self.params.expand_lexical else replace(
            self.params, expand_lexical=request.expand)
        return live.searcher.search(request.text, k=int(request.k), filters=request.filters, vector=vector,
                                    params=params, sides=request.sides)

    def close(self) -> None:
        with self._lock:
            self._live = None
            self._drafts.clear()


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _point_live(root: Path, version: str) -> None:
    """Rewrite ``root/LIVE`` to name ``version``: a temporary file renamed over it (atomic)."""
    pointer = root / "LIVE"
    handle, tmp = tempfile.mkstemp(prefix=".LIVE.", dir=root)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(version + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, pointer)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

