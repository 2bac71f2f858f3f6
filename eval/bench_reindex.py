"""Query latency while the index is rebuilt, and how long a new document takes to be served.

``python -m eval.bench_reindex [--clients 4] [--seconds 20] [--rebuilds 5] [--gap 2] [--rounds 2] [--checkout DIR]``

For each round, and in each round for both ways of rebuilding (``child``: the default, a build
process at nice +10; ``in-process``: POLICYQA_BUILD_IN_CHILD=0, the build in the server's own
threads, as before), it

1. starts ``python -m assistant.cli serve`` (from this checkout, or ``--checkout DIR``) over a copy
   of the bundled corpus in one data folder (its index is built once, before the first load);
2. runs ``--clients`` closed-loop clients (threads of this process, one httpx.Client each) that
   POST /api/ask with questions of the bundled set for ``--seconds``: the latency without a rebuild;
3. runs the same load again while ``--rebuilds`` rebuilds (``POST /api/reindex``) run one after the
   other, ``--gap`` seconds apart (the same work for both variants): the latency of the requests
   that overlapped a rebuild, and how long each rebuild took. Beside both, the CPU the
   server process used per request (its own threads, /proc/<pid>/stat) and the CPU of the build
   processes it started (children it waited for), which the queries no longer share.

Then, once, with the child builds: a document of corpus/samples is copied into the watched corpus
folder and removed again: the seconds until /health shows the new index version, and the rebuild
and switch times the server logged.

The two variants alternate so that a change in the machine's load hits both alike; the load
average is printed with every figure. ``--skip TEXT`` leaves out questions containing TEXT.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions" / "weihai-2026.jsonl"
SAMPLES = ROOT / "corpus" / "samples"
TOKEN = "bench-reindex"
VARIANTS = {"child": "1", "in-process": "0"}  # POLICYQA_BUILD_IN_CHILD


@dataclass
class Load:
    """Requests of one load: (start, end) in time.monotonic() seconds, and what failed."""

    spans: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def latencies_ms(self, within: list[tuple[float, float]] | None = None) -> np.ndarray:
        """Latencies in ms; with ``within``, only requests that overlapped one of those intervals."""
        kept = [(s, e) for s, e in self.spans if within is None or any(s < b and e > a for a, b in within)]
        return np.array([(e - s) * 1000 for s, e in kept])


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:  # e.g. a request that never ends keeps it from exiting
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def questions(skip: list[str]) -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    asked = [r["question"] for r in rows if "question" in r and not r.get("history")]  # not the header line
    return [q for q in asked if not any(s in q for s in skip)][:60]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkout: Path, home: Path, corpus: Path, log: Path, settle_ms: int, in_child: str) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    env.update(POLICYQA_HOME=str(home), POLICYQA_ADMIN_TOKEN=TOKEN, POLICYQA_WATCH_SETTLE_MS=str(settle_ms),
               POLICYQA_BUILD_IN_CHILD=in_child, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1", NO_PROXY="*")
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--corpus",
                                    str(corpus)], cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(server.url + "/health", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    sys.exit(f"the server did not answer within 600 s:\n{log.read_text(errors='replace')[-3000:]}")


def run_load(url: str, asked: list[str], clients: int, keep_going: Callable[[], bool]) -> Load:
    load, lock = Load(), threading.Lock()

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            i = offset
            while keep_going():
                question = asked[i % len(asked)]
                i += clients
                start = time.monotonic()
                try:
                    response = http.post("/api/ask", json={"question": question})
                    failed = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    failed = f"{type(exc).__name__} on {question!r}"
                end = time.monotonic()
                with lock:
                    load.spans.append((start, end))
                    if failed:
                        load.errors.append(failed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the process's own CPU, its waited-for children's CPU) in seconds, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks, (int(fields[13]) + int(fields[14])) / ticks


@dataclass
class Result:
    label: str
    latencies: np.ndarray
    errors: list[str]
    cpu: tuple[float, float]  # server's own, its build processes', seconds
    requests: int

    @property
    def p95(self) -> float:
        return float(np.percentile(self.latencies, 95)) if len(self.latencies) else float("nan")

    def row(self) -> str:
        own, children = (f"{c * 1000 / max(self.requests, 1):.0f} ms" for c in self.cpu)
        lat = self.latencies
        figures = (f"{np.median(lat):.0f} ms | {self.p95:.0f} ms | {lat.max():.0f} ms" if len(lat) else " | | ")
        return f"| {self.label} | {len(lat)} | {figures} | {len(self.errors)} | {own} | {children} |"


def measure(server: Server, asked: list[str], clients: int, seconds: float, variant: str, rebuilds_wanted: int,
            gap: float) -> tuple[Result, Result, list[float]]:
    """The load for ``seconds`` without a rebuild, then while ``rebuilds_wanted`` rebuilds run one after the
    other, ``gap`` seconds apart (the load goes on until the last has finished): two Results and the
    rebuild durations. Both variants thus do the same work, however long one rebuild takes."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for question in asked[:10]:  # warm-up
            http.post("/api/ask", json={"question": question}).raise_for_status()
    pid = server.process.pid
    cpu0 = cpu_seconds(pid)
    until = time.monotonic() + seconds
    quiet = run_load(server.url, asked, clients, lambda: time.monotonic() < until)
    cpu1 = cpu_seconds(pid)
    rebuilds: list[tuple[float, float]] = []
    failures: list[str] = []

    def reindex_loop() -> None:
        with httpx.Client(base_url=server.url, timeout=600) as http:
            for _ in range(rebuilds_wanted):
                time.sleep(gap)
                start = time.monotonic()
                response = http.post("/api/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
                rebuilds.append((start, time.monotonic()))
                if response.status_code != 200:
                    failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
        time.sleep(gap)  # requests after the last switch count as well

    trigger = threading.Thread(target=reindex_loop)
    trigger.start()
    busy = run_load(server.url, asked, clients, trigger.is_alive)
    trigger.join()
    cpu2 = cpu_seconds(pid)
    if failures:
        print(f"  reindex failures: {failures}")
    return (Result(f"{variant}: no rebuild", quiet.latencies_ms(), quiet.errors,
                   (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]), len(quiet.spans)),
            Result(f"{variant}: {len(rebuilds)} rebuilds (requests overlapping one)", busy.latencies_ms(within=rebuilds),
                   busy.errors, (cpu2[0] - cpu1[0], cpu2[1] - cpu1[1]), len(busy.spans)),
            [b - a for a, b in rebuilds])


def wait_for_version(url: str, old: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        health = httpx.get(url + "/health", timeout=10).json()
        if health["index_version"] != old and health.get("rebuild", "idle") == "idle":
            return time.monotonic() - started
        time.sleep(0.05)
    raise TimeoutError(f"no new index version within {timeout:.0f} s")


def watch_latency(server: Server, corpus: Path, settle_ms: int) -> str:
    health = httpx.get(server.url + "/health", timeout=10).json()
    if not health.get("watching"):
        return "the server does not watch its corpus (older checkout, or POLICYQA_WATCH=0)"
    sample = sorted(SAMPLES.glob("*.txt"), key=lambda p: p.stat().st_size)[0]
    marker = len(server.log.read_text(errors="replace"))
    shutil.copy(sample, corpus / sample.name)
    added = wait_for_version(server.url, health["index_version"])
    version = httpx.get(server.url + "/health", timeout=10).json()["index_version"]
    (corpus / sample.name).unlink()
    removed = wait_for_version(server.url, version)
    said = server.log.read_text(errors="replace")[marker:]
    built = re.findall(r"\((\d+) embedded\), rebuilt in ([\d.]+) s", said)
    switched = re.findall(r"switched to index \S+ in ([\d.]+) s", said)
    return (f"corpus watch (settle {settle_ms} ms, load average {loadavg()}): {sample.name} copied in → served "
            f"{added:.1f} s later; removed → {removed:.1f} s later. Server log: rebuilds "
            f"{', '.join(f'{s} s ({n} texts embedded)' for n, s in built)}; switches "
            f"{', '.join(s + ' s' for s in switched)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_reindex", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent closed-loop clients (default 4)")
    parser.add_argument("--seconds", type=float, default=20, help="length of the load without rebuilds (default 20)")
    parser.add_argument("--rebuilds", type=int, default=5, help="rebuilds under the second load (default 5)")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between rebuilds (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both variants (default 2)")
    parser.add_argument("--variants", default="child,in-process", help="which, comma-separated (default both)")
    parser.add_argument("--checkout", type=Path, default=ROOT, help="source tree the server runs from")
    parser.add_argument("--settle-ms", type=int, default=1000, help="POLICYQA_WATCH_SETTLE_MS of the server")
    parser.add_argument("--home", type=Path, help="data folder kept between runs (default: a temporary one)")
    parser.add_argument("--skip", action="append", default=[], help="leave out questions containing this text")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip() in VARIANTS]

    asked = questions(args.skip)
    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as tmp:
        folder = args.home or Path(tmp)  # a --home kept between runs keeps its index: no cold build
        corpus = folder / "corpus"
        if not corpus.exists():
            shutil.copytree(ROOT / "corpus" / "documents", corpus)
        seed = {p.name for p in (ROOT / "corpus" / "documents").iterdir()}
        for extra in [p for p in corpus.iterdir() if p.name not in seed]:
            extra.unlink()  # a sample left by an interrupted run
        log = folder / "serve.log"
        print(f"server from {args.checkout}; {args.clients} clients, {args.seconds:.0f} s per load, "
              f"{len(asked)} questions; server output in {log if args.home else 'a temporary file'}", flush=True)
        results: dict[str, list[tuple[Result, Result, list[float]]]] = {v: [] for v in variants}
        for round_ in range(1, args.rounds + 1):
            for variant in variants:
                server = start_server(args.checkout, folder / "home", corpus, log, args.settle_ms, VARIANTS[variant])
                try:
                    print(f"\nround {round_}, {variant} builds (load average {loadavg()})", flush=True)
                    quiet, busy, durations = measure(server, asked, args.clients, args.seconds, variant,
                                                     args.rebuilds, args.gap)
                    results[variant].append((quiet, busy, durations))
                    print("| load | requests | median | p95 | max | errors | server CPU / request | its build "
                          "processes' CPU / request |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
                    print(quiet.row())
                    print(busy.row())
                    print(f"{len(durations)} rebuilds {args.gap:g} s apart, median {np.median(durations):.1f} s "
                          f"(load average after: {loadavg()})", flush=True)
                    for result in (quiet, busy):
                        if result.errors:
                            print(f"  errors ({result.label}): {sorted(set(result.errors))}")
                    if variant == "child" and round_ == args.rounds:
                        print(watch_latency(server, corpus, args.settle_ms), flush=True)
                finally:
                    server.stop()
        print("\nsummary: p95 without / overlapping a rebuild, median over rounds")
        for variant, rows in results.items():
            quiet_p95 = np.median([q.p95 for q, _, _ in rows])
            busy_p95 = np.median([b.p95 for _, b, _ in rows])
            rebuild = np.median([d for _, _, ds in rows for d in ds])
            print(f"  {variant:>10}: {quiet_p95:.0f} ms / {busy_p95:.0f} ms ({busy_p95 / quiet_p95:.2f}x); "
                  f"a rebuild takes {rebuild:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
