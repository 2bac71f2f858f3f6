"""UI session memory, measured on a real server process: ``python -m eval.bench_sessions``.

It starts ``policyqa serve`` (the same code path, assistant.cli) in a process of its own, with
the UI's idle time shortened (``--idle``, 30 s here, 10 minutes in service) so that sessions
expire within the run, and drives the UI the way a page does: the page's load event, then
questions, through Gradio's queue (POST /gradio_api/queue/join, GET /gradio_api/queue/data).
No heartbeat is opened: these are the sessions that Gradio alone never forgets.

It prints the server's resident memory (VmRSS):
- at the start (after a warm-up whose sessions have expired);
- after 2,000 sessions of one question each, then once they have expired;
- after one session asks 500 questions, then once it has expired;
and the size of each answer's response in that long session (the chat is sent whole with each
answer, so an untrimmed chat grows with every question). Targets: growth <= 30 MiB once idle
sessions have expired; the response size flat.

``UiClient`` and ``UiSession`` are also used by tests/test_ui_sessions.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

QUESTIONS = [  # answers of every size: a department's 22 measures is the largest
    "工信局负责哪些措施？",
    "智能工厂有哪些支持？",
    "这条由哪个部门负责？",
    "贷款难怎么办？",
    "招不到熟练技术工人怎么办？",
    "哪些措施涉及人工智能？",
    "发改委负责哪些？",
    "个税怎么申报？",
]
GROWTH_TARGET_MIB = 30


# --- a page, as the server sees it -----------------------------------------------------------


class UiClient:
    """Talks to the mounted UI as its page does. ``base_url``: where the UI is mounted."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(timeout=timeout, trust_env=False)
        page = self.http.get(self.base_url + "/")
        page.raise_for_status()
        self.config = page_config(page.text)
        self.api = self.base_url + self.config.get("api_prefix", "/gradio_api")

    def fn_index(self, api_name: str) -> int:
        """The id of the event whose API name is ``api_name`` (the handler's name, e.g. "ask_and_show")."""
        for dependency in self.config["dependencies"]:
            if dependency.get("api_name") == api_name:
                return dependency["id"]
        raise KeyError(f"no event named {api_name!r} in the page's config")

    def session(self) -> UiSession:
        return UiSession(self, secrets.token_hex(6))

    def close(self) -> None:
        self.http.close()


def page_config(html: str) -> dict:
    """The config Gradio embeds in its page (``window.gradio_config = {...};``)."""
    match = re.search(r"window\.gradio_config\s*=\s*", html)
    if not match:
        raise ValueError("the page holds no window.gradio_config")
    config, _ = json.JSONDecoder().raw_decode(html, match.end())
    return config


@dataclass(frozen=True)
class Reply:
    data: list  # the event's outputs
    size: int  # bytes of the message that carried them


class UiSession:
    """One page's session: events go through the queue, each read from the session's stream."""

    def __init__(self, client: UiClient, session_hash: str):
        self.client = client
        self.session_hash = session_hash

    def event(self, fn_index: int, data: list) -> Reply:
        body = {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": None,
                "session_hash": self.session_hash}
        joined = self.client.http.post(self.client.api + "/queue/join", json=body)
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        url = self.client.api + "/queue/data"
        with self.client.http.stream("GET", url, params={"session_hash": self.session_hash}) as stream:
            stream.raise_for_status()
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id or message.get("msg") != "process_completed":
                    continue
                if not message.get("success"):
                    raise RuntimeError(f"event {fn_index} failed: {message.get('output')}")
                return Reply(message["output"]["data"], len(line.encode()))
        raise RuntimeError(f"the stream of session {self.session_hash} ended before event {event_id} completed")

    def load(self) -> Reply:
        """What a page does when it opens: fill the pickers, the header and the documents tab."""
        return self.event(self.client.fn_index("load_choices"), [])

    def ask(self, question: str) -> Reply:
        """Ask as the 发送 button does; the states are the server's own (sent as null)."""
        return self.event(self.client.fn_index("ask_and_show"), [question, None, None])


# --- the server process ----------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Server:
    """``policyqa serve`` in a child process, with the UI's idle time set to ``idle`` seconds."""

    def __init__(self, port: int, idle: float, home: Path):
        env = {**os.environ, "POLICYQA_HOME": str(home), "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eval.bench_sessions", "--serve", "--port", str(port), "--idle", str(idle)],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server stopped:\n" + "\n".join(self.lines[-20:]))
            try:
                if httpx.get(self.url + "/health", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s")

    def live_sessions(self, since: int = 0) -> list[int]:
        """Sessions held before each sweep that forgot some (forgotten + still live), as logged
        since line ``since``."""
        found = (re.search(r"UI sessions: (\d+) idle .* (\d+) live", line) for line in self.lines[since:])
        return [int(m.group(1)) + int(m.group(2)) for m in found if m]

    def wait_expired(self, idle: float) -> bool:
        """Wait until a sweep has forgotten every session (at most ``3 × idle`` seconds)."""
        mark = len(self.lines)
        deadline = time.monotonic() + 3 * idle + 30
        while time.monotonic() < deadline:
            if any(re.search(r"UI sessions: .* 0 live", line) for line in self.lines[mark:]):
                time.sleep(1)  # the sweep's malloc_trim runs right after its log line
                return True
            time.sleep(1)
        return False

    @property
    def rss(self) -> float:
        return rss_mib(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def serve(port: int, idle: float) -> int:
    """The server side of the benchmark: ``policyqa serve`` with the UI's idle time set to ``idle``."""
    import logging

    import ui.sessions
    from assistant.cli import main

    ui.sessions.IDLE_SECONDS = idle
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    log = logging.getLogger("ui.sessions")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    return main(["serve", "--port", str(port)])


# --- the benchmark ---------------------------------------------------------------------------


def many_sessions(url: str, n: int, workers: int) -> None:
    clients = [UiClient(url) for _ in range(workers)]

    def one(i: int) -> None:
        session = clients[i % workers].session()
        session.load()
        session.ask(QUESTIONS[i % len(QUESTIONS)])

    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(n)))
    finally:
        for client in clients:
            client.close()


def long_session(url: str, n: int) -> list[int]:
    client = UiClient(url)
    try:
        session = client.session()
        session.load()
        return [session.ask(QUESTIONS[i % len(QUESTIONS)]).size for i in range(n)]
    finally:
        client.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(sessions: int, questions: int, idle: float, workers: int) -> int:
    given = os.environ.get("POLICYQA_HOME")
    home = Path(given or tempfile.mkdtemp(prefix="policyqa-bench-sessions-"))
    server = Server(free_port(), idle, home)
    rows: list[tuple[str, str]] = []

    def row(what: str, value: str) -> None:
        rows.append((what, value))
        print(f"  {what:<58} {value}", flush=True)

    try:
        server.wait_ready()
        from ui.sessions import MAX_SESSIONS

        print(f"server pid {server.process.pid} at {server.url}, UI idle time {idle:g} s, "
              f"at most {MAX_SESSIONS} sessions held, data in {home}")
        many_sessions(server.url, 50, workers)  # warm-up: the first answers fill the engine's caches
        server.wait_expired(idle)
        base = server.rss
        row("RSS at the start (warm-up sessions expired)", f"{base:.1f} MiB")

        started, mark = time.monotonic(), len(server.lines)
        many_sessions(server.url, sessions, workers)
        row(f"{sessions} sessions × 1 question: time", f"{time.monotonic() - started:.1f} s")
        row(f"RSS after {sessions} sessions (before they expire)", f"{server.rss:.1f} MiB (+{server.rss - base:.1f})")
        expired = server.wait_expired(idle)
        held = server.live_sessions(mark)
        row("sessions held at once, at most (before a sweep)", f"{max(held, default=0)}")
        after_many = server.rss
        row(f"RSS once idle sessions expired ({'all' if expired else 'NOT all'} gone)",
            f"{after_many:.1f} MiB (+{after_many - base:.1f})")

        sizes = long_session(server.url, questions)
        row(f"one session, {questions} questions: RSS", f"{server.rss:.1f} MiB (+{server.rss - base:.1f})")
        for i in sorted({1, 10, 11, 50, 100, questions // 2, questions}):
            if 1 <= i <= len(sizes):
                row(f"  response size, question {i}", f"{sizes[i - 1] / 1024:.1f} KiB")
        row("  response size, largest / median of the last 100",
            f"{max(sizes) / 1024:.1f} KiB / {sorted(sizes[-100:])[len(sizes[-100:]) // 2] / 1024:.1f} KiB")
        expired = server.wait_expired(idle)
        final = server.rss
        row(f"RSS once that session expired ({'gone' if expired else 'NOT gone'})", f"{final:.1f} MiB (+{final - base:.1f})")

        growth = max(after_many, final) - base
        flat = max(sizes[len(sizes) // 2:]) <= max(sizes[:50]) * 1.05
        print(f"growth once idle sessions expired: {growth:.1f} MiB (target <= {GROWTH_TARGET_MIB} MiB): "
              f"{'ok' if growth <= GROWTH_TARGET_MIB else 'OVER'}; response size flat: {'ok' if flat else 'NO'}")
        return 0 if growth <= GROWTH_TARGET_MIB and flat else 1
    finally:
        server.stop()
        if not given:  # a data folder of its own: removed, index and all
            shutil.rmtree(home, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_sessions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--idle", type=float, default=30.0, help="the UI's idle time, seconds")
    parser.add_argument("--workers", type=int, default=4, help="concurrent clients")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.port, args.idle)
    return run(args.sessions, args.questions, args.idle, args.workers)


if __name__ == "__main__":
    sys.exit(main())
