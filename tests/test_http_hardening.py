"""The real app in-process (create_app with the UI, the session's real assistant): deep JSON, the
Host header, frame protection and the offline /docs (assistant/middleware.py, assistant/api.py)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.middleware import MAX_JSON_DEPTH, json_depth

FRAME_HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff"}


@pytest.fixture(scope="module")
def client(settings, assistant, tmp_path_factory):
    home = tmp_path_factory.mktemp("hardening-home")
    app = create_app(settings.model_copy(update={"home": home}), assistant=assistant)
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as test_client:
        yield test_client


# --- deep JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    '{"question": ' + "[" * 1000 + "]" * 1000 + "}",
    '{"question": "贷款", "history": ' + "[" * 1000 + "]" * 1000 + "}",
    '{"question": "贷款", "top_k": ' + '{"a":' * 1000 + "1" + "}" * 1000 + "}",
    "[" * 20000 + "]" * 20000,
    "[" * 1000,  # deep and unfinished
])
def test_deeply_nested_json_is_a_422_with_a_message(client, body):
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert f"at most {MAX_JSON_DEPTH} are accepted" in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_a_media_type_in_any_case_is_checked_for_depth(client, content_type):
    body = '{"question": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post("/api/ask", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422
    assert f"at most {MAX_JSON_DEPTH} are accepted" in response.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    question = "[" * 300 + '\\"{' * 50 + "贷款难怎么办？"
    body = json.dumps({"question": question[:500]}, ensure_ascii=False)
    assert json_depth(body.encode()) == 1
    response = client.post("/api/ask", content=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200


def test_json_depth_matches_the_parsed_structure():
    assert json_depth(b'"[[["') == 0
    assert json_depth(b'{"a": [1, {"b": []}], "c": "]]]"}') == 4
    assert json_depth(b"[" * 40 + b"]" * 40) == 40


# --- frame protection on every response --------------------------------------------------------


@pytest.mark.parametrize("method,path,kwargs", [
    ("GET", "/health", {}),
    ("GET", "/", {}),
    ("GET", "/docs", {}),
    ("GET", "/openapi.json", {}),
    ("GET", "/api/measures/nope/1", {}),  # 404
    ("POST", "/api/ask", {"json": {"question": ""}}),  # 422 from the route
    ("POST", "/api/ask", {"content": b"{", "headers": {"Content-Type": "application/json"}}),  # 422 from BodyGuard
    ("POST", "/api/ask", {"content": b"x" * 70000}),  # 413 from BodyGuard
    ("GET", "/health", {"headers": {"Host": "evil.example"}}),  # 400 from HostGuard
])
def test_every_response_forbids_framing_and_sniffing(client, method, path, kwargs):
    response = client.request(method, path, **kwargs)
    for name, value in FRAME_HEADERS.items():
        assert response.headers.get(name) == value, (path, response.status_code, name)
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")


# --- the Host header is not reflected ----------------------------------------------------------


def _config_root(client, **headers) -> str:
    """The ``root`` of the Gradio config embedded in the page: the URL the page loads everything from."""
    response = client.get("/", headers=headers)
    assert response.status_code == 200, response.text
    (root,) = set(re.findall(r'"root":\s*"([^"]*)"', response.text))
    return root


def test_an_unknown_host_is_refused_with_the_fix(client):
    response = client.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "POLICYQA_ALLOWED_HOSTS" in response.json()["detail"]
    assert client.get("/health", headers={"Host": "evil.example:8000"}).status_code == 400


def test_proxy_headers_cannot_choose_the_page_root(client):
    root = _config_root(client, **{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
                                   "X-Gradio-Server": "http://evil.example"})
    assert "evil" not in root
    assert root == "http://127.0.0.1:8000"
    page = client.get("/", headers={"X-Forwarded-Host": "evil.example"})
    assert page.status_code == 200 and "evil.example" not in page.text


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000"])
def test_loopback_names_are_served(client, host):
    assert _config_root(client, Host=host) == f"http://{host}"


def test_configured_host_names_are_served(settings, assistant, tmp_path):
    app = create_app(settings.model_copy(update={"home": tmp_path, "allowed_hosts": "policy.example, *.intranet"}),
                     assistant=assistant, with_ui=False)
    with TestClient(app) as other:
        assert other.get("/health", headers={"Host": "policy.example"}).status_code == 200
        assert other.get("/health", headers={"Host": "qa.intranet:8000"}).status_code == 200
        assert other.get("/health", headers={"Host": "localhost"}).status_code == 400  # the list replaces the defaults
        assert other.get("/health", headers={"Host": "evil.example"}).status_code == 400


# --- /docs works offline -----------------------------------------------------------------------


def test_docs_and_every_asset_they_reference_come_from_the_app(client):
    page = client.get("/docs")
    assert page.status_code == 200
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', page.text)
    references += re.findall(r'url:\s*["\']([^"\']+)["\']', page.text)  # the OpenAPI document
    assert len(references) >= 4, references
    for ref in references:
        assert not re.match(r"^(https?:)?//", ref), f"/docs loads {ref} from off the machine"
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    assert "cdn" not in page.text.lower()


# --- history turns ------------------------------------------------------------------------------


def test_a_user_turn_over_the_question_limit_is_a_422_with_a_message(client):
    history = [{"role": "user", "content": "贷" * 501}, {"role": "assistant", "content": "答"}]
    response = client.post("/api/ask", json={"question": "这条由哪个部门负责？", "history": history})
    assert response.status_code == 422
    assert response.json()["detail"] == ("history.0.content: a user turn is at most 500 characters, like a question "
                                         "(this one has 501)")


def test_a_long_assistant_turn_is_cut_and_the_follow_up_still_finds_its_measure(client):
    first = client.post("/api/ask", json={"question": "贷款难怎么办？"}).json()
    assert "第14条" in first["answer"][:50]
    long_answer = first["answer"] + "\n" + "补充说明。" * 2000  # 10,000+ characters
    history = [{"role": "user", "content": "贷款难怎么办？"}, {"role": "assistant", "content": long_answer}]
    response = client.post("/api/ask", json={"question": "这条由哪个部门负责？", "history": history})
    assert response.status_code == 200
    body = response.json()
    assert body["intent"] == "followup"
    assert [c["measure_number"] for c in body["citations"]] == [14]


def test_turn_citations_are_accepted_and_bounded():
    from pydantic import ValidationError

    from assistant.models import AskRequest

    cited = [{"doc_id": "weihai-2026-industrial-action-plan", "key": "14"}]
    request = AskRequest(question="这条由哪个部门负责？",
                         history=[{"role": "assistant", "content": "第14条……", "citations": cited}])
    assert request.history[0].citations[0].key == "14"
    with pytest.raises(ValidationError):
        AskRequest(question="问", history=[{"role": "assistant", "content": "答", "citations": cited * 51}])
    with pytest.raises(ValidationError):
        AskRequest(question="问", history=[{"role": "assistant", "content": "答", "citations": [{"doc_id": "d"}]}])


def test_turn_truncation_keeps_the_head_and_the_end():
    from assistant.models import ASSISTANT_TURN_HEAD, MAX_ASSISTANT_TURN_CHARS, Turn

    content = "根据第14条「强化金融助力」：" + "中" * 5000 + "结尾"
    turn = Turn(role="assistant", content=content)
    assert len(turn.content) == MAX_ASSISTANT_TURN_CHARS
    assert turn.content.startswith("根据第14条「强化金融助力」") and turn.content.endswith("结尾")
    assert turn.content[ASSISTANT_TURN_HEAD] == "…"
    assert Turn(role="assistant", content="短").content == "短"
