"""Helpers that run the real ``policyqa serve`` as a child process on loopback. Not a test module.

The child is ``python -m assistant.cli serve`` (the console script's own entry point) started from
this checkout, with its own POLICYQA_HOME whose ``index`` folder links to an index already built
(so a start takes seconds), its stderr in a file, and optional process limits applied in
``preexec_fn``: a file-descriptor limit (``resource.setrlimit``) and, for root, dropping the
capabilities that let root read and write any file (so file permissions apply as to a user).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
PR_CAPBSET_DROP = 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def link_index(home: Path, built_home: Path) -> None:
    """Let ``home`` use the index built under ``built_home`` (read-only use; nothing is rebuilt)."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "index").exists():
        (home / "index").symlink_to(built_home / "index", target_is_directory=True)


def _limits(nofile: int | None, drop_dac: bool):
    def apply():
        os.setsid()  # its own process group, so a stop ends everything it started
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        if drop_dac and os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
                if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return apply


@dataclass
class Served:
    process: subprocess.Popen
    url: str
    port: int
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start(home: Path, *, port: int | None = None, env: dict[str, str] | None = None, nofile: int | None = None,
          drop_dac: bool = False, args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, int, Path]:
    """Start ``policyqa serve`` (not waiting for it); returns the process, its port and its log file."""
    port = port or free_port()
    log = home.parent / f"{home.name}-serve-{port}.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    child_env.update({"POLICYQA_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                      "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "NO_PROXY": "*"})
    child_env.update(env or {})
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), *args],
                                   cwd=ROOT, env=child_env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, preexec_fn=_limits(nofile, drop_dac))
    return process, port, log


@contextmanager
def serve(home: Path, *, timeout: float = 120.0, **options) -> Iterator[Served]:
    """Start ``policyqa serve`` and yield once GET /health answers 200; stop it (SIGTERM, then SIGKILL)."""
    process, port, log = start(home, **options)
    served = Served(process, f"http://127.0.0.1:{port}", port, log)
    try:
        wait_healthy(served, timeout)
        yield served
    finally:
        stop(process)


def wait_healthy(served: Served, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"policyqa serve exited with {served.process.returncode}:\n{served.stderr()[-3000:]}")
        try:
            with opener.open(served.url + "/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"policyqa serve did not answer /health within {timeout:.0f} s:\n{served.stderr()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
