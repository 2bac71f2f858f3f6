"""Held connections against the real `policyqa serve` (a child process on loopback, assistant/server.py).

Stated limits: the child runs with RLIMIT_NOFILE 1,024 (soft = hard, set in preexec_fn), so its
connection cap is 1,024 − 128 = 896; at most 64 connections per client address (the default);
a head deadline of 60 s in the first server (so idle connections are really held during the
test) and of 1 s in the second (to see the deadlines fire). Idle connections come from other
loopback addresses (127.0.0.2 …), as many clients would, and from 127.0.0.1 itself.
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from tests import servers

pytestmark = pytest.mark.slow

NOFILE = 1024
CAP = NOFILE - 128
QUESTION = "贷款难怎么办？"
KINDS = ("per-client", "per-client-idle", "server-cap", "server-cap-idle", "idle", "slow-head", "slow-body", "accept")


def _connect(port: int, source: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def _hold(port: int, count: int, sources: list[str]) -> list[socket.socket]:
    """``count`` connections that send nothing, spread over ``sources``."""
    return [_connect(port, sources[i % len(sources)]) for i in range(count)]


def _still_open(sockets: list[socket.socket]) -> int:
    """How many of ``sockets`` the server has not closed (no EOF or reset waiting to be read)."""
    open_ = 0
    for s in sockets:
        try:
            s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:  # nothing to read, no EOF: still open
            open_ += 1
        except OSError:  # reset
            pass
    return open_


def _request(port: int, method: str, path: str, body: bytes = b"", source: str = "127.0.0.1",
             timeout: float = 60) -> tuple[int, bytes]:
    s = _connect(port, source)
    s.settimeout(timeout)
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    s.sendall(head + body)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _ask(port: int, source: str = "127.0.0.1") -> dict:
    status, body = _request(port, "POST", "/api/ask", json.dumps({"question": QUESTION}).encode(), source)
    assert status == 200, body
    return json.loads(body)


def _refusal_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "refused:" in line]


@pytest.fixture(scope="module")
def held_server(assistant, policyqa_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("held") / "home"
    servers.link_index(home, policyqa_home)
    with servers.serve(home, nofile=NOFILE, env={"POLICYQA_HEADER_TIMEOUT": "60"}) as served:
        yield served


def test_ask_is_served_while_1100_idle_connections_are_held_under_1024_descriptors(held_server):
    sources = [f"127.0.0.{i}" for i in range(2, 22)]  # 20 addresses × 55 connections
    held = _hold(held_server.port, 1100, sources)
    try:
        answer = _ask(held_server.port)
        assert answer["found"] and "第14条" in answer["answer"]
        assert _request(held_server.port, "GET", "/health")[0] == 200
        still_open = _still_open(held)
        # the server keeps as many idle connections as its cap allows, closing the oldest idle ones
        assert CAP - 10 <= still_open <= CAP
        descriptors = len(os.listdir(f"/proc/{held_server.process.pid}/fd"))
        assert descriptors < NOFILE
    finally:
        for s in held:
            s.close()
    time.sleep(0.5)
    log = held_server.stderr()
    assert "Traceback" not in log
    assert "out of system resource" not in log
    lines = _refusal_lines(log)
    # 204 connections were closed to stay under the cap: one line says so
    assert sum("the server holds 896 connections, its cap" in line for line in lines) == 1
    assert len(lines) <= len(KINDS), lines


def test_one_client_holds_at_most_64_connections_and_still_gets_answers(held_server):
    held = _hold(held_server.port, 300, ["127.0.0.1"])
    try:
        answer = _ask(held_server.port)  # same address: its oldest idle connection makes room
        assert answer["found"]
        assert _still_open(held) <= 64
    finally:
        for s in held:
            s.close()
    assert "Traceback" not in held_server.stderr()


@pytest.fixture(scope="module")
def strict_server(assistant, policyqa_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("strict") / "home"
    servers.link_index(home, policyqa_home)
    env = {"POLICYQA_HEADER_TIMEOUT": "1", "POLICYQA_BODY_TIMEOUT": "1", "POLICYQA_KEEP_ALIVE_TIMEOUT": "1"}
    with servers.serve(home, nofile=NOFILE, env=env) as served:
        yield served


def _read_all(s: socket.socket, timeout: float = 30) -> bytes:
    s.settimeout(timeout)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def test_a_head_sent_slowly_gets_408_at_the_deadline(strict_server):
    s = _connect(strict_server.port, "127.0.0.1")
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    sent_more = 0
    try:
        for _ in range(40):  # one header line every 0.1 s: the head never completes
            time.sleep(0.1)
            s.sendall(b"X-Slow: 1\r\n")
            sent_more += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = _read_all(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b"request head not received within 1 s" in data
    assert sent_more < 40, "the server kept reading a head for 4 s"
    assert time.monotonic() - started < 30


def test_a_connection_that_sends_nothing_is_closed(strict_server):
    s = _connect(strict_server.port, "127.0.0.1")
    assert _read_all(s) == b""  # closed by the server (the read would time out otherwise)
    s.close()


def test_a_body_sent_slowly_gets_408(strict_server):
    s = _connect(strict_server.port, "127.0.0.1")
    s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{\"question\":")
    data = _read_all(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b"request body not received within 1 s" in data


def test_deadlines_do_not_cut_ordinary_requests_and_are_logged_once_per_kind(strict_server):
    for _ in range(3):
        assert _ask(strict_server.port)["found"]
    for _ in range(3):  # more of the same kinds: counted, not logged again
        s = _connect(strict_server.port, "127.0.0.1")
        s.sendall(b"GET /health HTTP/1.1\r\n")
        _read_all(s)
        s.close()
    log = strict_server.stderr()
    assert "Traceback" not in log
    lines = _refusal_lines(log)
    assert sum("request heads not complete" in line for line in lines) == 1
    assert sum("sent nothing" in line for line in lines) <= 1
