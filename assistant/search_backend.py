"""The search backend answers go through (POLICYQA_SEARCH), kept in step with the live index.

``inprocess`` (the default): nothing here is used. :class:`assistant.handlers.base.Context`
searches the in-process :class:`index.hybrid.HybridSearcher` directly, as it always did: no layer
is added on that path.

``milvus``: the service still builds and opens the in-process index (it serves the catalog, the
tokenizer and the refusal model's signals, and it is where the chunks and their vectors come from),
and :class:`SearchMirror` keeps one Milvus version holding the same chunks and vectors: tagged with
the in-process index version, filled (``create_version`` → ``upsert`` → ``switch_version``) when the
live Milvus version carries another tag, at start and after every rebuild, older versions dropped
once the new one is live. :class:`BackendContext` then sends every ``Context.search`` to Milvus.

A Milvus that cannot be reached at start stops the start before any index work:
:class:`assistant.errors.SearchUnavailable`, whose message is the one line ``policyqa serve``
prints before it exits with status 2.
There is no silent fall-back to in-process search: a deployment that asked for Milvus runs several
API replicas against one cluster, or a corpus too large for one process, and answering from a
private in-process copy would hide the outage and let replicas drift apart. A Milvus that fails
later turns a question into 503 (the message says what to check); a rebuild whose Milvus update
fails keeps the old index and the old Milvus version serving, as any failed rebuild does.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, fields
from typing import Callable

import numpy as np

from assistant.errors import SearchUnavailable
from assistant.handlers.base import Context
from assistant.scope import Scope
from index.backends import (
    SearchBackend, SearchBackendError, SearchRequest, VersionError, make_backend, public_uri,
)
from index.hybrid import MeasureHit

__all__ = ["BackendContext", "SearchMirror", "open_search", "search_info"]


def search_info(settings, mirror: "SearchMirror | None") -> dict:
    """What /health says of the search backend: its name and, for Milvus, where it is (no credentials)."""
    if mirror is None:
        return {"search_backend": "inprocess", "milvus_uri": None}
    return {"search_backend": mirror.backend.name, "milvus_uri": mirror.uri}


def open_search(settings, embedder, say: Callable[[str], None],
                backend: SearchBackend | None = None) -> "SearchMirror | None":
    """The mirror for ``settings.search`` (POLICYQA_SEARCH): None for ``inprocess``; for ``milvus`` a
    :class:`SearchMirror` (nothing connects until its ``check`` or first ``sync``). ``backend``, when
    given, is searched instead of the one the settings name (benchmarks pass Milvus options this way).
    Raises SearchUnavailable for an unknown backend name."""
    if backend is not None:
        return SearchMirror(backend, say)
    kind = (settings.search or "inprocess").strip().lower()
    if kind == "inprocess":
        return None
    try:
        backend = make_backend(settings, embedder)
    except ValueError as exc:
        raise SearchUnavailable(str(exc)) from exc
    return SearchMirror(backend, say)


class SearchMirror:
    """A search backend whose live version holds the chunks and vectors of the live in-process index."""

    def __init__(self, backend: SearchBackend, say: Callable[[str], None] = lambda m: None):
        self.backend = backend
        self.say = say
        self.uri = public_uri(getattr(backend, "uri", None))
        self._lock = threading.Lock()
        self._synced: str | None = None  # the index version the backend's live version was last seen holding

    def __repr__(self) -> str:
        return f"SearchMirror({self.backend.name}, uri={self.uri!r}, holds={self._synced!r})"

    def where(self) -> str:
        return f"{self.backend.name} at {self.uri}" if self.uri else self.backend.name

    def check(self) -> None:
        """Reach the backend once (at start, before any index work). Raises SearchUnavailable saying what to check."""
        try:
            self.backend.versions()
        except SearchBackendError as exc:
            raise SearchUnavailable(f"{exc} (or set POLICYQA_SEARCH=inprocess to search in this process)") from exc

    def sync(self, index) -> str:
        """Make the backend's live version hold ``index`` (an :class:`index.building.LoadedIndex`): nothing to do
        when the live version is tagged with ``index.version``, else a new version filled with its chunks and
        vectors, switched live, and the older versions dropped. Returns the backend's live version.

        Raises SearchUnavailable when the backend fails (the caller says it); its live version is then unchanged.
        """
        with self._lock:
            try:
                return self._sync(index)
            except SearchBackendError as exc:
                raise SearchUnavailable(f"index {index.version} cannot be copied into the search backend "
                                        f"{self.where()}: {exc}") from exc

    def _sync(self, index) -> str:
        from index.building import TERMS, VECTORS

        backend = self.backend
        live = next((v for v in backend.versions() if v.live), None)
        if live is not None and live.tag == index.version:
            backend.live_version()  # opens it (and loads it into memory after a restart) before the first question
            self._synced = index.version
            self._drop_older(live.name)
            return live.name
        started = time.perf_counter()
        chunks = index.searcher.chunks
        try:
            vectors = np.load(index.path / VECTORS)
            terms = json.loads((index.path / TERMS).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SearchBackendError(f"cannot read the vectors of index {index.version} in {index.path} ({exc}); "
                                     "rebuild it with `policyqa index`") from exc
        version = backend.create_version(terms, tag=index.version)
        try:
            backend.upsert(chunks, vectors, version=version)
            backend.switch_version(version)
        except (SearchBackendError, ValueError) as exc:
            # another replica may have filled the same index version meanwhile (and dropped this one)
            now = next((v for v in backend.versions() if v.live), None)
            if now is None or now.tag != index.version:
                self._discard(version)
                if isinstance(exc, ValueError):
                    raise SearchBackendError(f"index {index.version} cannot be copied: {exc}") from exc
                raise
            version = now.name
        self._synced = index.version
        self._drop_older(version)
        self.say(f"search backend {self.where()}: version {version} holds index {index.version} "
                 f"({len(chunks)} chunks), filled in {time.perf_counter() - started:.1f} s")
        return version

    def _drop_older(self, live: str) -> None:
        """Drop the versions made before ``live`` (names sort by creation time); a newer one may be filling.

        The new version serves already: a failure here is said, and the next sync drops them."""
        try:
            for info in self.backend.versions():
                if info.name < live and not info.live:
                    try:
                        self.backend.drop_version(info.name)
                    except VersionError:
                        pass  # dropped or switched to by another replica meanwhile
        except SearchBackendError as exc:
            self.say(f"warning: older versions stay in the search backend {self.where()} until the next sync: {exc}")

    def _discard(self, version: str) -> None:
        try:
            self.backend.drop_version(version)
        except SearchBackendError:
            pass  # gone already, or the backend is down: the next sync drops it as an older version

    def context(self, context: Context) -> "BackendContext":
        """``context`` searching through this backend."""
        return BackendContext(**{f.name: getattr(context, f.name) for f in fields(Context)}, backend=self.backend)

    def close(self) -> None:
        self.backend.close()


@dataclass
class BackendContext(Context):
    """A :class:`Context` whose searches go to a search backend (the rest still reads the in-process index)."""

    backend: SearchBackend | None = None

    def search(self, query: str, k: int, scope: Scope, vector: np.ndarray | None = None,
               measures: frozenset | None = None, exclude: frozenset = frozenset()) -> list[MeasureHit]:
        if k < 1:
            return []  # as the in-process searcher answers k=0
        request = SearchRequest(query, vector, k=k, filters=self.filters(scope, measures, exclude), sides=self.sides)
        try:
            hits = self.backend.search(request)
        except SearchBackendError as exc:
            raise SearchUnavailable(f"search backend {self.backend.name} failed: {exc}") from exc
        # a rebuild switches the backend a moment before the service's state: skip measures this state lacks
        return [h for h in hits if self.catalog.measure(h.doc_id, h.measure_key) is not None]
