"""Held connections and a hanging LLM against the real `policyqa serve`: figures, not pass/fail.

    python -m eval.bench_service [--home DIR] [--server guarded|uvicorn|hypercorn] [--only NAME ...]

Each scenario starts the server as its own process on loopback (``python -m assistant.cli serve``,
or the same app under plain uvicorn / hypercorn for comparison), then prints what it measured:

- ``baseline``: POST /api/ask median and p95, nothing else going on;
- ``idle4000``: 4,000 connections that send nothing, from 80 loopback addresses (50 each): the
  /api/ask median while they are held, how many the server kept, the server's CPU use meanwhile;
- ``fd1024``: the server under RLIMIT_NOFILE 1,024 and 1,100 idle connections: /api/ask
  answered or failed, the log's size and tracebacks;
- ``slowhead``: a request head sent one header line every 0.5 s: how long the server keeps reading;
- ``llm``: a configured LLM endpoint that never answers (held 20 s, the default timeout), 80
  concurrent asks, and GET /health latency meanwhile.

It needs an index: the first run builds one in --home (default: a temporary folder).
Traffic goes to 127.0.0.0/8 only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "贷款难怎么办？"
# The same app under another server, for comparison (what `policyqa serve` did before assistant/server.py).
PLAIN = """
import sys
from assistant.api import create_app
from assistant.service import PolicyAssistant
from assistant.settings import Settings
settings = Settings()
assistant = PolicyAssistant(settings)
assistant.warm_up()
app = create_app(settings, assistant=assistant)
port = int(sys.argv[2])
if sys.argv[1] == "uvicorn":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
else:
    import asyncio
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.read_timeout = 10
    config.backlog = 2048
    asyncio.run(serve(app, config))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path, kind: str, nofile: int | None = None, env: dict | None = None):
        self.port = free_port()
        self.log = home / f"serve-{kind}-{self.port}.log"
        child_env = {**{k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")},
                     "POLICYQA_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                     "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
        if kind == "guarded":
            command = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(self.port)]
        else:
            command = [sys.executable, "-c", PLAIN, kind, str(self.port)]

        def limits():
            os.setsid()
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=child_env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, preexec_fn=limits)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if request(self.port, "GET", "/health", timeout=5)[0] == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("the server did not start within 300 s")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.log.read_text(errors="replace")


def request(port: int, method: str, path: str, body: bytes = b"", timeout: float = 30,
            source: str = "127.0.0.1") -> tuple[int, bytes]:
    with socket.socket() as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    if not data:
        raise ConnectionError("closed without a response")
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[-1]


def ask_latencies(port: int, n: int, timeout: float = 30) -> tuple[list[float], int]:
    """Latencies (ms) of ``n`` sequential asks, and how many failed (no 200 within ``timeout`` s)."""
    body = json.dumps({"question": QUESTION}).encode()
    times, failed = [], 0
    for _ in range(n):
        started = time.perf_counter()
        try:
            status, _ = request(port, "POST", "/api/ask", body, timeout=timeout)
            failed += status != 200
        except OSError:
            failed += 1
        times.append((time.perf_counter() - started) * 1000)
    return times, failed


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms"


def hold(port: int, count: int, addresses: int) -> list[socket.socket]:
    held = []
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.{1 + i % addresses // 250}.{2 + i % addresses % 250}", 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        held.append(s)
    return held


def still_open(sockets: list[socket.socket]) -> int:
    n = 0
    for s in sockets:
        try:
            s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def scenario_baseline(home, kind):
    server = Server(home, kind)
    try:
        ask_latencies(server.port, 5)
        times, failed = ask_latencies(server.port, 100)
        print(f"baseline [{kind}]: /api/ask {summary(times)}, {failed} failed of 100")
    finally:
        server.stop()


def scenario_idle4000(home, kind):
    server = Server(home, kind, env={"POLICYQA_HEADER_TIMEOUT": "120"})
    held = []
    try:
        held = hold(server.port, 4000, 80)
        time.sleep(2)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        time.sleep(3)  # quiet: what holding them costs
        cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        times, failed = ask_latencies(server.port, 50)
        health = ask_health(server.port)
        kept = still_open(held)
        print(f"idle4000 [{kind}]: 4,000 idle connections from 80 addresses; server kept {kept}; /api/ask "
              f"{summary(times)}, {failed} failed of 50; /health {health:.1f} ms; server CPU while they are held {cpu:.0%} of a core")
    finally:
        for s in held:
            s.close()
        server.stop()


def ask_health(port: int) -> float:
    started = time.perf_counter()
    request(port, "GET", "/health", timeout=60)
    return (time.perf_counter() - started) * 1000


def scenario_fd1024(home, kind):
    server = Server(home, kind, nofile=1024, env={"POLICYQA_HEADER_TIMEOUT": "120"})
    held = []
    try:
        held = hold(server.port, 1100, 20)
        time.sleep(2)
        started = time.monotonic()
        times, failed = ask_latencies(server.port, 10, timeout=5)  # bounded: a starved server logs fast
        spent = time.monotonic() - started
        kept = still_open(held)
    finally:
        for s in held:
            s.close()
        time.sleep(1)
        log = server.stop()
    print(f"fd1024 [{kind}]: RLIMIT_NOFILE 1,024, 1,100 idle connections; server kept {kept}; /api/ask "
          f"{summary(times)}, {failed} failed of 10 (5 s timeout); log {len(log.encode()) / 1024:.1f} KiB "
          f"in {spent:.0f} s, "
          f"{log.count('Traceback')} tracebacks, {sum('refused:' in line for line in log.splitlines())} refusal lines")


def scenario_slowhead(home, kind):
    server = Server(home, kind)
    try:
        with socket.socket() as s:
            s.connect(("127.0.0.1", server.port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            answer = b""
            while time.monotonic() - started < 60:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break
                s.settimeout(0.5)
                try:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                except TimeoutError:
                    continue
                except OSError:  # reset after the reply
                    break
            held = time.monotonic() - started
        status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(closed, no response)"
        print(f"slowhead [{kind}]: one header line every 0.5 s: connection held {held:.1f} s"
              f"{' (stopped at the 60 s bound)' if held >= 60 else ''}; reply: {status}")
    finally:
        server.stop()


class HangingLLM(BaseHTTPRequestHandler):
    release = threading.Event()
    count = 0
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_POST(self):
        with HangingLLM.lock:
            HangingLLM.count += 1
        self.rfile.read(int(self.headers.get("content-length", 0)))
        HangingLLM.release.wait(25)
        self.send_response(500)
        self.end_headers()


def scenario_llm(home, kind):
    llm = ThreadingHTTPServer(("127.0.0.1", 0), HangingLLM)
    threading.Thread(target=llm.serve_forever, daemon=True).start()
    env = {"POLICYQA_LLM_BASE_URL": f"http://127.0.0.1:{llm.server_address[1]}/v1", "POLICYQA_LLM_MODEL": "hang",
           "POLICYQA_LLM_TIMEOUT": "20"}
    server = Server(home, kind, env=env)
    try:
        body = json.dumps({"question": QUESTION}).encode()
        with ThreadPoolExecutor(80) as pool:
            # 80 clients (4 per address: one address may hold 64 connections at once)
            asks = [pool.submit(request, server.port, "POST", "/api/ask", body, 60, f"127.0.2.{2 + i % 20}")
                    for i in range(80)]
            time.sleep(3)
            health = [ask_health(server.port) for _ in range(10)]
            extractive_ms = []
            for _ in range(10):
                started = time.perf_counter()
                request(server.port, "POST", "/api/ask", body, 60)
                extractive_ms.append((time.perf_counter() - started) * 1000)
            HangingLLM.release.set()
            results = [a.result() for a in asks]
        sources = [json.loads(b).get("answer_source") for status, b in results if status == 200]
        print(f"llm [{kind}]: LLM endpoint held every call (20 s timeout), 80 concurrent asks: /health "
              f"{summary(health)}; an ask meanwhile {summary(extractive_ms)}; calls that reached the LLM "
              f"{HangingLLM.count}; {sources.count('extractive')} of 80 answered extractive")
    finally:
        HangingLLM.release.set()
        server.stop()
        llm.shutdown()


SCENARIOS = {"baseline": scenario_baseline, "idle4000": scenario_idle4000, "fd1024": scenario_fd1024,
             "slowhead": scenario_slowhead, "llm": scenario_llm}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="data folder with (or for) the index (default: a temporary one)")
    parser.add_argument("--server", choices=["guarded", "uvicorn", "hypercorn"], default="guarded")
    parser.add_argument("--only", nargs="*", choices=list(SCENARIOS), help="scenarios to run (default: all)")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192:  # the client side holds up to 4,000 sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="policyqa-bench-service-"))
    home.mkdir(parents=True, exist_ok=True)
    try:
        if not any(home.glob("index/*/*/LIVE")):
            print("building the index once …", flush=True)
            subprocess.run([sys.executable, "-m", "assistant.cli", "index"], cwd=ROOT, check=True,
                           env={**os.environ, "POLICYQA_HOME": str(home)}, stderr=subprocess.DEVNULL)
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; server: {args.server}", flush=True)
        for name in args.only or SCENARIOS:
            SCENARIOS[name](home, args.server)
            sys.stdout.flush()
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
