"""Which of Gradio's routes answer below the UI (ui/routes.py), on a real server (uvicorn on
loopback): every route the page does not need answers 404, and nothing lands in Gradio's cache.
That the page itself still works with only these routes is shown in tests/test_ui_browser.py
(every request a page makes there must succeed)."""

from __future__ import annotations

import httpx
import pytest

from assistant.api import create_app
from tests.browser import serve_app
from tests.fake_assistant import FakeAssistant
from ui.app import build_ui
from ui.routes import UI_ROUTES, allowed

REFUSED = [
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/upload_progress?upload_id=x"),
    ("GET", "/gradio_api/dev/reload"),
    ("GET", "/monitoring"),
    ("GET", "/monitoring/summary"),
    ("GET", "/gradio_api/file=/etc/passwd"),
    ("GET", "/gradio_api/file/etc/passwd"),
    ("GET", "/file=/etc/passwd"),
    ("GET", "/gradio_api/proxy=http://example.com/"),
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("GET", "/gradio_api/openapi.json"),
    ("GET", "/gradio_api/startup-events"),
    ("POST", "/gradio_api/run/predict"),
    ("POST", "/gradio_api/api/predict"),
    ("POST", "/gradio_api/call/ask_and_show"),
    ("POST", "/gradio_api/cancel"),
    ("POST", "/gradio_api/reset"),
    ("POST", "/gradio_api/process_recording"),
    ("POST", "/gradio_api/vibe-edit"),
    ("GET", "/gradio_api/vibe-code"),
    ("GET", "/gradio_api/runs"),
    ("GET", "/gradio_api/deep_link"),
    ("GET", "/gradio_api/user"),
    ("GET", "/gradio_api/token"),
    ("POST", "/login"),
    ("GET", "/logout"),
    ("GET", "/svelte/index.js"),
    ("GET", "/manifest.json"),
    ("GET", "/pwa_icon"),
    ("GET", "/robots.txt"),
    ("GET", "/gradio_api/mcp/sse"),
    ("GET", "/gradio_api/queue/join"),
    ("POST", "/"),
    ("DELETE", "/"),
    ("GET", "/assets/../../../../etc/passwd"),
    ("GET", "/anything/else"),
]


@pytest.fixture
def served_app(tmp_path, monkeypatch, settings):
    """create_app as `policyqa serve` builds it, with Gradio's cache in a folder of the test's own."""
    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    app = create_app(settings.model_copy(update={"home": tmp_path / "home"}), assistant=FakeAssistant())
    with serve_app(app) as url:
        yield url, cache


def test_every_route_the_ui_does_not_need_answers_404(served_app):
    url, cache = served_app
    with httpx.Client(base_url=url, trust_env=False, timeout=30) as http:
        for method, path in REFUSED:
            kwargs = {}
            if path == "/gradio_api/upload":
                kwargs["files"] = [("files", (f"f{i}.txt", b"anonymous content", "text/plain")) for i in range(5)]
            elif method == "POST":
                kwargs["json"] = {"data": [], "fn_index": 0, "session_hash": "x"}
            response = http.request(method, path, **kwargs)
            assert response.status_code == 404, (method, path, response.status_code, response.text[:200])
        # what the page needs still answers
        page = http.get("/")
        assert page.status_code == 200 and "威海市工业经济政策问答" in page.text
        assert http.get("/theme.css").status_code == 200
        assert http.get("/gradio_api/app_id").status_code == 200
        assert http.get("/api/departments").status_code == 200  # the API is not under the UI's guard
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*")), "a file reached Gradio's cache"


def test_the_allowlist_is_small_and_explicit():
    assert len(UI_ROUTES) <= 10 and all(r.why for r in UI_ROUTES)
    assert allowed("GET", "/") and allowed("POST", "/gradio_api/queue/join")
    assert allowed("GET", "/gradio_api/heartbeat/abc123")
    assert not allowed("GET", "/gradio_api/heartbeat/../upload")
    assert not allowed("POST", "/gradio_api/upload") and not allowed("GET", "/gradio_api/queue/join")


def test_gradio_deletes_its_cache():
    """Files Gradio itself writes go once an hour old, and all of them when the server stops."""
    assert build_ui(lambda: None).delete_cache == (3600, 3600)
