"""What the UI keeps per visitor: on real servers (uvicorn on loopback, driven over HTTP the way
the page drives it: eval.bench_sessions.UiClient).

- each answer's response stays bounded, and flat once the chat shows its maximum;
- idle sessions are forgotten, an open page's session is not, and no more than the cap are held.

The memory these bounds save is measured by ``python -m eval.bench_sessions``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from assistant.models import MAX_HISTORY_TURNS
from eval.bench_sessions import QUESTIONS, UiClient
from tests.browser import serve_app
from tests.fake_assistant import FakeAssistant
from ui import render
from ui.app import mount_ui
from ui.sessions import MAX_CHAT_CHARS, MAX_CHAT_EXCHANGES, SessionReaper, trim_chat

WAIT = 30.0  # s: the longest a sweep may take to come round on a loaded 2-core machine


def eventually(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: still not so after {timeout:.0f} s")


def questions_shown(chat: list) -> int:
    return sum(1 for m in chat if m["role"] == "user")


def text_of(message: dict) -> str:
    """A message's content: a string, or (as Gradio sends it) a list of {"type": "text", "text": ...}."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


# --- the chat kept and sent per session ---------------------------------------------------------


NOTE = {"role": "assistant", "content": "note"}


def _exchange(i: int, size: int = 10) -> list[dict]:
    return [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a" * size}]


def test_trim_chat_keeps_the_newest_exchanges_and_says_so():
    chat = [m for i in range(15) for m in _exchange(i)]
    trimmed = trim_chat(chat, NOTE, max_exchanges=10)
    assert trimmed[0] == NOTE and questions_shown(trimmed) == 10
    assert trimmed[1]["content"] == "q5" and trimmed[-2]["content"] == "q14"
    again = trim_chat(trimmed + _exchange(15), NOTE, max_exchanges=10)  # the note stays, once
    assert again[0] == NOTE and again.count(NOTE) == 1 and again[1]["content"] == "q6"
    assert trim_chat(chat[:6], NOTE, max_exchanges=10) == chat[:6]  # nothing dropped: no note


def test_trim_chat_bounds_the_characters_but_keeps_the_newest_exchange():
    chat = [m for i in range(5) for m in _exchange(i, size=400)]
    trimmed = trim_chat(chat, NOTE, max_exchanges=10, max_chars=1000)
    assert [m["content"] for m in trimmed if m["role"] == "user"] == ["q3", "q4"]
    huge = _exchange(9, size=5000)
    assert trim_chat(chat + huge, NOTE, max_exchanges=10, max_chars=1000) == [NOTE, *huge]


def test_a_question_too_long_counts_as_an_exchange():
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "太长"}] * 3
    assert questions_shown(trim_chat(chat, NOTE, max_exchanges=2)) == 2


@pytest.fixture(scope="module")
def real_ui(settings, assistant, tmp_path_factory):
    """create_app with the session's real assistant (seed corpus), served by uvicorn."""
    app = create_app(settings.model_copy(update={"home": tmp_path_factory.mktemp("ui-sessions")}), assistant=assistant)
    with serve_app(app) as url:
        yield app, url


@pytest.mark.slow
def test_each_response_stays_bounded_and_flat_in_a_long_conversation(real_ui):
    app, url = real_ui
    client = UiClient(url)
    try:
        session = client.session()
        session.load()
        n = len(QUESTIONS)  # asked in turn: the chat shows the same exchanges every n questions
        replies = [session.ask(QUESTIONS[i % n]) for i in range(MAX_CHAT_EXCHANGES + 3 * n)]
    finally:
        client.close()
    for reply in replies:
        chat = reply.data[0]
        assert questions_shown(chat) <= MAX_CHAT_EXCHANGES
        assert sum(len(text_of(m)) for m in chat) <= MAX_CHAT_CHARS + 100_000  # the newest exchange on top
    last = replies[-1].data[0]
    assert text_of(last[0]) == render.trimmed_note_html() and questions_shown(last) == MAX_CHAT_EXCHANGES
    sizes = [r.size for r in replies]
    print("response sizes (bytes):", sizes)
    # once the chat is full, asking the same questions again gives responses of the same size
    for i in range(MAX_CHAT_EXCHANGES, len(sizes) - n):
        assert abs(sizes[i + n] - sizes[i]) <= 64, (i, sizes)
    assert max(sizes) < 3 * MAX_CHAT_CHARS  # bytes of UTF-8 JSON, whatever the conversation's length
    # what the server holds for the session: the chat shown, and the turns follow-ups need
    held = app.state.ui.demo.state_holder.session_data[session.session_hash]
    kept = [v for v in held.state_data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    assert len(kept) == 2 and all(len(v) <= max(2 * MAX_CHAT_EXCHANGES + 1, MAX_HISTORY_TURNS + 2) for v in kept)


# --- sessions: idle ones expire, open pages stay, a cap holds --------------------------------------


@pytest.fixture
def short_lived_ui(monkeypatch):
    """The UI alone on a FastAPI app, with a 1 s idle time and room for 5 sessions; heartbeats
    every 0.2 s (instead of 15 s), so that a page's leaving is noticed at once."""
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "0.2")
    app = FastAPI()
    fake = FakeAssistant()
    mount_ui(app, lambda: fake, None, idle_seconds=1, max_sessions=5)
    with serve_app(app) as url:
        client = UiClient(url)
        yield app.state.ui, client
        client.close()


def test_idle_sessions_expire_and_an_open_page_keeps_its_own(short_lived_ui):
    ui, client = short_lived_ui
    open_page = client.session()
    open_page.load()
    stop = threading.Event()

    def heartbeat():  # what an open page does: hold its heartbeat stream open
        with httpx.Client(timeout=None, trust_env=False) as http:
            with http.stream("GET", f"{client.api}/heartbeat/{open_page.session_hash}") as stream:
                for _ in stream.iter_lines():
                    if stop.is_set():
                        return

    beating = threading.Thread(target=heartbeat, daemon=True)
    beating.start()
    eventually(lambda: open_page.session_hash in ui.reaper.open_pages, "the heartbeat open")
    holder = ui.demo.state_holder
    for _ in range(3):  # three pages that ask once and never open a heartbeat
        client.session().ask("贷款难怎么办？")
    eventually(lambda: list(holder.session_data) == [open_page.session_hash], "idle sessions forgotten")
    # the open page still has its session: its pickers' choices, its chat
    assert open_page.ask("智能工厂有哪些支持？").data[0][-1]["role"] == "assistant"
    stop.set()
    beating.join(timeout=WAIT)
    assert not beating.is_alive()
    eventually(lambda: not holder.session_data, "the closed page's session forgotten")


def test_no_more_sessions_than_the_cap_are_held(short_lived_ui):
    ui, client = short_lived_ui
    holder = ui.demo.state_holder
    for i in range(12):
        client.session().ask(QUESTIONS[i % len(QUESTIONS)])
        assert len(holder.session_data) <= 5


def test_a_page_whose_session_expired_still_works(short_lived_ui):
    """Its pickers' choices went with its session: the handlers check the values themselves."""
    ui, client = short_lived_ui
    page = client.session()
    page.load()
    eventually(lambda: not ui.demo.state_holder.session_data, "the session forgotten")
    by_department = client.fn_index("by_department")
    # inputs: the search box, then the document, department, part and group pickers
    listing = page.event(by_department, ["", None, "市工业和信息化局", None, None]).data[0]
    assert "市工业和信息化局：共负责 4 条措施" in listing
    assert "没有找到单位「不存在的局」" in page.event(by_department, ["", None, "不存在的局", None, None]).data[0]
    results, detail, *_ = page.event(client.fn_index("detail"), ["第9条"]).data  # not a picker value
    assert "请从列表中选择" in detail


def test_the_reaper_forgets_by_the_clock():
    """A unit check of the rule, on a fake clock: no event and no open heartbeat for the idle time."""

    class Holder:
        def __init__(self):
            self.session_data, self.time_last_used, self.lock = {}, {}, threading.Lock()

        def delete_state(self, sid):
            pass

    class Blocks:
        state_holder = Holder()

    clock = [dt.datetime(2026, 1, 1, 9, 0, 0)]
    reaper = SessionReaper(Blocks, idle_seconds=60, now=lambda: clock[0])
    holder = Blocks.state_holder
    for sid in ("a", "b", "c"):
        holder.session_data[sid] = object()
        holder.time_last_used[sid] = clock[0]
    reaper.heartbeat_opened("b")
    clock[0] += dt.timedelta(seconds=30)
    holder.time_last_used["c"] = clock[0]
    clock[0] += dt.timedelta(seconds=31)
    assert reaper.sweep() == (1, 2) and set(holder.session_data) == {"b", "c"}  # a went
    reaper.heartbeat_closed("b")
    clock[0] += dt.timedelta(seconds=59)
    assert reaper.sweep() == (1, 1) and set(holder.session_data) == {"b"}  # c went; b's page closed 59 s ago
    clock[0] += dt.timedelta(seconds=2)
    assert reaper.sweep() == (1, 0) and not holder.session_data


def test_gradio_keeps_sessions_where_the_reaper_looks():
    """ui/sessions.py edits Gradio's session store directly: this pins the names it relies on."""
    from gradio.state_holder import StateHolder

    holder = StateHolder()
    assert {"session_data", "time_last_used", "lock", "delete_state", "capacity"} <= set(dir(holder)) | set(vars(holder))
