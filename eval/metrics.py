"""Evaluation metrics: pure functions over rankings, answers and timings (no I/O).

Definitions (eval/README.md repeats them for readers of the report):

- A *ranking* is the records an answer cites, in citation order, duplicates dropped, each keyed
  ``(doc_id, key)`` (``key`` None for a fact about a whole document). A hit needs both the
  document and the record right.
- hit@k: 1 when a gold record is among the first k of the ranking, else 0.
- MRR: mean of 1/rank of the first gold measure in the ranking (0 when none is cited).
- nDCG@k: binary relevance. DCG = Σ_{i≤k, ranking[i] gold} 1/log2(i+1) (ranks from 1); the ideal
  DCG puts min(len(gold), k) gold measures first: IDCG = Σ_{i≤min(|gold|,k)} 1/log2(i+1).
- Department precision/recall, micro-averaged over questions that have gold_departments: the
  predicted departments are the corpus' department names that the answer *text* names (what
  the user reads; a name inside a longer name is not counted twice). precision = Σ|pred∩gold| /
  Σ|pred|, recall = Σ|pred∩gold| / Σ|gold|.
- Figure exact-match: the share of questions with ``expected`` strings whose answer contains
  every one of them verbatim, compared after removing all whitespace from both (the document
  writes "190 亿元"; an answer that writes "190亿元" matches, "190.0 亿元" does not).
- Refusal precision/recall: the positive class is "refused" (``found`` is false); gold positive
  is ``should_find`` false. precision = refused-and-should / refused, recall = refused-and-should
  / should-refuse. Undefined (None) when its denominator is 0.
- Latency: median, and p95 by the nearest-rank method (the ⌈0.95·n⌉-th smallest value).

- Set precision/recall (``ambiguous``, ``documents`` and docfact questions about several documents,
  whose answer spans several documents by design), micro-averaged: precision = Σ|cited∩gold| /
  Σ|cited|, recall = Σ|cited∩gold| / Σ|gold|, over (doc_id, key) pairs.

Ranking metrics are computed only for questions with gold records that are not set-scored (not for
docfact, documents and out_of_scope); docfact questions score their expected strings and ``found``.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from eval.questions_file import QUESTION_TYPES, GoldPair, Question

RankKey = GoldPair  # (doc_id, record key), key None for a fact about a whole document
HIT_CUTOFFS = (1, 3, 5)
NDCG_K = 5
BLANK = re.compile(r"\s+")


# -- rankings ----------------------------------------------------------------------------------------
def ranking_of(citations: Iterable[Any]) -> list[RankKey]:
    """The measures cited, in order, each once. ``citations`` are API Citations (or alike)."""
    keys: list[RankKey] = []
    for c in citations:
        key = (c.doc_id, getattr(c, "measure_key", None))
        if key not in keys:
            keys.append(key)
    return keys


def hit_at_k(ranking: Sequence[RankKey], gold: Iterable[RankKey], k: int) -> float:
    gold = set(gold)
    return 1.0 if any(key in gold for key in ranking[:k]) else 0.0


def reciprocal_rank(ranking: Sequence[RankKey], gold: Iterable[RankKey]) -> float:
    gold = set(gold)
    return next((1.0 / rank for rank, key in enumerate(ranking, start=1) if key in gold), 0.0)


def ndcg_at_k(ranking: Sequence[RankKey], gold: Iterable[RankKey], k: int) -> float:
    gold = set(gold)
    if not gold:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1) for rank, key in enumerate(ranking[:k], start=1) if key in gold)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal


# -- departments, figures, refusals -----------------------------------------------------------------
TITLE = re.compile(r"《[^《》]*》")


def departments_named(text: str, known: Iterable[str]) -> list[str]:
    """The known department names that occur in ``text``, longest first, each counted once.

    A name found inside a longer one already matched (市委 inside 市委组织部) does not count, nor one inside
    a document's title in 《》 (《国务院办公厅关于…的通知》 names a document, not a responsible unit).
    """
    text = TITLE.sub("《》", text)
    found = []
    for name in sorted(set(known), key=lambda n: (-len(n), n)):
        if name and name in text:
            found.append(name)
            text = text.replace(name, "\0" * len(name))
    return found


def missing_expected(answer: str, expected: Iterable[str]) -> list[str]:
    """The expected strings the answer does not contain (whitespace removed from both sides)."""
    flat = BLANK.sub("", answer)
    return [e for e in expected if BLANK.sub("", e) not in flat]


def figure_exact_match(answer: str, expected: Iterable[str]) -> bool:
    return not missing_expected(answer, expected)


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def refusal_precision_recall(refused: Sequence[bool],
                             should_refuse: Sequence[bool]) -> tuple[float | None, float | None]:
    both = sum(1 for r, s in zip(refused, should_refuse, strict=True) if r and s)
    return ratio(both, sum(refused)), ratio(both, sum(should_refuse))


def micro_precision_recall(pairs: Iterable[tuple[Iterable[str], Iterable[str]]]) -> tuple[float | None, float | None]:
    """Micro-averaged precision and recall over (predicted, gold) pairs of sets."""
    true_pos = predicted_n = gold_n = 0
    for predicted, gold in pairs:
        predicted, gold = set(predicted), set(gold)
        true_pos += len(predicted & gold)
        predicted_n += len(predicted)
        gold_n += len(gold)
    return ratio(true_pos, predicted_n), ratio(true_pos, gold_n)


# -- latency -------------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the ⌈q/100·n⌉-th smallest value (q in (0, 100])."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


# -- one question's result, and the scores of many -----------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What the assistant did with one question."""

    question: Question
    ranking: tuple[RankKey, ...]
    found: bool
    answer: str
    intent: str = ""
    departments: tuple[str, ...] = ()  # departments named in the answer text
    latency_ms: float = 0.0
    unsupported: tuple[str, ...] = ()  # figures in the answer that no citation supports
    error: str | None = None  # the exception, when asking failed

    @property
    def refused(self) -> bool:
        return not self.found


@dataclass(frozen=True)
class Scores:
    questions: int
    ranked: int  # questions with ranking metrics
    hit: dict[int, float | None]  # cutoff → mean hit@cutoff
    mrr: float | None
    ndcg: float | None
    ndcg_k: int
    department_questions: int
    department_precision: float | None
    department_recall: float | None
    department_exact: float | None  # share of department questions whose answer names exactly the gold units
    expected_questions: int
    figure_exact_match: float | None
    refused: int
    should_refuse: int
    refusal_precision: float | None
    refusal_recall: float | None
    latency_median_ms: float | None
    latency_p95_ms: float | None
    unsupported_answers: int  # answers with at least one unsupported figure (should be 0)
    errors: int = 0
    set_questions: int = 0
    set_precision: float | None = None
    set_recall: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"questions": self.questions, "ranked": self.ranked}
        out.update({f"hit@{k}": v for k, v in self.hit.items()})
        out.update({"mrr": self.mrr, f"ndcg@{self.ndcg_k}": self.ndcg,
                    "department_questions": self.department_questions,
                    "department_precision": self.department_precision,
                    "department_recall": self.department_recall,
                    "department_exact": self.department_exact,
                    "expected_questions": self.expected_questions, "figure_exact_match": self.figure_exact_match,
                    "refused": self.refused, "should_refuse": self.should_refuse,
                    "refusal_precision": self.refusal_precision, "refusal_recall": self.refusal_recall,
                    "latency_median_ms": self.latency_median_ms, "latency_p95_ms": self.latency_p95_ms,
                    "unsupported_answers": self.unsupported_answers, "errors": self.errors,
                    "set_questions": self.set_questions, "set_precision": self.set_precision,
                    "set_recall": self.set_recall})
        return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(outcomes: Sequence[Outcome], cutoffs: Sequence[int] = HIT_CUTOFFS, ndcg_k: int = NDCG_K) -> Scores:
    ranked = [o for o in outcomes if o.question.ranked]
    with_departments = [o for o in outcomes if o.question.gold_departments is not None]
    with_expected = [o for o in outcomes if o.question.expected]
    precision, recall = micro_precision_recall((o.departments, o.question.gold_departments)
                                               for o in with_departments)
    refusal_p, refusal_r = refusal_precision_recall([o.refused for o in outcomes],
                                                    [not o.question.should_find for o in outcomes])
    latencies = [o.latency_ms for o in outcomes if o.error is None]
    set_scored = [o for o in outcomes if o.question.set_scored and o.question.should_find]
    set_p, set_r = micro_precision_recall((o.ranking, o.question.gold_keys) for o in set_scored)
    return Scores(
        questions=len(outcomes),
        ranked=len(ranked),
        hit={k: _mean([hit_at_k(o.ranking, o.question.gold_keys, k) for o in ranked]) for k in cutoffs},
        mrr=_mean([reciprocal_rank(o.ranking, o.question.gold_keys) for o in ranked]),
        ndcg=_mean([ndcg_at_k(o.ranking, o.question.gold_keys, ndcg_k) for o in ranked]),
        ndcg_k=ndcg_k,
        department_questions=len(with_departments),
        department_precision=precision,
        department_recall=recall,
        department_exact=_mean([float(set(o.departments) == set(o.question.gold_departments))
                                for o in with_departments]),
        expected_questions=len(with_expected),
        figure_exact_match=_mean([float(figure_exact_match(o.answer, o.question.expected)) for o in with_expected]),
        refused=sum(o.refused for o in outcomes),
        should_refuse=sum(not o.question.should_find for o in outcomes),
        refusal_precision=refusal_p,
        refusal_recall=refusal_r,
        latency_median_ms=median(latencies),
        latency_p95_ms=percentile(latencies, 95),
        unsupported_answers=sum(1 for o in outcomes if o.unsupported),
        errors=sum(1 for o in outcomes if o.error is not None),
        set_questions=len(set_scored),
        set_precision=set_p,
        set_recall=set_r,
    )


def by_type(outcomes: Sequence[Outcome], cutoffs: Sequence[int] = HIT_CUTOFFS,
            ndcg_k: int = NDCG_K) -> dict[str, Scores]:
    """The same scores per question type, in the canonical type order."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.question.type, []).append(o)
    order = [t for t in QUESTION_TYPES if t in groups] + sorted(t for t in groups if t not in QUESTION_TYPES)
    return {t: summarize(groups[t], cutoffs, ndcg_k) for t in order}


# -- what went wrong -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mistake:
    id: str
    type: str
    question: str
    gold: str  # what a right answer would have had
    got: str  # what the answer had
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "question": self.question, "gold": self.gold, "got": self.got,
                "reasons": list(self.reasons)}


def measure_label(key: RankKey) -> str:
    doc_id, record = key
    return f"{doc_id}:{record}" if record is not None else f"{doc_id}（文件）"


def reasons_wrong(outcome: Outcome) -> list[str]:
    """Why an outcome counts as wrong; empty when it is right.

    Wrong means: an error; refused although it should answer, or answered although it should
    refuse; a ranked question whose first cited measure is not gold (hit@1 = 0); an expected
    string missing from the answer; a gold department not named in the answer.
    """
    q = outcome.question
    if outcome.error is not None:
        return [f"error: {outcome.error}"]
    if not q.should_find:
        return [] if outcome.refused else ["answered instead of refusing"]
    reasons = []
    if outcome.refused:
        reasons.append("refused")
    elif q.ranked and not hit_at_k(outcome.ranking, q.gold_keys, 1):
        reasons.append("top citation not gold")
    elif q.set_scored and set(q.gold_keys) - set(outcome.ranking):
        reasons.append("missing " + "、".join(measure_label(k) for k in q.gold_keys if k not in outcome.ranking))
    missing = missing_expected(outcome.answer, q.expected)
    if missing:
        reasons.append("missing expected " + "、".join(missing))
    if q.gold_departments is not None:
        absent = [d for d in q.gold_departments if d not in outcome.departments]
        if absent:
            reasons.append("missing departments " + "、".join(absent))
    return reasons


def mistakes(outcomes: Sequence[Outcome]) -> list[Mistake]:
    """The questions answered wrongly (see :func:`reasons_wrong`), in question order."""
    out = []
    for o in outcomes:
        reasons = reasons_wrong(o)
        if not reasons:
            continue
        q = o.question
        gold = ["refuse"] if not q.should_find else [", ".join(measure_label(g) for g in q.gold_keys)]
        if q.expected:
            gold.append("expects " + "、".join(q.expected))
        if q.gold_departments is not None:
            gold.append("departments " + "、".join(q.gold_departments))
        got = ["refused" if o.refused else (", ".join(measure_label(key) for key in o.ranking) or "no citation")]
        if q.gold_departments is not None and o.departments:
            got.append("departments " + "、".join(o.departments))
        out.append(Mistake(q.id, q.type, q.question, "; ".join(g for g in gold if g), "; ".join(got), reasons))
    return out
