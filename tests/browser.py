"""Helpers for the browser tests: serve an ASGI app on loopback, start Debian's Chromium.

Not a test module. The browser is the one from Debian (`apt-get install chromium
fonts-wqy-microhei`); Playwright is never allowed to download its own.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
# Without these, Chromium reaches for Google hosts (updates, sync, field trials, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"  # gitignored


@contextmanager
def serve_app(app, *, startup_timeout: float = 30.0) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL.

    The socket is bound here and handed to uvicorn, so no other process can take
    the port between choosing and serving it. Returns once the server answers an
    HTTP request (any status), and stops it (running the app's shutdown) on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"

    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        _wait_until_answering(base_url, server, thread, startup_timeout)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()


def _wait_until_answering(base_url: str, server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn stopped before serving {base_url}; see the log above for the app's startup error")
        if server.started:
            try:
                no_proxy.open(base_url + "/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answered, with an error status: that is still a running server
            except OSError as exc:
                last_error = exc
        time.sleep(0.05)
    raise RuntimeError(f"uvicorn did not answer on {base_url} within {timeout:.0f}s (last error: {last_error})")


def launch_chromium(playwright, **kwargs):
    """Start headless Debian Chromium through Playwright; fails the test if it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests use Debian's Chromium, never a downloaded one. "
            "Install it with: apt-get install chromium fonts-wqy-microhei "
            "(fonts-noto-color-emoji too, or 👍/👎 show as boxes in the screenshots)",
            pytrace=False,
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS + list(kwargs.pop("args", [])),
        **kwargs,
    )


def artifact_path(name: str) -> Path:
    """Where a screenshot or trace called ``name`` goes (the folder is created)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
