"""The bench's light HTTP client: replies cut by Content-Length, closed-loop loads, errors counted."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval.bench import Connection, ReplyReader, ask_request, http_request, run_load, search_request


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = 422 if not body.get("question") else 200
        self._reply(status, {"answer": body.get("question", "")} if status == 200 else {"detail": "empty"})

    def do_GET(self):
        self._reply(200, {"hits": [], "path": self.path})

    def _reply(self, status: int, data: dict) -> None:
        payload = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_replies_are_cut_by_content_length_whatever_the_pieces():
    replies = (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
               b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nx: y\r\n\r\nnope!")
    for size in (1, 3, 7, len(replies)):
        reader = ReplyReader()
        got = [r for start in range(0, len(replies), size) for r in reader.feed(replies[start:start + size])]
        assert [(r.status, r.body) for r in got] == [(200, b"{}"), (404, b"nope!")]


def test_a_chunked_reply_is_refused_with_a_message():
    with pytest.raises(RuntimeError, match="chunked"):
        ReplyReader().feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")


def test_requests_are_complete_http_1_1():
    request = ask_request({"question": "贷款难怎么办？"}, 8000)
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n")
    assert f"Content-Length: {len(body)}".encode() in head and json.loads(body) == {"question": "贷款难怎么办？"}
    assert search_request("智能 工厂", 8000).startswith(b"GET /api/search?q=%E6%99%BA%E8%83%BD+%E5%B7%A5%E5%8E%82&k=5 ")
    assert http_request("GET", "/health", 1).endswith(b"\r\n\r\n")


def test_one_connection_sends_requests_one_after_another(server):
    connection = Connection(server)
    try:
        for question in ("一", "二", "三"):
            reply = connection.send(ask_request({"question": question}, server))
            assert reply.status == 200 and json.loads(reply.body) == {"answer": question}
    finally:
        connection.close()


def test_a_closed_loop_load_counts_requests_and_errors(server):
    good = [ask_request({"question": f"问题{i}"}, server) for i in range(5)]
    bad = ask_request({"question": ""}, server)
    done: list[int] = []
    result = run_load(server, good + [bad], 30, 4, "test", os.getpid(), b'"answer"', on_progress=done.append)
    assert result.requests == 30 and len(done) == 30
    assert len(result.errors) == 5 and all(e.startswith("HTTP 422") for e in result.errors)
    assert len(result.spans) == 25 and result.per_second > 0
    wrong_key = run_load(server, good, 6, 2, "test", os.getpid(), b'"hits"')
    assert len(wrong_key.errors) == 6 and "without" in wrong_key.errors[0]


def test_keep_going_extends_a_load(server):
    requests = [search_request("贷款", server)]
    calls = []

    def keep_going() -> bool:
        calls.append(1)
        return len(calls) < 5

    result = run_load(server, requests, 4, 2, "test", os.getpid(), b'"hits"', keep_going=keep_going)
    assert result.requests > 4 and not result.errors
