"""Build an index version in a child process at lower priority, so a serving process keeps its cores.

A rebuild inside the server (tokenizing, BM25, FAISS, embedding) shares the GIL
and both cores with the queries it serves: their p95 went from ~50 ms to ~0.6 s
while it ran. Here the build runs in a fresh interpreter of its own
(``python -m index.child_build``: nothing inherited from the server's threads,
and unlike multiprocessing's spawn it never re-imports the caller's main
script), at ``nice`` +10 and with ``OMP_NUM_THREADS=1``; the server then opens
the finished version, which takes about 0.01 s plus the tokenizer's dictionary.

The child writes back, on a pipe of its own (pickled), the corpus it read (so
the server serves exactly what was indexed) or the error it met, as data.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.store import IndexStoreError  # light: the store imports no numpy, FAISS or engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # holds the index, corpus and assistant packages
NICENESS = 10


@dataclass
class ChildBuild:
    """What a child build made: the version (``path`` = root/versions/<version>) and the corpus it indexed.

    ``built`` is False when the live version already matched the corpus and
    embedder and nothing was written (``force=False`` only).
    """

    version: str
    path: Path
    load: Any  # corpus.loading.CorpusLoad
    built: bool
    seconds: float
    embedded: int
    messages: list[str]  # what the build said (leftovers removed, versions pruned)


class ChildBuildCancelled(IndexStoreError):
    """The build was stopped with :meth:`ChildBuilder.cancel` (the server is shutting down)."""


def _child_main(spec: dict) -> None:
    """Entry point of the child: lower priority, build, write the outcome to the pipe ``spec["fd"]``."""
    try:
        os.nice(spec["niceness"])
    except OSError:
        pass  # not allowed here: build at normal priority rather than not at all
    signal.signal(signal.SIGTERM, _stop)  # cancel(): leave through the build's cleanup
    messages: list[str] = []
    try:
        outcome = ("ok", _build(spec["corpus"], Path(spec["root"]), spec["embedder"], spec["force"],
                                messages.append), messages)
    except BaseException as exc:  # noqa: BLE001 - every failure is sent back, as data
        outcome = ("error", _describe(exc), messages)
    with os.fdopen(spec["fd"], "wb") as out:
        pickle.dump(outcome, out, protocol=pickle.HIGHEST_PROTOCOL)


def _stop(signum, frame) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def _build(corpus: str | None, root: Path, embedder_name: str, force: bool, say) -> dict:
    import time

    from corpus.loading import load_corpus
    from index.building import build_index
    from index.embedders import make_embedder
    from index.store import live_version_dir, read_manifest

    started = time.perf_counter()
    load = load_corpus(corpus)
    if not force:
        try:
            live = live_version_dir(root)
            manifest = read_manifest(live, verify=False) if live is not None else None
        except Exception:  # noqa: BLE001 - an unreadable live version is simply rebuilt
            manifest = None
        if manifest is not None and manifest.corpus_hash == load.corpus_hash and manifest.embedder == embedder_name:
            return {"version": manifest.version, "path": str(live), "load": load, "built": False,
                    "seconds": time.perf_counter() - started, "embedded": 0}
    embedder = make_embedder(embedder_name)
    loaded = build_index(load, root, embedder, say=say)
    return {"version": loaded.version, "path": str(loaded.path), "load": load, "built": True,
            "seconds": time.perf_counter() - started, "embedded": loaded.manifest.embedded}


def _describe(exc: BaseException) -> dict:
    """An exception as plain data (exception classes with custom constructors do not always unpickle)."""
    from index.store import DiskFullError, IndexStoreError

    data = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__, "kind": "other"}
    if isinstance(exc, DiskFullError):
        data.update(kind="disk_full", path=str(exc.path), free=exc.free_bytes, needed=exc.needed_bytes, live=exc.live)
    elif isinstance(exc, IndexStoreError):
        data["kind"] = "index"
    else:
        try:
            from corpus.errors import CorpusError

            if isinstance(exc, CorpusError):
                data["kind"] = "corpus"
        except ImportError:
            pass
    return data


def _raise(error: dict) -> None:
    from index.store import DiskFullError, IndexStoreError

    if error["kind"] == "disk_full":
        raise DiskFullError(error["path"], error["free"], error["needed"], live=error["live"])
    if error["kind"] == "corpus":
        from corpus.errors import CorpusError

        raise CorpusError(error["message"])
    if error["kind"] == "index":
        raise IndexStoreError(error["message"])
    raise IndexStoreError(f"the index build failed ({error['type']}: {error['message']}); the live index is "
                          "unchanged")


class ChildBuilder:
    """Runs one build at a time in a child process; :meth:`cancel` stops it.

    ``build(...)`` blocks the calling thread (not the server's event loop: call it
    from a worker thread) until the child has finished, and returns a ChildBuild
    or raises what the child raised: DiskFullError, IndexStoreError, CorpusError;
    IndexStoreError too when the child died (killed, out of memory), and
    ChildBuildCancelled after :meth:`cancel`. The child's stdout and stderr are
    the caller's.
    """

    def __init__(self, niceness: int = NICENESS):
        self.niceness = niceness
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._cancelled = threading.Event()

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def build(self, corpus: Path | None, root: Path, embedder_name: str, force: bool = True) -> ChildBuild:
        read_fd, write_fd = os.pipe()
        spec = {"corpus": str(Path(corpus).resolve()) if corpus is not None else None, "root": str(Path(root).resolve()),
                "embedder": embedder_name, "force": force, "niceness": self.niceness, "fd": write_fd}
        env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
        env.setdefault("HF_HUB_OFFLINE", "1")
        try:
            with self._lock:
                self._cancelled.clear()
                self._process = subprocess.Popen(
                    # -P: the working folder is not put on sys.path (nothing there shadows the packages)
                    [sys.executable, "-P", "-m", "index.child_build", json.dumps(spec)], pass_fds=(write_fd,),
                    env=env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            os.close(read_fd)
            raise IndexStoreError(f"cannot start the index build process: {exc}; the live index is unchanged") \
                from exc
        finally:
            os.close(write_fd)
        process = self._process
        try:
            with os.fdopen(read_fd, "rb") as pipe:
                data = pipe.read()
            code = process.wait()
        finally:
            with self._lock:
                self._process = None
        if self._cancelled.is_set():
            raise ChildBuildCancelled("the index build was stopped; the live index is unchanged")
        if not data:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise IndexStoreError(f"the index build process {how} before it finished; the live index is unchanged "
                                  "(what it left is removed at the next build)")
        status, payload, messages = pickle.loads(data)
        if status == "error":
            _raise(payload)
        return ChildBuild(version=payload["version"], path=Path(payload["path"]), load=payload["load"],
                          built=payload["built"], seconds=payload["seconds"], embedded=payload["embedded"],
                          messages=messages)

    def cancel(self) -> None:
        """Stop a running build (SIGTERM): it removes its half-written folder and the live index stays."""
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                self._cancelled.set()
                process.send_signal(signal.SIGTERM)


if __name__ == "__main__":
    _child_main(json.loads(sys.argv[1]))
