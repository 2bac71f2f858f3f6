"""What the served app exposes: no files outside its own, loopback by default, no CORS unless asked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.cli import build_parser
from assistant.settings import Settings

SECRET_PATHS = [
    "/gradio_api/file=/etc/passwd",
    "/file=/etc/passwd",
    "/gradio_api/file=../../../../../../etc/passwd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/static/../../../../etc/passwd",
    "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file=pyproject.toml",
    "/gradio_api/file=corpus/documents/weihai-2026-industrial-action-plan.txt",
]


@pytest.fixture(scope="module")
def client(settings, assistant, tmp_path_factory):
    home = tmp_path_factory.mktemp("security-home")
    app = create_app(settings.model_copy(update={"home": home}), assistant=assistant)
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize("path", SECRET_PATHS)
def test_no_file_outside_the_app_is_served(client, path):
    response = client.get(path)
    assert response.status_code in (400, 403, 404, 405), (path, response.status_code)
    assert "root:" not in response.text
    assert "[project]" not in response.text
    assert "威政办字" not in response.text


def test_the_ui_and_the_api_share_one_app(client):
    assert client.get("/").status_code == 200
    assert client.get("/health").json()["status"] == "ok"


def test_loopback_is_the_default():
    assert Settings().host == "127.0.0.1"
    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"


def test_no_cors_unless_configured(client, settings, assistant):
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    response = client.options("/api/ask", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    allowed = create_app(settings.model_copy(update={"cors_origins": "http://intranet.local"}),
                         assistant=assistant, with_ui=False)
    with TestClient(allowed) as other:
        ok = other.options("/api/ask", headers={**preflight, "Origin": "http://intranet.local"})
        assert ok.headers.get("access-control-allow-origin") == "http://intranet.local"
        bad = other.options("/api/ask", headers=preflight)
        assert bad.headers.get("access-control-allow-origin") != "http://evil.example"
