"""What the web layer adds to an answer: one thread hop, our own bytes, a quiet UI queue."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from assistant.api import Worker, create_app, worker_threads
from assistant.models import AskResponse, SearchResponse
from tests.fake_assistant import FakeAssistant


class Recording(FakeAssistant):
    """The fake engine, noting the threads that answer and how many answer at once."""

    def __init__(self):
        super().__init__()
        self.threads: list[str] = []
        self.busy = self.most = 0
        self.lock = threading.Lock()

    def ask(self, question, history=None, top_k=None):
        with self.lock:
            self.threads.append(threading.current_thread().name)
            self.busy += 1
            self.most = max(self.most, self.busy)
        time.sleep(0.02)
        try:
            return super().ask(question, history, top_k)
        finally:
            with self.lock:
                self.busy -= 1

    def search(self, query, k=5):
        return [c for c in super().ask(query).citations][:k]

    def health(self):
        return {"status": "ok", "index_version": "test", "documents": 1, "chunks": 4, "rebuild": "idle",
                "watching": False, "last_rebuild_error": None}


def test_ask_and_search_bodies_are_the_models_own_json(settings):
    engine = Recording()
    with TestClient(create_app(settings, assistant=engine, with_ui=False)) as client:
        response = client.post("/api/ask", json={"question": "智能工厂有哪些支持？"})
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        expected = FakeAssistant().ask("智能工厂有哪些支持？")
        assert response.content == expected.model_dump_json().encode()
        assert AskResponse.model_validate_json(response.content) == expected
        found = client.get("/api/search", params={"q": "智能工厂", "k": 2})
        assert found.status_code == 200
        assert SearchResponse.model_validate_json(found.content).hits == engine.search("智能工厂", 2)
        # the security headers still come with it
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    # answered on a worker thread (never the event loop's), one hop
    assert engine.threads and all(name != threading.main_thread().name for name in engine.threads)


def test_the_openapi_schema_still_names_the_response_models(settings):
    with TestClient(create_app(settings, assistant=Recording(), with_ui=False)) as client:
        paths = client.get("/openapi.json").json()["paths"]
    ask = paths["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    search = paths["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ask == {"$ref": "#/components/schemas/AskResponse"}
    assert search == {"$ref": "#/components/schemas/SearchResponse"}


def test_no_more_answers_run_at_once_than_the_worker_has_threads(settings, monkeypatch):
    import assistant.api as api

    monkeypatch.setattr(api, "available_cores", lambda: 2)
    engine = Recording()
    app = create_app(settings, assistant=engine, with_ui=False)
    with TestClient(app) as client:
        results: list[int] = []
        callers = [threading.Thread(target=lambda: results.append(
            client.post("/api/ask", json={"question": "贷款难怎么办？"}).status_code)) for _ in range(6)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
    assert results == [200] * 6
    assert engine.most <= 2


def test_a_domain_error_inside_the_worker_is_still_its_http_status(settings):
    class Failing(Recording):
        def ask(self, question, history=None, top_k=None):
            from assistant.errors import SearchUnavailable

            raise SearchUnavailable("the search backend is down; start Milvus")

    with TestClient(create_app(settings, assistant=Failing(), with_ui=False)) as client:
        response = client.post("/api/ask", json={"question": "贷款难怎么办？"})
    assert response.status_code == 503 and "start Milvus" in response.json()["detail"]


def test_worker_threads_are_the_cores_plus_what_waits_on_the_network(settings):
    from index.embedders import available_cores

    cores = available_cores()
    assert Worker().threads == cores and Worker(3).threads == 3
    assert worker_threads(settings) == cores
    llm = settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m", "llm_concurrency": 3})
    assert worker_threads(llm) == cores + 3
    assert worker_threads(settings.model_copy(update={"search": "milvus"})) == 2 * cores


def test_the_mounted_ui_queue_polls_every_20_ms_not_every_millisecond(settings):
    from ui.routes import PROGRESS_POLL_SECONDS, QUEUE_POLL_SECONDS

    app = create_app(settings, assistant=Recording(), with_ui=True)
    queue = app.state.ui.demo._queue
    assert queue.sleep_when_free == QUEUE_POLL_SECONDS == 0.02
    assert queue.progress_update_sleep_when_free == PROGRESS_POLL_SECONDS
