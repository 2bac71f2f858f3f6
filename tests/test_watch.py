"""The corpus watch and background rebuilds, on a real `policyqa serve` process.

A document copied into the served corpus folder is indexed in the background (a child
process builds it) and served without a restart; /health shows the rebuild and the new
version. POLICYQA_WATCH=0 turns the watch off. A build process killed with SIGKILL mid-way
leaves the old index serving, and its leftovers go at the next build.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from watchfiles import Change

from assistant.watching import CorpusChanges, CorpusFilter

ROOT = Path(__file__).resolve().parent.parent
SMALL = """小企业扶持办法

一、资金支持
1. 设立专项资金。每年安排资金1000万元，支持中小企业技术改造和设备更新。（市财政局、工业和信息化局按职责分工负责）
2. 扩大信贷投放。鼓励银行扩大首贷、续贷，缓解融资难题。（人民银行威海市分行负责）
"""
TALENT = """人才引进办法

一、人才引进
1. 发放人才公寓。为引进的博士提供人才公寓300套，解决住房难题。（市住房城乡建设局负责）
2. 设立引才奖励。企业引进高层次人才的，给予每人20万元奖励。（市委组织部、市人力资源社会保障局按职责分工负责）
"""


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def health(self) -> dict:
        return httpx.get(self.url + "/health", timeout=10).json()


@contextmanager
def serve(tmp_path: Path, corpus: Path, **env: str):
    """`policyqa serve` as its own process (own session), with its own data folder; stopped at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / f"serve-{port}.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    child_env.update(POLICYQA_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
                     GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1", NO_PROXY="*", **env)
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port),
                                    "--corpus", str(corpus)], cwd=ROOT, env=child_env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"serve exited with {process.returncode}:\n{server.output()[-3000:]}"
            assert time.monotonic() < deadline, f"serve did not answer /health:\n{server.output()[-3000:]}"
            try:
                if httpx.get(server.url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


def small_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.txt").write_text(SMALL, encoding="utf-8")
    return corpus


def wait_for_new_version(server: Server, old: str, timeout: float = 120) -> tuple[dict, list[str], float]:
    """Poll /health every 50 ms until index_version differs from ``old``: (health, rebuild states seen, seconds)."""
    started, states = time.monotonic(), []
    while True:
        health = server.health()
        states.append(health["rebuild"])
        if health["index_version"] != old and health["rebuild"] == "idle":
            return health, states, time.monotonic() - started
        assert time.monotonic() - started < timeout, f"no new version; states {states[-5:]}\n{server.output()[-3000:]}"
        time.sleep(0.05)


# -- what a batch of changes means ------------------------------------------------------------------------
def test_changes_are_folded_per_file(tmp_path):
    folder = tmp_path.resolve()
    batch = {(Change.added, str(folder / "new.txt")), (Change.modified, str(folder / "new.txt")),
             (Change.modified, str(folder / "sub" / "plan.docx")), (Change.deleted, str(folder / "old.pdf")),
             (Change.added, str(folder / "tmp.md")), (Change.deleted, str(folder / "tmp.md"))}
    changes = CorpusChanges.from_watchfiles(folder, batch)
    assert changes == CorpusChanges(added=("new.txt",), modified=("sub/plan.docx",), removed=("old.pdf",))
    assert changes.describe() == "added new.txt; modified sub/plan.docx; removed old.pdf"
    assert not CorpusChanges.from_watchfiles(folder, {(Change.added, str(folder / "a.txt")),
                                                      (Change.deleted, str(folder / "a.txt"))})


@pytest.mark.parametrize("change, name, kept", [
    (Change.added, "plan.TXT", True), (Change.modified, "plan.docx", True), (Change.added, "a.pdf.meta.json", True),
    (Change.added, "notes.xlsx", False), (Change.modified, ".plan.txt.swp", False), (Change.added, "~$plan.docx", False),
    (Change.added, ".hidden.txt", False), (Change.deleted, "a-folder", True), (Change.added, "a-folder", False),
])
def test_only_documents_and_sidecars_count(tmp_path, change, name, kept):
    assert CorpusFilter()(change, str(tmp_path / name)) is kept


# -- a real server ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_document_copied_into_the_corpus_is_served_after_a_background_rebuild(tmp_path):
    corpus = small_corpus(tmp_path)
    outside = tmp_path / "talent.txt"
    outside.write_text(TALENT, encoding="utf-8")
    with serve(tmp_path, corpus, POLICYQA_WATCH_SETTLE_MS="1500") as server:
        before = server.health()
        assert before["watching"] is True and before["rebuild"] == "idle" and before["documents"] == 1
        assert "POLICYQA_WATCH=0 turns this off" in server.output()

        shutil.copy(outside, corpus / "talent.txt")
        health, states, seconds = wait_for_new_version(server, before["index_version"])
        print(f"copy → new index version served: {seconds:.1f} s")
        assert "pending" in states and "running" in states  # settling (1.5 s, polled every 50 ms), then building
        assert states.index("pending") < states.index("running")
        assert health["documents"] == 2 and health["last_rebuild_error"] is None
        documents = httpx.get(server.url + "/api/measures", timeout=10).json()["documents"]
        assert sorted(d["doc_id"] for d in documents) == ["small", "talent"]
        answer = httpx.post(server.url + "/api/ask", json={"question": "引进博士有人才公寓吗？"}, timeout=30).json()
        assert answer["citations"][0]["doc_id"] == "talent" and "300套" in answer["citations"][0]["quote"]
        log = server.output()
        assert "corpus changed: added talent.txt; rebuilding in the background once the folder has been quiet " \
               "for 1.5 s" in log
        assert f"index {health['index_version']} is live: 2 document(s)" in log

        (corpus / "talent.txt").unlink()
        health, _, _ = wait_for_new_version(server, health["index_version"])
        assert health["documents"] == 1
        assert "corpus changed: removed talent.txt" in server.output()


@pytest.mark.slow
def test_the_watch_can_be_turned_off(tmp_path):
    corpus = small_corpus(tmp_path)
    with serve(tmp_path, corpus, POLICYQA_WATCH="0", POLICYQA_WATCH_SETTLE_MS="100") as server:
        before = server.health()
        assert before["watching"] is False
        (corpus / "talent.txt").write_text(TALENT, encoding="utf-8")
        time.sleep(3)  # 30x the settle time the watch would have waited
        after = server.health()
        assert (after["index_version"], after["documents"], after["rebuild"]) == (before["index_version"], 1, "idle")
        assert "corpus changed" not in server.output() and "watching" not in server.output()


@pytest.mark.slow
def test_a_build_process_killed_mid_reindex_leaves_the_old_index_serving(tmp_path):
    """POST /api/reindex starts a build process; it is killed with SIGKILL while it writes its version. The
    request answers 503 saying so, the old index keeps serving, and the next build removes what it left."""
    corpus = small_corpus(tmp_path)
    headers = {"Authorization": "Bearer s3cret"}
    with serve(tmp_path, corpus, POLICYQA_ADMIN_TOKEN="s3cret", POLICYQA_WATCH="0") as server:
        before = server.health()["index_version"]
        versions = next((tmp_path / "home" / "index").rglob("versions"))
        responses: list[httpx.Response] = []
        request = threading.Thread(target=lambda: responses.append(
            httpx.post(server.url + "/api/reindex", headers=headers, timeout=120)))
        request.start()
        deadline = time.monotonic() + 60
        while not (building := list(versions.glob(".build-*"))):
            assert time.monotonic() < deadline and request.is_alive(), "the build never started writing"
            time.sleep(0.005)
        pid = int(building[0].name.split("-")[1])
        assert pid != server.process.pid  # built by a child process, not inside the server
        os.kill(pid, signal.SIGKILL)
        request.join()
        (response,) = responses
        assert response.status_code == 503
        assert response.json()["detail"].startswith("the index build process was killed by signal 9 before it "
                                                     "finished; the live index is unchanged")
        health = server.health()
        assert health["index_version"] == before and health["last_rebuild_error"] == response.json()["detail"]
        assert httpx.post(server.url + "/api/ask", json={"question": "贷款难怎么办？"}, timeout=30).status_code == 200
        assert building[0].exists()  # left behind ...

        response = httpx.post(server.url + "/api/reindex", headers=headers, timeout=120)
        assert response.status_code == 200 and response.json()["index_version"] != before
        assert not building[0].exists()  # ... and removed by the next build, which says so
        assert f"removed what an interrupted index build left in {versions.parent}: {building[0].name} (" in \
            server.output()
