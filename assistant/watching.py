"""Watch the corpus folder and report changes to documents (the ``watchfiles`` library).

watchfiles groups the operating system's events into batches (a batch ends
after 50 ms without an event, or after 1.6 s of continuous events); the
assistant then waits until the folder has been quiet for a while before it
rebuilds (``PolicyAssistant.request_rebuild``), so copying many files gives one
rebuild. Only corpus documents and their ``.meta.json`` sidecars count; hidden
files, editor swap files and Office lock files (``~$x.docx``) do not.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watchfiles import Change, DefaultFilter, watch

from corpus.reading import SUPPORTED_SUFFIXES

log = logging.getLogger("policyqa.watch")

SIDECAR_SUFFIX = ".meta.json"
READY_POLL_MS = 100  # while idle, watchfiles yields an empty batch this often (start() waits for the first)


@dataclass(frozen=True)
class CorpusChanges:
    """One batch of changes, as paths relative to the corpus folder (sorted)."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.modified or self.removed)

    def describe(self) -> str:
        """e.g. ``added new.txt; modified plan.docx``"""
        parts = [f"{what} {', '.join(names)}" for what, names in
                 (("added", self.added), ("modified", self.modified), ("removed", self.removed)) if names]
        return "; ".join(parts)

    @classmethod
    def from_watchfiles(cls, folder: Path, changes: set[tuple[Change, str]]) -> "CorpusChanges":
        """Fold a watchfiles batch: a file added then modified (a copy) is added; added then deleted, nothing."""
        state: dict[str, str] = {}
        for change, path in sorted(changes, key=lambda c: (c[1], c[0].value)):
            name = _relative(folder, path)
            before = state.get(name)
            if change == Change.added:
                state[name] = "modified" if before == "removed" else "added"
            elif change == Change.modified:
                state[name] = before if before in ("added", "removed") else "modified"
            elif change == Change.deleted:
                state[name] = "gone" if before == "added" else "removed"
        pick = lambda what: tuple(sorted(n for n, s in state.items() if s == what))  # noqa: E731
        return cls(added=pick("added"), modified=pick("modified"), removed=pick("removed"))


class CorpusFilter(DefaultFilter):
    """watchfiles' default filter, keeping corpus documents and sidecars only.

    A deleted path without a suffix is kept too: it may have been a folder of documents.
    """

    def __call__(self, change: Change, path: str) -> bool:
        if not super().__call__(change, path):
            return False
        name = Path(path).name
        if name.startswith((".", "~$")):
            return False
        lowered = name.lower()
        if lowered.endswith(SIDECAR_SUFFIX) or Path(lowered).suffix in SUPPORTED_SUFFIXES:
            return True
        return change == Change.deleted and not Path(name).suffix


class CorpusWatcher:
    """A background thread that calls ``on_change(CorpusChanges)`` for each batch of changes.

    ``start()`` returns once the operating system's watch is in place (at most 5 s);
    ``stop()`` ends the thread within about 50 ms. ``on_change`` runs on the
    watcher thread: it should hand the work over and return.
    """

    def __init__(self, folder: Path, on_change: Callable[[CorpusChanges], None]):
        self.folder = Path(folder).resolve()
        self.on_change = on_change
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="policyqa-corpus-watch", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        try:
            # yield_on_timeout: an empty batch every READY_POLL_MS of quiet, the first of which
            # says the OS watch is in place (start() waits for it, so no change falls in between)
            for batch in watch(self.folder, watch_filter=CorpusFilter(), stop_event=self._stop,
                               rust_timeout=READY_POLL_MS, yield_on_timeout=True, raise_interrupt=False):
                self._ready.set()
                changes = CorpusChanges.from_watchfiles(self.folder, batch)
                if changes:
                    self.on_change(changes)
        except Exception as exc:  # noqa: BLE001 - a dead watch is reported, the server keeps serving
            log.warning("the corpus watch stopped: %s; new documents need POST /api/reindex or a restart", exc)
        finally:
            self._ready.set()


def _relative(folder: Path, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(folder).as_posix()
    except ValueError:
        return Path(path).name
