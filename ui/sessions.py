"""How long the UI keeps what it holds for each visitor, and how much of it.

Gradio keeps one ``SessionState`` per page (per ``session_hash``): the values of
the ``gr.State`` components and a copy of the config of every component, with
the latest output of each. Left to itself it forgets a session only when the
10,000-session capacity evicts it; ``gr.State(time_to_live=...)`` and the
heartbeat's one-hour delay delete the State values but never the session
itself, and a client that never opens a heartbeat is never marked as gone.

``SessionReaper`` forgets a whole session once it has been idle for
``idle_seconds``: no event, and no open heartbeat stream (an open page keeps
its heartbeat open, so a page left open is never cut off; a closed page's
heartbeat ends, and the idle time runs from then). ``UiGuard`` (ui/routes.py)
tells it when heartbeats open and close. ``cap_sessions`` bounds the number of
sessions held at once (Gradio's own LRU eviction), for floods faster than the
idle time. What each session holds is bounded by the chat trimming in ui/app.py.

Gradio has no public call that forgets a session: this reads and edits
``blocks.state_holder`` (gradio/state_holder.py), which tests/test_ui_sessions.py
pins, so that a Gradio upgrade that changes it fails there first.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

logger = logging.getLogger(__name__)

IDLE_SECONDS = 10 * 60  # a session with no event and no open page for this long is forgotten
MAX_SESSIONS = 200  # sessions held at once; the least recently used one goes first
SWEEP_SECONDS = 30.0  # how often idle sessions are looked for (at most, see SessionReaper)


class Sweep(NamedTuple):
    expired: int  # sessions forgotten by this sweep
    live: int  # sessions still held


def _malloc_trim() -> Callable[[], None]:
    """glibc's malloc_trim(0), which hands freed heap pages back to the system, or a no-op."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): freed memory is reused, not returned
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


class SessionReaper:
    """Forgets the UI sessions of ``blocks`` that have been idle for ``idle_seconds``.

    ``now`` is the clock, in the same terms as Gradio's ``time_last_used``
    (naive local ``datetime``); tests pass their own.
    """

    def __init__(self, blocks, idle_seconds: float = IDLE_SECONDS,
                 now: Callable[[], dt.datetime] = dt.datetime.now):
        if idle_seconds <= 0:
            raise ValueError(f"idle_seconds must be positive, got {idle_seconds}")
        self.blocks = blocks
        self.idle = dt.timedelta(seconds=idle_seconds)
        self.now = now
        self._lock = threading.Lock()
        self._open_heartbeats: Counter[str] = Counter()
        self._heartbeat_ended: dict[str, dt.datetime] = {}
        self._trim = _malloc_trim()

    @property
    def sweep_seconds(self) -> float:
        return min(SWEEP_SECONDS, max(self.idle.total_seconds() / 4, 0.5))

    # --- told by ui.routes.UiGuard --------------------------------------------------------

    def heartbeat_opened(self, session_hash: str) -> None:
        with self._lock:
            self._open_heartbeats[session_hash] += 1

    def heartbeat_closed(self, session_hash: str) -> None:
        with self._lock:
            self._open_heartbeats[session_hash] -= 1
            if self._open_heartbeats[session_hash] <= 0:
                del self._open_heartbeats[session_hash]
                self._heartbeat_ended[session_hash] = self.now()

    @property
    def open_pages(self) -> set[str]:
        """The sessions whose heartbeat stream is open now."""
        with self._lock:
            return set(self._open_heartbeats)

    # --- the sessions ---------------------------------------------------------------------

    @property
    def live_sessions(self) -> int:
        return len(self.blocks.state_holder.session_data)

    def _idle(self, session_hash: str, last_used: dt.datetime | None, now: dt.datetime) -> bool:
        if self._open_heartbeats.get(session_hash):
            return False
        seen = [t for t in (last_used, self._heartbeat_ended.get(session_hash)) if t is not None]
        return not seen or now - max(seen) > self.idle

    def sweep(self) -> Sweep:
        """Forget every idle session now; returns how many went and how many stay."""
        holder = self.blocks.state_holder
        queue = getattr(self.blocks, "_queue", None)
        pending = getattr(queue, "pending_event_ids_session", {})
        busy = {sid for sid, events in list(pending.items()) if events}  # an event queued or running
        now = self.now()
        with self._lock:
            held = list(holder.session_data)
            idle = [sid for sid in held if sid not in busy and self._idle(sid, holder.time_last_used.get(sid), now)]
            for sid, ended in list(self._heartbeat_ended.items()):
                if now - ended > self.idle:
                    del self._heartbeat_ended[sid]
        for sid in idle:
            self.forget(sid)
        # sessions Gradio evicted itself (over the cap) leave their empty entries in the queue
        messages = getattr(queue, "pending_messages_per_session", {})
        for sid in set(pending) - set(held) - busy:
            pending.pop(sid, None)
            messages.pop(sid, None)
        if idle:
            self._trim()
        return Sweep(expired=len(idle), live=self.live_sessions)

    def forget(self, session_hash: str) -> None:
        """Drop one session: its State values (running their delete callbacks), the session itself,
        and what the queue keeps per session (an empty set of pending events stays behind for
        every client that stops reading its stream before Gradio closes it)."""
        holder = self.blocks.state_holder
        holder.delete_state(session_hash)
        with holder.lock:
            holder.session_data.pop(session_hash, None)
            holder.time_last_used.pop(session_hash, None)
        queue = getattr(self.blocks, "_queue", None)
        pending = getattr(queue, "pending_event_ids_session", {})
        if not pending.get(session_hash):
            pending.pop(session_hash, None)
            getattr(queue, "pending_messages_per_session", {}).pop(session_hash, None)
        for streams in (getattr(self.blocks, "pending_streams", {}), getattr(self.blocks, "pending_diff_streams", {})):
            streams.pop(session_hash, None)

    async def run(self) -> None:
        """Sweep every ``sweep_seconds`` until cancelled; log each sweep that forgot something."""
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                swept = self.sweep()
            except Exception:  # a sweep that fails must not stop the next ones; the log says why
                logger.exception("forgetting idle UI sessions failed; trying again in %.0f s", self.sweep_seconds)
                continue
            if swept.expired:
                logger.info("UI sessions: %d idle for over %.0f s forgotten, %d live",
                            swept.expired, self.idle.total_seconds(), swept.live)


def cap_sessions(blocks, max_sessions: int = MAX_SESSIONS) -> None:
    """At most ``max_sessions`` sessions at once: Gradio evicts the least recently used one."""
    if max_sessions < 1:
        raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
    blocks.state_session_capacity = max_sessions
    holder = getattr(blocks, "state_holder", None)
    if holder is not None:
        holder.capacity = max_sessions


# --- what one session keeps ------------------------------------------------------------------

MAX_CHAT_EXCHANGES = 10  # questions (with their answers) the chat shows; older ones are dropped
MAX_CHAT_CHARS = 300_000  # characters of HTML the chat shows; the newest exchange is always kept


def trim_chat(messages: list[dict], note: dict, max_exchanges: int = MAX_CHAT_EXCHANGES,
              max_chars: int = MAX_CHAT_CHARS) -> list[dict]:
    """The newest ``max_exchanges`` exchanges of ``messages`` (a user message and the answers after
    it), fewer if they pass ``max_chars`` of content, never fewer than one; with ``note`` at the top
    once anything has been dropped (now or earlier). The chat is sent whole with every answer and
    kept in the session twice over (the State and Gradio's copy of the chatbot's value), so this
    bounds both the response and the session."""
    had_note = bool(messages) and messages[0] == note
    exchanges: list[list[dict]] = []
    for message in messages[1:] if had_note else messages:
        if message.get("role") == "user" or not exchanges:
            exchanges.append([])
        exchanges[-1].append(message)
    kept = exchanges[-max_exchanges:]
    size = sum(len(str(m.get("content", ""))) for exchange in kept for m in exchange)
    while len(kept) > 1 and size > max_chars:
        size -= sum(len(str(m.get("content", ""))) for m in kept.pop(0))
    trimmed = [m for exchange in kept for m in exchange]
    return [note, *trimmed] if had_note or len(kept) < len(exchanges) else trimmed
