"""Dense index: exact results against numpy brute force, HNSW recall, persistence and refusals."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from index.dense import (
    FLAT_LIMIT,
    HNSW_EF_SEARCH,
    DenseIndex,
    DenseIndexError,
    choose_index_kind,
)


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ vectors.T
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray]:
    return unit_vectors(2000, 64, seed=1), unit_vectors(25, 64, seed=2)


@pytest.fixture(scope="module")
def small_hnsw(small) -> DenseIndex:
    return DenseIndex.build(small[0], kind="hnsw")


# --------------------------------------------------------------------------- kind choice


def test_choose_index_kind_thresholds():
    assert FLAT_LIMIT == 50_000
    assert choose_index_kind(0) == "flat"
    assert choose_index_kind(200) == "flat"
    assert choose_index_kind(FLAT_LIMIT - 1) == "flat"
    assert choose_index_kind(FLAT_LIMIT) == "hnsw"
    assert choose_index_kind(10_000_000) == "hnsw"
    with pytest.raises(ValueError):
        choose_index_kind(-1)


def test_build_picks_the_kind_from_the_size(small):
    index = DenseIndex.build(small[0])
    assert (index.kind, index.dim, index.count) == ("flat", 64, 2000)


# --------------------------------------------------------------------------- flat = brute force


@pytest.mark.parametrize("k", [1, 10, 100])
def test_flat_equals_brute_force(small, k):
    vectors, queries = small
    scores, ids = DenseIndex.build(vectors, kind="flat").search(queries, k)
    expected_scores, expected_ids = brute_force(vectors, queries, k)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_fewer_than_k_pads_with_minus_one(small):
    vectors, queries = small
    index = DenseIndex.build(vectors[:5], kind="flat")
    scores, ids = index.search(queries[:3], 8)
    expected_scores, expected_ids = brute_force(vectors[:5], queries[:3], 5)
    np.testing.assert_array_equal(ids[:, :5], expected_ids)
    np.testing.assert_allclose(scores[:, :5], expected_scores, atol=1e-5)
    assert (ids[:, 5:] == -1).all()
    assert np.isneginf(scores[:, 5:]).all()


def test_empty_index_finds_nothing():
    index = DenseIndex.build(np.zeros((0, 16), dtype=np.float32))
    scores, ids = index.search(unit_vectors(2, 16, seed=3), 4)
    assert index.count == 0
    assert (ids == -1).all() and np.isneginf(scores).all()


def test_single_query_as_1d_array(small):
    vectors, queries = small
    index = DenseIndex.build(vectors)
    scores, ids = index.search(queries[0], 3)
    assert ids.shape == (1, 3)
    np.testing.assert_array_equal(ids[0], brute_force(vectors, queries[:1], 3)[1][0])


def test_bad_inputs_are_refused(small):
    vectors, queries = small
    index = DenseIndex.build(vectors)
    with pytest.raises(ValueError, match="k must be"):
        index.search(queries, 0)
    with pytest.raises(ValueError, match="dimension"):
        index.search(queries[:, :32], 5)
    with pytest.raises(ValueError, match="normalized"):
        DenseIndex.build(vectors * 2)
    with pytest.raises(ValueError, match="NaN"):
        DenseIndex.build(np.full((2, 4), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="unknown index kind"):
        DenseIndex.build(vectors, kind="ivf")


def test_search_runs_single_threaded_in_the_calling_thread(small):
    import faiss

    vectors, queries = small
    index = DenseIndex.build(vectors)
    seen: dict[str, int] = {}

    def worker():
        index.search(queries[:1], 5)
        seen["threads"] = faiss.omp_get_max_threads()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["threads"] == 1


# --------------------------------------------------------------------------- HNSW


def hnsw_recall(n: int, dim: int) -> float:
    vectors, queries = unit_vectors(n, dim, seed=4), unit_vectors(100, dim, seed=5)
    index = DenseIndex.build(vectors, kind="hnsw", threads=2)
    assert index.kind == "hnsw"
    _, ids = index.search(queries, 10)
    _, expected = brute_force(vectors, queries, 10)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, expected)]))


def test_hnsw_recall_against_brute_force():
    recall = hnsw_recall(20_000, 32)  # low dimension keeps the build quick; the 384-d case is marked slow
    assert recall >= 0.9, f"HNSW recall@10 {recall:.3f} on 20k random 32-d vectors"


@pytest.mark.slow
def test_hnsw_recall_against_brute_force_at_embedding_dimension():
    recall = hnsw_recall(20_000, 384)
    assert recall >= 0.9, f"HNSW recall@10 {recall:.3f} on 20k random 384-d vectors"


def test_hnsw_scores_are_exact_inner_products(small, small_hnsw):
    vectors, queries = small
    scores, ids = small_hnsw.search(queries, 5)
    assert (ids >= 0).all()
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", queries, vectors[ids]), atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first


# --------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_load_round_trip(tmp_path, small, small_hnsw, kind):
    vectors, queries = small
    index = small_hnsw if kind == "hnsw" else DenseIndex.build(vectors, kind="flat")
    path = tmp_path / "dense.faiss"
    index.save(path)
    assert not list(tmp_path.glob("*.tmp"))
    loaded = DenseIndex.load(path, expected_dim=64, expected_count=2000)
    assert (loaded.kind, loaded.dim, loaded.count) == (kind, 64, 2000)
    if kind == "hnsw":
        assert loaded._index.hnsw.efSearch == HNSW_EF_SEARCH
    for got, want in zip(loaded.search(queries, 10), index.search(queries, 10)):
        np.testing.assert_array_equal(got, want)


def test_save_into_a_missing_folder_fails_clearly(tmp_path, small):
    index = DenseIndex.build(small[0][:10])
    with pytest.raises(DenseIndexError, match="cannot write"):
        index.save(tmp_path / "missing" / "dense.faiss")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, small, small_hnsw) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("saved")
    DenseIndex.build(small[0], kind="flat").save(folder / "flat.faiss")
    small_hnsw.save(folder / "hnsw.faiss")
    return {kind: (folder / f"{kind}.faiss").read_bytes() for kind in ("flat", "hnsw")}


def load_bytes(tmp_path: Path, data: bytes, dim: int = 64, count: int = 2000) -> DenseIndex:
    path = tmp_path / "dense.faiss"
    path.write_bytes(data)
    return DenseIndex.load(path, expected_dim=dim, expected_count=count)


def test_missing_file(tmp_path):
    with pytest.raises(DenseIndexError, match=r"missing.*policyqa index"):
        DenseIndex.load(tmp_path / "nope.faiss", 64, 2000)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DenseIndexError, match="not a file"):
        DenseIndex.load(tmp_path, 64, 2000)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("fraction", [0.0, 0.0001, 0.001, 0.01, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, saved, kind, fraction):
    data = saved[kind]
    cut = data[: int(len(data) * fraction)]
    with pytest.raises(DenseIndexError, match=r"truncated.*policyqa index"):
        load_bytes(tmp_path, cut)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_one_byte_short_or_long(tmp_path, saved, kind):
    with pytest.raises(DenseIndexError, match="truncated"):
        load_bytes(tmp_path, saved[kind][:-1])
    with pytest.raises(DenseIndexError, match="corrupt"):
        load_bytes(tmp_path, saved[kind] + b"\0")


@pytest.mark.parametrize(
    "garbage",
    [
        os.urandom(10_000),
        b"\0" * 10_000,
        b"not a faiss index at all\n" * 100,
        b"IxFI" + os.urandom(10_000),
        b"IHNf" + os.urandom(10_000),
    ],
    ids=["random", "zeros", "text", "flat-magic", "hnsw-magic"],
)
def test_garbage_file(tmp_path, garbage):
    with pytest.raises(DenseIndexError, match=r"(corrupt|truncated).*policyqa index"):
        load_bytes(tmp_path, garbage)


def test_corrupt_hnsw_graph_is_refused(tmp_path, saved):
    """Sizes intact, but a neighbour id points outside the index: FAISS's own check must surface."""
    data = bytearray(saved["hnsw"])
    pos = 4 + 4 + 8 + 8 + 8 + 1 + 4
    for item in (8, 4, 4, 8):  # skip assign_probas, cum_nneighbor_per_level, levels, offsets
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + n * item
    struct.pack_into("<i", data, pos + 8 + 4 * 3, 10**8)  # neighbors[3]
    with pytest.raises(DenseIndexError, match=r"corrupt.*policyqa index"):
        load_bytes(tmp_path, bytes(data))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_dimension_mismatch(tmp_path, saved, kind):
    with pytest.raises(DenseIndexError, match=r"dimension 64.*384.*policyqa index"):
        load_bytes(tmp_path, saved[kind], dim=384)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_count_mismatch(tmp_path, saved, kind):
    with pytest.raises(DenseIndexError, match=r"2000 vectors.*1999.*policyqa index"):
        load_bytes(tmp_path, saved[kind], count=1999)


def test_other_faiss_index_types_are_refused(tmp_path, small):
    import faiss

    l2 = faiss.IndexFlatL2(64)
    l2.add(small[0])
    path = tmp_path / "l2.faiss"
    faiss.write_index(l2, str(path))
    with pytest.raises(DenseIndexError, match="corrupt or not a FAISS index of a kind"):
        DenseIndex.load(path, 64, 2000)


def test_unreadable_file(tmp_path, saved, monkeypatch):
    # chmod cannot make a file unreadable for root (CI runs as root): fake the refusal.
    path = tmp_path / "dense.faiss"
    path.write_bytes(saved["flat"])
    real_open = Path.open

    def refuse(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(DenseIndexError, match="cannot read"):
        DenseIndex.load(path, 64, 2000)
