"""The Gradio routes the UI serves, and nothing else.

A mounted Gradio app answers some 60 routes: file upload, file serving, dev
reload, monitoring, the API info and its clients' call routes, vibe editing, …
The UI has no file input and needs few of them. ``UI_ROUTES`` lists the ones it
needs, recorded by driving the real UI in Chromium (every tab, every button,
tests/test_ui_browser.py) and by reading the page's client for what it calls
when its connection drops; ``UiGuard`` answers 404 to every other method and
path below the mount, before Gradio sees the request. It also tells the
session reaper (ui/sessions.py) when a page's heartbeat stream opens and closes,
and makes the queue poll for events every 20 ms, not every millisecond (``quiet_queue``).
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from ui.sessions import SessionReaper

READ = frozenset({"GET", "HEAD"})


class UiRoute(NamedTuple):
    methods: frozenset[str]
    path: re.Pattern[str]  # matched in full against the path below the mount
    why: str


def _route(methods, pattern: str, why: str) -> UiRoute:
    return UiRoute(frozenset(methods), re.compile(pattern), why)


HEARTBEAT = re.compile(r"/gradio_api/heartbeat/([A-Za-z0-9_-]{1,64})")

UI_ROUTES: tuple[UiRoute, ...] = (
    _route(READ, r"/", "the page, with its config embedded"),
    _route(READ, r"/theme\.css", "the theme's stylesheet"),
    _route(READ, r"/assets/[A-Za-z0-9._-]+", "the page's scripts and stylesheets"),
    _route(READ, r"/static/[A-Za-z0-9._/-]+", "the iframe resizer script and fonts"),
    _route(READ, r"/favicon\.ico", "the tab's icon"),
    _route({"POST"}, r"/gradio_api/queue/join", "every event (ask, clear, vote, lookup) joins the queue"),
    _route({"GET"}, r"/gradio_api/queue/data", "the results of a page's events, streamed"),
    _route({"GET"}, HEARTBEAT.pattern, "an open page's heartbeat, which keeps its session"),
    _route({"GET"}, r"/gradio_api/app_id", "a page that lost its connection polls this, then reloads"),
)


def allowed(method: str, path: str) -> bool:
    return any(method in r.methods and r.path.fullmatch(path) for r in UI_ROUTES)


def _route_path(scope) -> str:
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return (path[len(root):] or "/") if root and path.startswith(root) else path


_NOT_FOUND = json.dumps({"detail": "Not Found"}).encode()

# Gradio's queue looks for new events by polling: every 1 ms on Linux (and for progress every 10 ms),
# 0.05 s on Windows. At 1 ms the idle server spent ~5% of a core waking up, and every wake-up takes the
# GIL from the thread answering an API request. At 20 ms a UI event starts at most 20 ms later.
QUEUE_POLL_SECONDS = 0.02
PROGRESS_POLL_SECONDS = 0.1


def quiet_queue(blocks) -> None:
    """Poll ``blocks``' event queue every QUEUE_POLL_SECONDS instead of every millisecond (a Gradio
    version without these attributes is left as it is)."""
    queue = getattr(blocks, "_queue", None)
    if queue is not None and hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = max(queue.sleep_when_free, QUEUE_POLL_SECONDS)
    if queue is not None and hasattr(queue, "progress_update_sleep_when_free"):
        queue.progress_update_sleep_when_free = max(queue.progress_update_sleep_when_free, PROGRESS_POLL_SECONDS)


class UiGuard:
    """ASGI wrapper around the mounted Gradio app: 404 for every route not in ``UI_ROUTES``."""

    def __init__(self, app, reaper: SessionReaper | None = None):
        self.app = app
        self.reaper = reaper
        quiet_queue(getattr(app, "get_blocks", lambda: None)())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":  # Gradio's UI uses no websocket
            await send({"type": "websocket.close", "code": 1008})
            return
        path = _route_path(scope)
        if not allowed(scope["method"], path):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(_NOT_FOUND)).encode())]})
            await send({"type": "http.response.body", "body": _NOT_FOUND})
            return
        heartbeat = HEARTBEAT.fullmatch(path) if self.reaper is not None else None
        if heartbeat is None:
            return await self.app(scope, receive, send)
        session_hash = heartbeat.group(1)
        self.reaper.heartbeat_opened(session_hash)
        try:
            await self.app(scope, receive, send)
        finally:
            self.reaper.heartbeat_closed(session_hash)
