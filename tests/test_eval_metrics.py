"""The evaluation metrics on a tiny hand-made set: every expected number is worked out by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from eval import metrics
from eval.metrics import Outcome
from eval.questions_file import Question

D = "weihai-2026-industrial-action-plan"
LOG2_3 = math.log2(3)  # 1.5849625
LOG2_5 = math.log2(5)  # 2.3219281


def keys(*measures):
    return [(D, str(m)) for m in measures]


# -- rankings ----------------------------------------------------------------------------------------
def test_ranking_of_dedupes_in_order_keyed_by_document_and_record_key():
    def cite(key, doc=D):
        return SimpleNamespace(doc_id=doc, measure_key=key, measure_number=None, measure_title="t")

    citations = [cite("9"), cite("17"), cite("9"), cite("r22"), cite("9", doc="other"), cite(None)]
    assert metrics.ranking_of(citations) == [(D, "9"), (D, "17"), (D, "r22"), ("other", "9"), (D, None)]


def test_a_hit_needs_the_document_and_the_record():
    assert metrics.hit_at_k([("other", "9")], [(D, "9")], 1) == 0.0
    assert metrics.hit_at_k([(D, "9")], [(D, "9")], 1) == 1.0


def test_set_precision_and_recall_for_answers_that_span_documents():
    question = Question(id="s1", type="ambiguous", question="第五条？", gold=((D, "5"), ("other", "5")),
                        should_find=True)
    half = Outcome(question=question, ranking=((D, "5"), ("third", "5")), found=True, answer="")
    scores = metrics.summarize([half])
    assert scores.set_questions == 1 and scores.ranked == 0
    assert scores.set_precision == 0.5 and scores.set_recall == 0.5
    assert metrics.reasons_wrong(half) == ["missing other:5"]


@pytest.mark.parametrize("ranking, gold, expected", [
    # gold first: hit at every cutoff
    (keys(9, 17), keys(9), {1: 1.0, 3: 1.0, 5: 1.0}),
    # gold at rank 2 and 4: not in the top 1, in the top 3
    (keys(3, 9, 5, 17), keys(9, 17), {1: 0.0, 3: 1.0, 5: 1.0}),
    # gold at rank 4 only: just inside the top 5
    (keys(1, 2, 3, 17), keys(17), {1: 0.0, 3: 0.0, 5: 1.0}),
    # nothing cited
    ([], keys(2), {1: 0.0, 3: 0.0, 5: 0.0}),
    # "保障措施" matches the unnumbered section, at rank 2
    (keys(21, "保障措施"), keys("保障措施"), {1: 0.0, 3: 1.0, 5: 1.0}),
])
def test_hit_at_k(ranking, gold, expected):
    assert {k: metrics.hit_at_k(ranking, gold, k) for k in (1, 3, 5)} == expected


def test_reciprocal_rank():
    assert metrics.reciprocal_rank(keys(9, 17), keys(9)) == 1.0  # first gold at rank 1 → 1/1
    assert metrics.reciprocal_rank(keys(3, 9, 5, 17), keys(9, 17)) == 0.5  # first gold at rank 2 → 1/2
    assert metrics.reciprocal_rank(keys(1, 2, 3, 17), keys(17)) == 0.25  # rank 4 → 1/4
    assert metrics.reciprocal_rank([], keys(2)) == 0.0  # none cited → 0


def test_ndcg_at_k():
    # one gold at rank 1: DCG = 1/log2(2) = 1; IDCG over min(1, 5) = 1 gold = 1 → 1
    assert metrics.ndcg_at_k(keys(9, 17), keys(9), 5) == 1.0
    # gold at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
    # IDCG (2 gold first) = 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930 → 1.061606 / 1.630930 = 0.650921
    assert metrics.ndcg_at_k(keys(3, 9, 5, 17), keys(9, 17), 5) == pytest.approx(0.650921, abs=1e-6)
    assert metrics.ndcg_at_k(keys(3, 9, 5, 17), keys(9, 17), 5) == pytest.approx(
        (1 / LOG2_3 + 1 / LOG2_5) / (1 + 1 / LOG2_3))
    # 6 gold, the first 5 of them cited in the top 5: IDCG is over min(6, 5) = 5 ranks → a perfect 1
    assert metrics.ndcg_at_k(keys(1, 2, 3, 4, 5, 6), keys(1, 2, 3, 4, 5, 6), 5) == pytest.approx(1.0)
    # k = 3, 4 gold, ranking [4, x, 1]: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.130930
    # → 1.5 / 2.130930 = 0.703918
    assert metrics.ndcg_at_k(keys(4, 20, 1), keys(1, 2, 3, 4), 3) == pytest.approx(0.703918, abs=1e-6)
    # a gold measure at rank 6 is outside the cutoff: 0
    assert metrics.ndcg_at_k(keys(1, 2, 3, 4, 5, 9), keys(9), 5) == 0.0


# -- departments, figures, refusals, latency -----------------------------------------------------------
def test_departments_named_in_the_answer_text():
    known = ["市工业和信息化局", "市财政局", "人民银行威海市分行", "市委", "市委组织部"]
    text = "责任单位：市工业和信息化局、人民银行威海市分行（见第14条）。另请咨询市委组织部。"
    # 市委 only occurs inside 市委组织部, which is matched first (longest first): not counted again
    assert sorted(metrics.departments_named(text, known)) == sorted(["市工业和信息化局", "人民银行威海市分行", "市委组织部"])
    assert metrics.departments_named("抱歉，没有找到。", known) == []
    # a document's title names a document, not a responsible unit
    titled = "《市委组织部关于人才工作的通知》第3条：责任单位：市财政局。"
    assert metrics.departments_named(titled, known) == ["市财政局"]


def test_micro_precision_recall():
    pairs = [
        ({"A", "B"}, {"A"}),  # tp 1, predicted 2, gold 1
        ({"A"}, {"A", "C"}),  # tp 1, predicted 1, gold 2
        (set(), {"D"}),  # tp 0, predicted 0, gold 1 (a refusal names no one)
    ]
    # precision = (1+1+0)/(2+1+0) = 2/3; recall = (1+1+0)/(1+2+1) = 2/4 = 0.5
    precision, recall = metrics.micro_precision_recall(pairs)
    assert precision == pytest.approx(2 / 3)
    assert recall == 0.5
    assert metrics.micro_precision_recall([]) == (None, None)  # no questions: undefined


def test_figure_exact_match_ignores_whitespace_on_both_sides():
    answer = "相关目标：新增产值190亿元；规模以上工业增加值同比增长 7%以上。"
    assert metrics.missing_expected(answer, ["190 亿元", "7%以上"]) == []  # "190 亿元" → "190亿元" is in the answer
    assert metrics.figure_exact_match(answer, ["190 亿元", "7%以上"])
    assert metrics.missing_expected(answer, ["190 亿元", "98%"]) == ["98%"]  # one missing → no match
    assert not metrics.figure_exact_match("新增产值 190.0 亿元", ["190 亿元"])  # a different figure
    assert metrics.figure_exact_match("文号：威政办字〔2026〕10号。", ["威政办字〔2026〕10 号"])


def test_refusal_precision_recall():
    refused = [True, True, True, False]
    should_refuse = [True, False, False, True]
    # refused and should: only the first → 1; precision = 1/3 refused; recall = 1/2 that should be refused
    precision, recall = metrics.refusal_precision_recall(refused, should_refuse)
    assert precision == pytest.approx(1 / 3)
    assert recall == 0.5
    # nothing refused: precision undefined; nothing to refuse: recall undefined
    assert metrics.refusal_precision_recall([False, False], [True, False]) == (None, 0.0)
    assert metrics.refusal_precision_recall([True], [False]) == (0.0, None)


def test_latency_median_and_nearest_rank_p95():
    assert metrics.median([10, 30, 20, 40]) == 25  # (20 + 30) / 2
    assert metrics.percentile([10, 30, 20, 40], 95) == 40  # ⌈0.95·4⌉ = ⌈3.8⌉ = 4th smallest
    assert metrics.percentile(list(range(1, 21)), 95) == 19  # ⌈0.95·20⌉ = 19th smallest of 1..20
    assert metrics.percentile([7.0], 95) == 7.0
    assert metrics.median([]) is None and metrics.percentile([], 95) is None


# -- the scores of a small set ---------------------------------------------------------------------------
KNOWN = ["市工业和信息化局", "市财政局", "人民银行威海市分行", "市商务局"]


def q(qid, qtype, gold=(), **extra) -> Question:
    return Question(id=qid, type=qtype, question=f"问题{qid}", gold=tuple((D, str(g)) for g in gold),
                    should_find=qtype != "out_of_scope", **extra)


def outcome(question, ranking=(), found=True, answer="", latency=0.0, unsupported=()) -> Outcome:
    return Outcome(question=question, ranking=tuple(keys(*ranking)), found=found, answer=answer,
                   departments=tuple(metrics.departments_named(answer, KNOWN)), latency_ms=latency,
                   unsupported=tuple(unsupported))


@pytest.fixture()
def outcomes():
    return [
        # q1 keyword: gold 9 cited first
        outcome(q("q1", "keyword", [9]), ranking=[9, 17], latency=10),
        # q2 multi: gold 9 and 17 at ranks 2 and 4; its answer has a figure no citation supports
        outcome(q("q2", "multi", [9, 17]), ranking=[3, 9, 5, 17], latency=30, unsupported=["500"]),
        # q3 paraphrase: refused although it should be answered
        outcome(q("q3", "paraphrase", [2]), found=False, answer="抱歉，没有找到。", latency=20),
        # q4 department: right measure; the answer names 市工业和信息化局 (gold) and 市商务局 (not gold)
        outcome(q("q4", "department", [14], gold_departments=("市工业和信息化局", "市财政局", "人民银行威海市分行")),
                ranking=[14], answer="责任单位：市工业和信息化局、市商务局（见第14条）。", latency=40),
        # q5 figure: both expected strings in the answer (whitespace aside)
        outcome(q("q5", "figure", [1], expected=("190 亿元", "7%以上")), ranking=[1],
                answer="新增产值190亿元，增长 7%以上。", latency=50),
        # q6 docfact: the ISO date is not in the answer
        outcome(q("q6", "docfact", expected=("2026-05-16",)), answer="印发日期：2026年5月16日。", latency=60),
        # q7 out_of_scope: refused (right)
        outcome(q("q7", "out_of_scope"), found=False, answer="抱歉……", latency=70),
        # q8 out_of_scope: answered (wrong)
        outcome(q("q8", "out_of_scope"), ranking=[5], answer="根据第5条……", latency=80),
    ]


def test_summarize_the_small_set(outcomes):
    s = metrics.summarize(outcomes, ndcg_k=5)
    assert s.questions == 8
    assert s.ranked == 5  # q1–q5 (docfact and out_of_scope have no ranking)
    # hit@1: q1 1, q2 0, q3 0, q4 1, q5 1 → 3/5
    assert s.hit[1] == pytest.approx(0.6)
    # hit@3 and hit@5: q1 1, q2 1, q3 0, q4 1, q5 1 → 4/5
    assert s.hit[3] == pytest.approx(0.8)
    assert s.hit[5] == pytest.approx(0.8)
    # MRR: (1 + 1/2 + 0 + 1 + 1) / 5 = 3.5 / 5
    assert s.mrr == pytest.approx(0.7)
    # nDCG@5: (1 + 0.650921 + 0 + 1 + 1) / 5 = 3.650921 / 5 = 0.730184
    assert s.ndcg == pytest.approx(0.730184, abs=1e-6)
    # departments (q4 only): predicted {工信局, 商务局}, gold {工信局, 财政局, 人行} → tp 1; P = 1/2, R = 1/3
    assert s.department_questions == 1
    assert s.department_precision == 0.5
    assert s.department_recall == pytest.approx(1 / 3)
    assert s.department_exact == 0.0  # the one department question does not name exactly its units
    # figure exact-match: q5 1, q6 0 → 1/2
    assert s.expected_questions == 2
    assert s.figure_exact_match == 0.5
    # refusals: refused q3, q7; should refuse q7, q8; both q7 → P = 1/2, R = 1/2
    assert (s.refused, s.should_refuse) == (2, 2)
    assert s.refusal_precision == 0.5
    assert s.refusal_recall == 0.5
    # latency 10..80: median (40 + 50) / 2 = 45; p95 = ⌈0.95·8⌉ = 8th smallest = 80
    assert s.latency_median_ms == 45
    assert s.latency_p95_ms == 80
    assert s.unsupported_answers == 1  # q2
    assert s.errors == 0
    flat = s.as_dict()
    assert flat["hit@3"] == pytest.approx(0.8) and flat["ndcg@5"] == pytest.approx(0.730184, abs=1e-6)


def test_by_type_breakdown(outcomes):
    table = metrics.by_type(outcomes)
    assert list(table) == ["keyword", "paraphrase", "figure", "department", "multi", "docfact", "out_of_scope"]
    assert table["keyword"].hit[1] == 1.0 and table["keyword"].mrr == 1.0
    assert table["multi"].hit[1] == 0.0 and table["multi"].mrr == 0.5
    # paraphrase: one question, refused wrongly → refusal precision 0/1, recall undefined (nothing to refuse)
    assert table["paraphrase"].refusal_precision == 0.0 and table["paraphrase"].refusal_recall is None
    # out_of_scope: q7 refused, q8 not → precision 1/1, recall 1/2; no ranking metrics
    assert table["out_of_scope"].refusal_precision == 1.0 and table["out_of_scope"].refusal_recall == 0.5
    assert table["out_of_scope"].ranked == 0 and table["out_of_scope"].mrr is None
    assert table["docfact"].figure_exact_match == 0.0 and table["docfact"].hit[3] is None


def test_wrong_questions(outcomes):
    wrong = {m.id: m for m in metrics.mistakes(outcomes)}
    assert list(wrong) == ["q2", "q3", "q4", "q6", "q8"]  # q1, q5, q7 are right
    assert wrong["q2"].reasons == ["top citation not gold"]
    assert wrong["q2"].gold == f"{D}:9, {D}:17" and wrong["q2"].got == f"{D}:3, {D}:9, {D}:5, {D}:17"
    assert wrong["q3"].reasons == ["refused"] and wrong["q3"].got == "refused"
    assert wrong["q4"].reasons == ["missing departments 市财政局、人民银行威海市分行"]
    assert wrong["q6"].reasons == ["missing expected 2026-05-16"]
    assert wrong["q8"].reasons == ["answered instead of refusing"] and wrong["q8"].gold == "refuse"


def test_an_error_is_wrong_and_counted_but_not_timed():
    broken = Outcome(q("q9", "keyword", [9]), (), found=False, answer="", latency_ms=0.0, error="RuntimeError: boom")
    ok = outcome(q("q1", "keyword", [9]), ranking=[9], latency=12)
    s = metrics.summarize([broken, ok])
    assert s.errors == 1 and s.latency_median_ms == 12  # the failed call is not a latency sample
    assert metrics.reasons_wrong(broken) == ["error: RuntimeError: boom"]
