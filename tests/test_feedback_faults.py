"""A feedback file that cannot be used never stops the service: the real `policyqa serve` starts,
answers, and says once that feedback is off (ui/feedback.py, FeedbackStore.open_or_disable).

Each case starts the server as a child process (tests/servers.py). It runs without the
capabilities that let root ignore file permissions, so "unreadable" and "read-only" mean for
it what they mean for any user of the machine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.request

import pytest

from tests import servers
from ui.feedback import FeedbackStore

pytestmark = pytest.mark.slow

NAME = "feedback.sqlite3"


def _valid_file(path):
    store = FeedbackStore(path)
    for i in range(300):
        store.add(f"问题{i}" * 20, "回答" * 200, [], "up")
    with sqlite3.connect(path) as conn:  # fold the WAL back in, so the file holds everything
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()


def truncated(path):
    _valid_file(path)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 2)


def random_bytes(path):
    path.write_bytes(os.urandom(8192))


def directory(path):
    path.mkdir()
    (path / "something").write_text("x")


def wrong_schema(path):
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()


def wrong_columns(path):
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, text TEXT)")
    conn.close()


def unreadable(path):
    _valid_file(path)
    path.chmod(0o000)


def read_only(path):
    _valid_file(path)
    path.chmod(0o444)


CORRUPT = [truncated, random_bytes, directory, wrong_schema]  # more shapes in tests/test_feedback.py
LEFT_ALONE = [unreadable, read_only]


def _get(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=60) as response:
        return response.status, response.read()


def _ask(url: str) -> dict:
    request = urllib.request.Request(url + "/api/ask", data=json.dumps({"question": "贷款难怎么办？"}).encode(),
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as response:
        return json.loads(response.read())


def _start_and_check(home, **options) -> str:
    """Start the server, check that it answers the API and the UI; return its log."""
    with servers.serve(home, drop_dac=True, **options) as served:
        assert _ask(served.url)["found"]
        assert _get(served.url + "/")[0] == 200
        log = served.stderr()
    assert "Traceback" not in log
    return log


@pytest.fixture
def home(assistant, policyqa_home, tmp_path):
    home = tmp_path / "home"
    servers.link_index(home, policyqa_home)
    return home


@pytest.mark.parametrize("damage", CORRUPT, ids=lambda f: f.__name__)
def test_a_corrupt_file_is_moved_aside_and_the_service_answers(home, damage):
    damage(home / NAME)
    log = _start_and_check(home)
    warnings = [line for line in log.splitlines() if "feedback is off" in line]
    assert len(warnings) == 1, log
    moved = [p for p in home.iterdir() if p.name.startswith(NAME + ".bad-")]
    assert len(moved) == 1 and str(moved[0]) in warnings[0]
    assert not (home / NAME).exists()  # feedback stays off until the next start
    if damage is random_bytes:  # the next start begins a new, working file (once: each start takes ~10 s)
        log = _start_and_check(home)
        assert "feedback is off" not in log
        assert FeedbackStore(home / NAME).rows() == []


@pytest.mark.parametrize("damage", LEFT_ALONE, ids=lambda f: f.__name__)
def test_an_unreadable_or_read_only_file_turns_feedback_off_and_is_left_alone(home, damage):
    damage(home / NAME)
    before = (home / NAME).stat()
    log = _start_and_check(home)
    warnings = [line for line in log.splitlines() if "feedback is off" in line]
    assert len(warnings) == 1 and "permissions or lock" in warnings[0], log
    assert (home / NAME).stat().st_ino == before.st_ino  # not moved: nothing is wrong with its content
    assert not any(p.name.startswith(NAME + ".bad-") for p in home.iterdir())


def test_a_locked_file_turns_feedback_off_without_holding_up_the_start(home):
    _valid_file(home / NAME)
    holder = sqlite3.connect(home / NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, and never finishing
    try:
        log = _start_and_check(home)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    warnings = [line for line in log.splitlines() if "feedback is off" in line]
    assert len(warnings) == 1 and "locked" in warnings[0], log
    assert len(FeedbackStore(home / NAME).rows()) == 300  # untouched

