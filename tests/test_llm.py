"""The optional LLM rewrite against real local HTTP servers imitating an OpenAI-compatible endpoint."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

QUESTION = "智能工厂有哪些支持？"


class FakeLLM(BaseHTTPRequestHandler):
    mode = "honest"
    seen: list[dict] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        request = json.loads(self.rfile.read(length))
        type(self).seen.append(request)
        data = json.loads(re.search(r"<data>\n(.*)\n</data>", request["messages"][1]["content"], re.S).group(1))
        extractive = data["extractive_answer"]
        if self.mode == "hang":
            time.sleep(3)
            content = extractive
        elif self.mode == "invent":
            content = extractive + "\n另外，每家企业可获补贴 300 万元。"
        elif self.mode == "empty":
            content = "   "
        elif self.mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        else:
            content = "简要说明：" + extractive
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def llm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def with_llm(assistant, base_url, timeout=1.0):
    view = copy.copy(assistant)
    view.settings = assistant.settings.model_copy(update={
        "llm_base_url": base_url, "llm_model": "fake-model", "llm_api_key": "k", "llm_timeout": timeout})
    return view


def test_without_llm_the_answer_is_extractive(assistant):
    response = assistant.ask(QUESTION)
    assert response.answer_source == "extractive"


def test_honest_rewrite_is_served(assistant, llm_server):
    FakeLLM.mode = "honest"
    FakeLLM.seen.clear()
    response = with_llm(assistant, llm_server).ask(QUESTION)
    assert response.answer_source == "llm"
    assert response.answer.startswith("简要说明：")
    request = FakeLLM.seen[-1]
    assert request["model"] == "fake-model"
    assert "<data>" in request["messages"][1]["content"]  # the question travels as data


@pytest.mark.parametrize("mode", ["invent", "empty", "error", "hang"])
def test_bad_rewrites_fall_back_to_the_extractive_answer(assistant, llm_server, mode):
    FakeLLM.mode = mode
    extractive = assistant.ask(QUESTION)
    started = time.perf_counter()
    response = with_llm(assistant, llm_server, timeout=1.0).ask(QUESTION)
    assert response.answer_source == "extractive"
    assert response.answer == extractive.answer
    assert "300" not in response.answer
    assert time.perf_counter() - started < 2.5  # the hanging server is cut at the timeout


def test_unreachable_endpoint_falls_back(assistant):
    response = with_llm(assistant, "http://127.0.0.1:9/v1", timeout=0.5).ask(QUESTION)
    assert response.answer_source == "extractive"
    assert response.found


def test_refusals_are_not_sent_to_the_llm(assistant, llm_server):
    FakeLLM.mode = "honest"
    FakeLLM.seen.clear()
    response = with_llm(assistant, llm_server).ask("明天威海天气怎么样？")
    assert response.found is False
    assert FakeLLM.seen == []
