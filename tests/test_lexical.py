"""BM25 index: known rankings, scores checked against the formula by brute force, persistence."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.lexical import LexicalIndex, LexicalIndexError
from index.tokenization import Tokenizer, build_user_terms, quoted_terms

SEED = Path(__file__).resolve().parents[1] / "corpus" / "documents" / "weihai-2026-industrial-action-plan.txt"

# A tiny corpus whose answers are known.
DOCS = [
    ["贷款", "融资", "银行", "贷款"],  # 0 finance
    ["智能", "工厂", "智能", "制造", "工厂", "数字化"],  # 1 smart factories
    ["人才", "培训", "技能", "人才"],  # 2 skills
    ["绿色", "工厂", "节能"],  # 3 green factories (short)
    ["出口", "展会", "跨境", "电商", "工厂", "海外仓", "物流"],  # 4 export (long)
]


def brute_force_bm25(docs: list[list[str]], query: list[str], k1: float, b: float) -> np.ndarray:
    """bm25s' default variant, "lucene", written out term by term.

    idf = ln(1 + (N - df + 0.5) / (df + 0.5)); tf part = tf / (tf + k1 (1 - b + b |d| / avgdl));
    each query token counts once per occurrence in the query.
    """
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    df = Counter(token for d in docs for token in set(d))
    scores = np.zeros(n)
    for i, doc in enumerate(docs):
        tf = Counter(doc)
        for token in query:
            if tf[token] == 0:
                continue
            idf = math.log(1 + (n - df[token] + 0.5) / (df[token] + 0.5))
            scores[i] += idf * tf[token] / (tf[token] + k1 * (1 - b + b * len(doc) / avgdl))
    return scores


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build(DOCS)


# ranking and scores ----------------------------------------------------------------------


def test_known_rankings(index):
    ids, scores = index.search(["智能", "工厂"], k=5)
    assert ids.tolist() == [1, 3, 4]  # the short green-factory doc beats the long export doc
    assert np.all(np.diff(scores) <= 0)
    assert index.search(["贷款"], k=5)[0].tolist() == [0]
    assert index.search(["技能", "培训"], k=1)[0].tolist() == [2]
    assert index.search(["海外仓", "工厂"], k=5)[0][0] == 4


def test_scores_match_brute_force_formula(index):
    query = ["智能", "工厂", "节能", "不存在的词", "工厂"]
    expected = brute_force_bm25(DOCS, query, k1=1.2, b=0.75)
    np.testing.assert_allclose(index.scores(query), expected, rtol=1e-5, atol=1e-6)
    ids, scores = index.search(query, k=10)
    np.testing.assert_allclose(scores, expected[ids], rtol=1e-5)


def test_k1_and_b_are_used():
    index = LexicalIndex.build(DOCS, k1=2.0, b=0.3)
    query = ["工厂", "人才"]
    np.testing.assert_allclose(index.scores(query), brute_force_bm25(DOCS, query, 2.0, 0.3), rtol=1e-5)


_token = st.sampled_from(["a", "b", "c", "d", "e", "工厂", "贷款"])


@settings(max_examples=100, deadline=None)
@given(
    docs=st.lists(st.lists(_token, max_size=8), min_size=1, max_size=8).filter(lambda ds: any(ds)),
    query=st.lists(st.sampled_from(["a", "b", "c", "工厂", "z"]), max_size=5),
)
def test_scores_match_brute_force_on_random_corpora(docs, query):
    index = LexicalIndex.build(docs)
    scores = index.scores(query)
    assert scores.shape == (len(docs),)
    assert np.all(scores >= 0)
    np.testing.assert_allclose(scores, brute_force_bm25(docs, query, 1.2, 0.75), rtol=1e-4, atol=1e-6)


def test_search_limits(index):
    ids, scores = index.search(["工厂"], k=100)  # k beyond the corpus: every matching document
    assert sorted(ids.tolist()) == [1, 3, 4]
    assert index.search(["工厂"], k=2)[0].tolist() == [1, 3]
    assert len(index.search(["工厂"], k=0)[0]) == 0
    assert ids.dtype == np.int64 and np.all(scores > 0)


def test_equal_scores_keep_id_order():
    index = LexicalIndex.build([["x", "y"], ["z", "w"], ["x", "y"], ["x", "y"]])
    assert index.search(["x"], k=10)[0].tolist() == [0, 2, 3]


@pytest.mark.parametrize("query", [[], ["不存在"], ["", " "], ["不存在", "也不存在"]])
def test_empty_and_unknown_queries_give_empty_results(index, query):
    ids, scores = index.search(query, k=3)
    assert len(ids) == 0 and len(scores) == 0
    assert index.scores(query).tolist() == [0.0] * index.count


def test_wrong_input_types_are_refused(index):
    with pytest.raises(TypeError):
        LexicalIndex.build(["贷款 融资", "人才"])
    with pytest.raises(TypeError):
        index.search("工厂", k=3)


def test_documents_without_tokens():
    index = LexicalIndex.build([[], ["工厂"], []])
    assert index.count == 3
    assert index.search(["工厂"], k=5)[0].tolist() == [1]
    nothing = LexicalIndex.build([[], []])
    assert nothing.count == 2 and len(nothing.search(["工厂"], k=5)[0]) == 0
    assert LexicalIndex.build([]).scores(["工厂"]).shape == (0,)


# persistence -------------------------------------------------------------------------------


def test_save_load_round_trip(index, tmp_path):
    folder = tmp_path / "lexical"
    index.save(folder)
    assert (folder / "vocab.index.json").is_file()  # the vocabulary travels with the index
    loaded = LexicalIndex.load(folder)
    assert loaded.count == index.count
    assert loaded.vocabulary_size == index.vocabulary_size
    assert (loaded.k1, loaded.b) == (index.k1, index.b)
    for query in (["智能", "工厂"], ["贷款"], ["不存在"], [], ["工厂", "人才", "海外仓"]):
        np.testing.assert_array_equal(loaded.scores(query), index.scores(query))
        for got, want in zip(loaded.search(query, k=3), index.search(query, k=3)):
            np.testing.assert_array_equal(got, want)


def test_save_load_round_trip_of_an_index_without_tokens(tmp_path):
    LexicalIndex.build([[], []]).save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical")
    assert loaded.count == 2 and len(loaded.search(["工厂"], k=1)[0]) == 0


def _saved(index: LexicalIndex, folder: Path) -> Path:
    index.save(folder)
    return folder


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:20])


def _drop_vocab_entry(path: Path) -> None:
    vocab = json.loads(path.read_text(encoding="utf-8"))
    vocab.pop(next(iter(vocab)))
    path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")


def _set_meta(path: Path, **changes) -> None:
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(changes)
    path.write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda f: (f / "lexical.json").unlink(), id="no-manifest"),
        pytest.param(lambda f: (f / "vocab.index.json").unlink(), id="no-vocabulary"),
        pytest.param(lambda f: (f / "data.csc.index.npy").unlink(), id="no-scores"),
        pytest.param(lambda f: _truncate(f / "data.csc.index.npy"), id="truncated-scores"),
        pytest.param(lambda f: _truncate(f / "indptr.csc.index.npy"), id="truncated-indptr"),
        pytest.param(lambda f: (f / "vocab.index.json").write_text("{not json"), id="vocabulary-not-json"),
        pytest.param(lambda f: (f / "params.index.json").write_text(""), id="params-empty"),
        pytest.param(lambda f: (f / "lexical.json").write_text("[1, 2"), id="manifest-not-json"),
        pytest.param(lambda f: _set_meta(f / "lexical.json", format=99), id="manifest-other-format"),
        pytest.param(lambda f: _set_meta(f / "lexical.json", count=7), id="manifest-wrong-count"),
        pytest.param(lambda f: _drop_vocab_entry(f / "vocab.index.json"), id="vocabulary-short"),
        pytest.param(
            lambda f: np.save(f / "indices.csc.index.npy", np.full(20, 99, dtype=np.int32)),
            id="indices-out-of-range",
        ),
    ],
)
def test_damaged_index_raises_lexical_index_error(index, tmp_path, damage):
    folder = _saved(index, tmp_path / "lexical")
    damage(folder)
    with pytest.raises(LexicalIndexError, match="policyqa index"):
        LexicalIndex.load(folder)


def test_missing_folder_raises_lexical_index_error(tmp_path):
    with pytest.raises(LexicalIndexError, match="rebuild with `policyqa index`"):
        LexicalIndex.load(tmp_path / "nowhere")


# with the real tokenizer on the seed document ------------------------------------------------


@pytest.fixture(scope="module")
def seed_measures() -> list[str]:
    """The 21 measures, split on lines that start with a number and a dot."""
    text = SEED.read_text(encoding="utf-8")
    measures: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if re.match(r"^\d+\.", line):
            current = [line]
            measures.append(current)  # type: ignore[arg-type]
        elif re.match(r"^[一二三四五六七八九十]、", line):
            current = None
        elif current is not None:
            current.append(line)
    return ["".join(parts) for parts in measures]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def seed_tokenizer(seed_measures) -> Tokenizer:
    text = SEED.read_text(encoding="utf-8")
    titles = [measure.split("。")[0] for measure in seed_measures]
    return Tokenizer(build_user_terms(titles, ["市工业和信息化局"], quoted_terms(text)))


@pytest.fixture(scope="module")
def seed_index(seed_measures, seed_tokenizer) -> LexicalIndex:
    return LexicalIndex.build([seed_tokenizer(measure) for measure in seed_measures])


@pytest.mark.parametrize(
    ("question", "measures"),
    [
        ("智能工厂有哪些支持？", {9}),
        ("贷款难怎么办？", {14}),
        ("我们想出口，有什么帮助？", {12, 13}),
        ("怎么申报专精特新企业？", {19, 21}),  # 19 grows them, 21's acceleration centre serves them
        ("化工企业必须进园区吗？", {18}),
        ("適老化產品研發有支持嗎？", {12}),
    ],
)
def test_seed_questions_find_their_measure(seed_measures, seed_tokenizer, seed_index, question, measures):
    assert len(seed_measures) == 21
    ids, _ = seed_index.search(seed_tokenizer(question), k=3)
    assert ids[0] + 1 in measures


@pytest.mark.parametrize(
    "question",
    ["", "？？？！！，，。", "   \n\t", "的了吗", "智能工厂有哪些支持？" * 1000, "x" * 10_000, "頭" * 10_000],
)
def test_odd_questions_do_not_raise(seed_tokenizer, seed_index, question):
    ids, scores = seed_index.search(seed_tokenizer(question), k=5)
    assert len(ids) == len(scores) <= 5
    assert np.all(scores >= 0)
