"""POLICYQA_SEARCH=milvus end to end: the real app, the real assistant, real Milvus Lite (a .db file per module).

Two services share the seed index of the test session: the in-process one (the session's
``assistant``) and one searching through Milvus; they must answer alike. A third service over
a copy of the corpus shows rebuilds: a new document reaches Milvus under the new index version,
older Milvus versions are dropped, and a rebuild whose copy into Milvus fails keeps the old index
serving. A Milvus that fails during a question is a 503 saying what to check; one that cannot be
reached at start stops `policyqa serve` with one line and status 2 (a real server process).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from tests import servers

SEED = "weihai-2026-industrial-action-plan"
SAMPLES = Path(__file__).resolve().parent.parent / "corpus" / "samples"
WUHAN = "wuhan_2026_ai-opc-measures"  # a document added to the corpus copy, then searched for
TAIAN = "taian_2026_ai-opc-opinions"
ADMIN = {"Authorization": "Bearer s3cret"}


def seed_questions(per_type: int = 2) -> list[str]:
    """A handful of the test part's retrieval questions: the first ``per_type`` of each type."""
    from eval.questions_file import load_questions
    from eval.run import RETRIEVAL_TYPES

    chosen: dict[str, list[str]] = {}
    for q in load_questions().part("test").questions:
        if q.type in RETRIEVAL_TYPES and q.gold and not q.history and len(chosen.setdefault(q.type, [])) < per_type:
            chosen[q.type].append(q.question)
    return [question for questions in chosen.values() for question in questions]


def milvus_of(service):
    """The MilvusBackend a service searches through (its SearchMirror's backend)."""
    return service._search.backend


def keys(items) -> list[tuple[str, str]]:
    return [(item["doc_id"], item["measure_key"]) for item in items]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def milvus_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("milvus-service")


@pytest.fixture(scope="module")
def inprocess_client(settings, assistant):
    app = create_app(settings, assistant=assistant, with_ui=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def milvus_service(settings, assistant, milvus_folder):
    """The seed index of the session, searched through Milvus Lite (its start copies the index in)."""
    from assistant.service import PolicyAssistant

    update = {"search": "milvus", "milvus_uri": str(milvus_folder / "service.db"), "watch": False}
    service = PolicyAssistant(settings.model_copy(update=update), embedder=assistant.embedder)
    yield service
    service.close()


@pytest.fixture(scope="module")
def milvus_client(settings, milvus_service):
    app = create_app(milvus_service.settings, assistant=milvus_service, with_ui=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def growing(settings, assistant, milvus_folder, tmp_path_factory):
    """A service over a copy of the seed corpus, searching through Milvus, that tests add documents to and
    rebuild with POST /api/reindex. Yields (service, client, corpus folder).

    The rebuilds run in this process (``build_in_child=False``): a server builds in a child process at
    nice +10, which only changes where the new index is built; the copy into Milvus is made here either way."""
    from assistant.service import PolicyAssistant

    corpus = tmp_path_factory.mktemp("growing-corpus")
    shutil.copy(SAMPLES / f"{SEED}.txt", corpus / f"{SEED}.txt")
    update = {"corpus": corpus, "search": "milvus", "milvus_uri": str(milvus_folder / "growing.db"),
              "admin_token": "s3cret", "watch": False}
    service = PolicyAssistant(settings.model_copy(update=update), embedder=assistant.embedder, build_in_child=False)
    app = create_app(service.settings, assistant=service, with_ui=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield service, client, corpus
    service.close()


# --------------------------------------------------------------------------- what /health says


@pytest.mark.slow
def test_health_names_the_search_backend(inprocess_client, milvus_client, milvus_folder):
    inprocess = inprocess_client.get("/health").json()
    assert (inprocess["search_backend"], inprocess["milvus_uri"]) == ("inprocess", None)

    milvus = milvus_client.get("/health").json()
    assert (milvus["search_backend"], milvus["milvus_uri"]) == ("milvus", str(milvus_folder / "service.db"))
    assert milvus["index_version"] == inprocess["index_version"] and milvus["status"] == "ok"


def test_health_shows_a_server_uri_without_credentials(settings):
    from assistant.models import HealthResponse
    from assistant.search_backend import open_search, search_info

    server = settings.model_copy(update={"search": "milvus", "milvus_token": "api-key-123",
                                         "milvus_uri": "https://root:pw-s3cret@milvus.internal:19530/prod?token=abc"})
    mirror = open_search(server, None, say=print)  # no embedder needed: nothing connects before check() or sync()
    shown = HealthResponse(status="ok", index_version="v", documents=1, chunks=1,
                           **search_info(server, mirror)).model_dump()
    assert (shown["search_backend"], shown["milvus_uri"]) == ("milvus", "https://milvus.internal:19530/prod")
    assert all(secret not in str(shown) for secret in ("root", "s3cret", "abc", "api-key-123"))


# --------------------------------------------------------------------------- answering through Milvus


@pytest.mark.slow
def test_milvus_answers_and_searches_like_inprocess(inprocess_client, milvus_client):
    """The same first citation (and the same citations: the fused scores share a scale, so the answer keeps
    the same measures beside the best), and the same search ranking."""
    questions = seed_questions()
    assert len(questions) >= 6
    for question in questions:
        asked = [client.post("/api/ask", json={"question": question}) for client in (inprocess_client, milvus_client)]
        assert [r.status_code for r in asked] == [200, 200], question
        inprocess, milvus = (keys(r.json()["citations"]) for r in asked)
        assert inprocess and milvus[:1] == inprocess[:1], question
        assert milvus == inprocess, question

        found = [client.get("/api/search", params={"q": question, "k": 5}) for client in (inprocess_client,
                                                                                            milvus_client)]
        assert [r.status_code for r in found] == [200, 200], question
        inprocess, milvus = (keys(r.json()["hits"]) for r in found)
        assert milvus[:1] == inprocess[:1] and milvus[:3] == inprocess[:3], question
        scores = [[hit["score"] for hit in r.json()["hits"][:3]] for r in found]
        assert scores[1] == pytest.approx(scores[0], abs=2e-3), question


# --------------------------------------------------------------------------- Milvus failing


@pytest.mark.slow
def test_a_milvus_failing_during_a_question_is_a_503_saying_what_to_check(milvus_client, milvus_service):
    backend = milvus_of(milvus_service)
    assert milvus_client.post("/api/ask", json={"question": "贷款难怎么办？"}).status_code == 200
    # Simulated outage: the pymilvus client under the backend is closed, so every call to Milvus fails
    # as when the server goes away (MilvusException "should create connection first"); backend.close()
    # afterwards drops that client and the next call connects again, as after the server is back.
    backend._client().close()
    try:
        asked = milvus_client.post("/api/ask", json={"question": "贷款难怎么办？"})
        searched = milvus_client.get("/api/search", params={"q": "贷款难怎么办？"})
        health = milvus_client.get("/health")
    finally:
        backend.close()
    for response in (asked, searched):
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "Milvus at" in detail and "POLICYQA_MILVUS_URI" in detail and "Milvus server is running" in detail
    assert health.status_code == 200 and health.json()["search_backend"] == "milvus"
    recovered = milvus_client.post("/api/ask", json={"question": "贷款难怎么办？"})
    assert recovered.status_code == 200 and recovered.json()["citations"][0]["measure_key"] == "14"


def test_serve_with_an_unreachable_milvus_says_so_in_one_line_and_exits_2(tmp_path):
    home = tmp_path / "home"  # empty: a start that got as far as the index would build one here
    port = servers.free_port()  # bound once and released: nothing listens there, connections are refused
    env = {"POLICYQA_SEARCH": "milvus", "POLICYQA_MILVUS_URI": f"http://root:pw-s3cret@127.0.0.1:{port}",
           "POLICYQA_MILVUS_TOKEN": "token-s3cret"}
    process, _, log = servers.start(home, env=env)
    assert process.wait(timeout=90) == 2
    (line,) = log.read_text(encoding="utf-8").strip().splitlines()
    assert line.startswith(f"error: cannot connect to Milvus at http://127.0.0.1:{port}")
    assert "POLICYQA_MILVUS_URI" in line and "POLICYQA_SEARCH=inprocess" in line
    assert "s3cret" not in line
    assert not (home / "index").exists()  # stopped before reading or building the index


# --------------------------------------------------------------------------- rebuilds


def live_versions(service) -> list:
    """Every version the service's Milvus holds (a list of VersionInfo)."""
    return milvus_of(service).versions()


@pytest.mark.slow
def test_a_rebuild_moves_milvus_to_the_new_index_version(growing):
    service, client, corpus = growing
    before = client.get("/health").json()["index_version"]
    (live,) = live_versions(service)
    assert live.live and live.tag == before

    shutil.copy(SAMPLES / f"{WUHAN}.txt", corpus / f"{WUHAN}.txt")
    response = client.post("/api/reindex", headers=ADMIN)
    assert response.status_code == 200, response.text
    after = response.json()["index_version"]
    health = client.get("/health").json()
    assert after != before and health["index_version"] == after and health["last_rebuild_error"] is None

    (live,) = live_versions(service)  # the older Milvus version is dropped
    assert live.live and live.tag == after
    question = "武汉的算力服务券对OPC使用算力补助多少？"
    hits = client.get("/api/search", params={"q": question}).json()["hits"]
    assert hits[0]["doc_id"] == WUHAN
    answer = client.post("/api/ask", json={"question": question}).json()
    assert answer["found"] and answer["citations"][0]["doc_id"] == WUHAN


@pytest.mark.slow
def test_a_rebuild_whose_milvus_copy_fails_keeps_the_old_index_serving(growing, monkeypatch):
    from pymilvus.exceptions import MilvusException

    service, client, corpus = growing
    before = client.get("/health").json()["index_version"]
    shutil.copy(SAMPLES / f"{TAIAN}.txt", corpus / f"{TAIAN}.txt")
    question = "泰安对OPC的一站式注册服务窗口能办哪些事？"

    def refuse(*args, **kwargs):
        raise MilvusException(message="deny to write, reason: disk quota exceeded")

    # Simulated: Milvus refuses writes (its disk quota is reached) and still answers searches; the
    # pymilvus client's upsert raises what such a server sends.
    with monkeypatch.context() as patch:
        patch.setattr(milvus_of(service)._client(), "upsert", refuse)
        response = client.post("/api/reindex", headers=ADMIN)
    assert response.status_code == 503
    assert "cannot be copied into the search backend milvus" in response.json()["detail"]
    assert "disk quota exceeded" in response.json()["detail"]
    health = client.get("/health").json()
    assert health["index_version"] == before
    assert "disk quota exceeded" in health["last_rebuild_error"]
    (live,) = live_versions(service)  # the half-filled version is gone, the old one serves
    assert live.live and live.tag == before
    answer = client.post("/api/ask", json={"question": "智能工厂有哪些支持？"})
    assert answer.status_code == 200 and answer.json()["citations"][0]["measure_key"] == "9"
    assert TAIAN not in {hit["doc_id"] for hit in client.get("/api/search", params={"q": question}).json()["hits"]}

    # Milvus takes writes again: the next rebuild goes through
    response = client.post("/api/reindex", headers=ADMIN)
    assert response.status_code == 200, response.text
    health = client.get("/health").json()
    assert health["index_version"] != before and health["last_rebuild_error"] is None
    (live,) = live_versions(service)
    assert live.tag == health["index_version"]
    assert client.get("/api/search", params={"q": question}).json()["hits"][0]["doc_id"] == TAIAN
