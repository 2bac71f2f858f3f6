"""`policyqa index` on every core: the embedding runs beside the tokenizing and gives the same index."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from corpus.loading import load_corpus
from index.building import CHUNKS, VECTORS, build_index
from index.store import IndexStoreError, live_version_dir

SMALL = """小企业扶持办法

一、资金支持
1. 设立专项资金。每年安排资金1000万元，支持中小企业技术改造和设备更新。（市财政局、工业和信息化局按职责分工负责）
2. 扩大信贷投放。鼓励银行扩大首贷、续贷，缓解融资难题。（人民银行威海市分行负责）
二、人才支持
3. 开展技能培训。组织职业技能培训5000人次，缓解招工难。（市人力资源社会保障局负责）
"""


class HashEmbedder:
    """Unit vectors from a hash of the text: deterministic, instant; records the threads that encoded."""

    name = "test:hash"
    dim = 8

    def __init__(self, delay: float = 0.0, fail_after: int | None = None):
        self.delay = delay
        self.fail_after = fail_after
        self.threads: set[str] = set()
        self.encoded = 0

    @staticmethod
    def vector(text: str) -> np.ndarray:
        raw = np.frombuffer(hashlib.sha256(text.encode()).digest()[:32], dtype=np.uint8)[:8].astype(np.float32) + 1
        return raw / np.linalg.norm(raw)

    def encode_queries(self, texts):
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts, progress=None):
        out = []
        for text in texts:
            self.threads.add(threading.current_thread().name)
            if self.fail_after is not None and self.encoded >= self.fail_after:
                raise RuntimeError("the engine failed")
            time.sleep(self.delay)
            out.append(self.vector(text))
            self.encoded += 1
            if progress is not None:
                progress(1)
        return np.stack(out) if out else np.zeros((0, self.dim), np.float32)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "small.txt").write_text(SMALL, encoding="utf-8")
    return folder


def test_parallel_build_embeds_on_another_thread_and_writes_the_same_index(corpus, tmp_path):
    load = load_corpus(corpus)
    serial, parallel = HashEmbedder(), HashEmbedder()
    one = build_index(load, tmp_path / "serial", serial)
    other = build_index(load, tmp_path / "parallel", parallel, parallel=True)
    assert serial.threads == {threading.main_thread().name}
    assert parallel.threads == {"policyqa-embedding"}
    assert (one.path / CHUNKS).read_bytes() == (other.path / CHUNKS).read_bytes()
    np.testing.assert_array_equal(np.load(one.path / VECTORS), np.load(other.path / VECTORS))
    assert one.manifest.embedded == other.manifest.embedded == 3
    assert other.embedded_chars == sum(len(c.text) for c in other.searcher.chunks if c.kind == "sentence")
    assert [h.measure_key for h in one.searcher.search("贷款难", k=3)] == \
           [h.measure_key for h in other.searcher.search("贷款难", k=3)]


def test_parallel_build_reports_progress_for_every_text(corpus, tmp_path):
    counted: list[int] = []
    build_index(load_corpus(corpus), tmp_path / "index", HashEmbedder(), parallel=True,
                progress=lambda total, label: counted.append)
    assert sum(counted) == 3


def test_an_embedding_failure_fails_the_build_and_keeps_the_live_index(corpus, tmp_path):
    root = tmp_path / "index"
    load = load_corpus(corpus)
    live = build_index(load, root, HashEmbedder()).path
    with pytest.raises(RuntimeError, match="engine failed"):
        build_index(load, root, HashEmbedder(fail_after=1), reuse_vectors=False, parallel=True)
    assert live_version_dir(root) == live


def test_a_failure_beside_the_embedding_stops_it(corpus, tmp_path, monkeypatch):
    import index.building as building

    def broken(load):
        raise IndexStoreError("the user terms could not be built")

    monkeypatch.setattr(building, "user_terms_for", broken)
    slow = HashEmbedder(delay=0.05)
    with pytest.raises(IndexStoreError, match="user terms"):
        build_index(load_corpus(corpus), tmp_path / "index", slow, parallel=True)
    # the embedding thread stopped at its next text rather than running on after the failed build
    assert slow.encoded <= 1
    assert not any(t.name == "policyqa-embedding" for t in threading.enumerate())
