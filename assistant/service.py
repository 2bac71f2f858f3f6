"""PolicyAssistant: the corpus, the index and everything the API, CLI and UI ask of them."""

from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass, replace
from datetime import date
from typing import Callable, Literal

import zhconv

from assistant import llm
from assistant.catalog import Catalog
from assistant.conversation import Conversation
from assistant.errors import BadQuestion, NotFound, ReindexBusy, SearchUnavailable
from assistant.handlers import HANDLERS, Asked, Context
from assistant.handlers.lists import matching_measures
from assistant.conversation import referent
from assistant.intents import FOREIGN_UNIT_LIST, list_topic, route, route_foreign, topic_words
from assistant.language import chinese_terms, detect as detect_language
from assistant.models import (
    AskResponse, Citation, DepartmentOut, DocumentOut, MeasureOut, MeasureRef, NoticeOut, RoleOut, SentenceOut,
    TargetOut,
)
from assistant.relevance import Relevance
from assistant.scope import EVERYTHING, Scope, names_own_document, own_documents, resolve as resolve_scope
from assistant.search_backend import open_search, search_info
from assistant.settings import Settings
from corpus.errors import CorpusError
from corpus.loading import CorpusLoad, load_corpus
from corpus.numerals import to_int
from corpus.records import Document, Measure
from index.building import LoadedIndex, build_index, ensure_index, open_version
from index.child_build import ChildBuildCancelled, ChildBuilder
from index.store import IndexStoreError, ensure_space, version_bytes

DEFAULT_TOP_K = 3
RETRIEVERS = {"bm25": ("lexical",), "dense": ("dense",), "hybrid": ("lexical", "dense")}


@dataclass
class _State:
    """One consistent view: a corpus load, the index built from it and the catalog over it. Swapped whole."""

    load: CorpusLoad
    index: LoadedIndex
    catalog: Catalog

    @property
    def departments(self) -> list[str]:
        return self.catalog.departments

    def document(self, doc_id: str) -> Document | None:
        return self.catalog.document(doc_id)

    def measure(self, doc_id: str, key: str) -> Measure | None:
        return self.catalog.measure(doc_id, key)


RebuildStatus = Literal["idle", "pending", "running"]


class PolicyAssistant:
    """The corpus, its index and every question asked of them; one per process.

    ``embedder``: default ``make_embedder(settings.embedder)``. ``say``: where
    progress and warnings go (one line each). ``progress_factory(total, label)``
    gives a per-batch callback for a build's embedding, and is called only when
    texts are actually embedded. ``build_in_child``: rebuilds (``reindex``, the
    corpus watch) run in a child process at lower priority so queries keep their
    latency; the child recreates the embedder from its name, so pass False for an
    embedder that ``make_embedder(embedder.name)`` cannot recreate (default:
    ``settings.build_in_child``, POLICYQA_BUILD_IN_CHILD). The first build, when
    there is no index yet, runs here, with the progress bar. ``search_backend``: a
    :class:`index.backends.SearchBackend` to search through instead of the one
    ``settings.search`` names (assistant/search_backend.py; benchmarks pass Milvus
    options this way).
    """

    def __init__(self, settings: Settings, embedder=None, say: Callable[[str], None] = lambda m: None,
                 progress_factory: Callable[[int, str], Callable[[int], None]] | None = None,
                 build_in_child: bool | None = None, clock: Callable[[], date] | None = None,
                 search_backend=None):
        from index.embedders import make_embedder

        self.clock = clock or date.today  # the date of asking: validity of documents (injectable for tests)
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedder)
        self.say = say
        self.progress_factory = progress_factory
        self.relevance = Relevance()
        self.sides: tuple[str, ...] = RETRIEVERS["hybrid"]
        self._reindex_lock = threading.Lock()
        in_child = settings.build_in_child if build_in_child is None else build_in_child
        self._builder = ChildBuilder() if in_child else None
        self._rebuild_cond = threading.Condition()
        self._rebuild_pending = False  # a change was seen and no rebuild has taken it yet
        self._rebuild_force = False  # the pending rebuild must build even if the corpus hash is unchanged
        self._quiet_until = 0.0  # time.monotonic() before which a pending rebuild waits (changes settling)
        self._rebuild_worker: threading.Thread | None = None
        self._watcher = None  # assistant.watching.CorpusWatcher, while watching
        self.last_rebuild_error: str | None = None
        # POLICYQA_SEARCH=milvus: a Milvus version kept in step with the index (None: in-process search, as is)
        self._search = open_search(settings, self.embedder, say, search_backend)
        if self._search is not None:
            self._search.check()  # an unreachable Milvus stops the start before the index is read or built
        self._state = self._open(rebuild=False)

    # -- loading and reindexing ------------------------------------------------------------
    def _open(self, rebuild: bool, load: CorpusLoad | None = None, index: LoadedIndex | None = None) -> _State:
        """One consistent state: ``load`` and ``index`` when given (built by a child process), else the
        corpus read here and its index opened (built when missing or stale) or, with ``rebuild``, rebuilt."""
        if load is None:
            load = load_corpus(self.settings.corpus)
            for problem in load.problems:
                self.say(f"warning: {problem}")
        if index is None:
            root = self.settings.index_root
            if rebuild:
                index = build_index(load, root, self.embedder, progress=self.progress_factory, say=self.say)
            else:
                index = ensure_index(root, load, self.embedder, progress=self.progress_factory, say=self.say)
        if self._search is not None:
            self._search.sync(index)  # before the state is swapped: Milvus holds the new version first
        catalog = Catalog(load.documents, self._gazetteer(), words=index.searcher.tokenizer.words)
        return _State(load, index, catalog)

    def _gazetteer(self):
        """China's divisions for place scopes; None (no place scoping) if jionlp's data cannot be read."""
        from assistant.places import gazetteer

        try:
            return gazetteer(self.settings.home / "cache")
        except (ImportError, OSError, ValueError) as exc:
            self.say(f"warning: place names unavailable ({exc}); questions are not scoped by place")
            return None

    def warm_up(self) -> None:
        """Load jieba, the embedding engine and the out-of-scope anchors now, so the first
        question is as fast as the others (called when a server starts)."""
        searcher = self._state.index.searcher
        searcher.tokenizer.load()
        self.relevance.model_for(searcher.embedder)
        self.relevance.anchors(searcher)
        if self.relevance.note:
            self.say(f"warning: {self.relevance.note}")

    def using(self, retriever: str) -> "PolicyAssistant":
        """A view of this assistant that retrieves with BM25 only, dense only or both (for evaluation)."""
        if retriever not in RETRIEVERS:
            raise BadQuestion(f"unknown retriever {retriever!r}; use one of {', '.join(RETRIEVERS)}")
        view = copy.copy(self)
        view.sides = RETRIEVERS[retriever]
        return view

    def reindex(self, force: bool = True) -> str:
        """Rebuild from the corpus folder and switch to the new version; returns the live version.

        Queries keep using the old index while the build runs (in a child process
        at lower priority unless ``build_in_child=False``); the switch takes about
        0.01 s plus loading the new tokenizer's dictionary. With ``force=False``
        nothing is built when the index already matches the corpus. Raises
        ReindexBusy when a rebuild is running, DiskFullError when the disk cannot
        hold the new version even after pruning old ones, IndexStoreError or
        CorpusError for other failures; after any of them the old index keeps
        serving and ``health()["last_rebuild_error"]`` says what happened.
        """
        if not self._reindex_lock.acquire(blocking=False):
            raise ReindexBusy("a rebuild is already running; try again when it has finished")
        try:
            return self._rebuild(force)
        finally:
            self._reindex_lock.release()

    def _rebuild(self, force: bool) -> str:
        """reindex() with the lock held."""
        started = time.perf_counter()
        current = self._state
        root = self.settings.index_root
        try:
            if self._builder is None:
                self._state = self._open(rebuild=True)
                embedded = self._state.index.manifest.embedded
            else:
                # checked here too, so a full disk is reported without starting a process
                ensure_space(root, int(version_bytes(current.index.path) * 1.2), say=self.say)
                built = self._builder.build(self.settings.corpus, root, self.embedder.name, force=force)
                for message in built.messages:
                    self.say(message)
                if not built.built and built.version == current.index.version:
                    self.last_rebuild_error = None
                    self.say(f"the documents are unchanged; index {built.version} stays live")
                    return built.version
                switch = time.perf_counter()
                index = open_version(built.path, built.load, self.embedder)
                index.searcher.tokenizer.load()  # before the switch: the next query finds it ready
                for problem in built.load.problems:
                    self.say(f"warning: {problem}")
                self._state = self._open(rebuild=False, load=built.load, index=index)
                embedded = built.embedded
                self.say(f"switched to index {index.version} in {time.perf_counter() - switch:.2f} s")
        except ChildBuildCancelled:
            raise
        except (IndexStoreError, CorpusError, SearchUnavailable) as exc:
            self.last_rebuild_error = str(exc)
            self.say(f"rebuild failed: {exc}; still serving index {current.index.version}")
            raise
        self.last_rebuild_error = None
        state = self._state
        self.say(f"index {state.index.version} is live: {len(state.load.documents)} document(s), "
                 f"{len(state.index.searcher.chunks)} chunks ({embedded} embedded), rebuilt in "
                 f"{time.perf_counter() - started:.1f} s")
        return state.index.version

    @property
    def reindexing(self) -> bool:
        return self._reindex_lock.locked()

    @property
    def rebuild_status(self) -> RebuildStatus:
        """"running" while a rebuild runs, "pending" when one is asked for (changes settling, or waiting
        for a running one), else "idle"."""
        if self._reindex_lock.locked():
            return "running"
        with self._rebuild_cond:
            return "pending" if self._rebuild_pending or self._rebuild_worker is not None else "idle"

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.running

    def close(self) -> None:
        """Release the search backend's connection (POLICYQA_SEARCH=milvus); nothing else needs closing."""
        if self._search is not None:
            self._search.close()

    def health(self) -> dict:
        state = self._state
        return {"status": "ok", "index_version": state.index.version, "documents": len(state.load.documents),
                "chunks": len(state.index.searcher.chunks), "rebuild": self.rebuild_status,
                "watching": self.watching, "last_rebuild_error": self.last_rebuild_error,
                **search_info(self.settings, self._search)}

    # -- background rebuilds and the corpus watch ------------------------------------------
    def request_rebuild(self, force: bool = False, settle_s: float = 0.0) -> None:
        """Rebuild in the background (one worker thread), once nothing was requested for ``settle_s``; returns at once.

        Requests made while a rebuild waits or runs are folded into one more rebuild
        (the corpus watch calls this for every batch of changes, with the settle time).
        Without ``force`` nothing is built when the corpus hash is unchanged.
        Failures are said and kept in ``last_rebuild_error``; the old index serves on.
        """
        with self._rebuild_cond:
            self._rebuild_pending = True
            self._rebuild_force = self._rebuild_force or force
            self._quiet_until = max(self._quiet_until, time.monotonic() + settle_s)
            if self._rebuild_worker is None:
                self._rebuild_worker = threading.Thread(target=self._rebuild_loop, name="policyqa-rebuild",
                                                        daemon=True)
                self._rebuild_worker.start()
            self._rebuild_cond.notify_all()

    def _rebuild_loop(self) -> None:
        while True:
            with self._rebuild_cond:
                while self._rebuild_pending and (wait := self._quiet_until - time.monotonic()) > 0:
                    self._rebuild_cond.wait(wait)
                if not self._rebuild_pending:
                    self._rebuild_worker = None
                    self._rebuild_cond.notify_all()
                    return
                force, self._rebuild_pending, self._rebuild_force = self._rebuild_force, False, False
            with self._reindex_lock:  # waits for a rebuild started over HTTP
                try:
                    self._rebuild(force)
                except ChildBuildCancelled:
                    with self._rebuild_cond:
                        self._rebuild_pending = False
                except (IndexStoreError, CorpusError, SearchUnavailable):
                    pass  # said and kept in last_rebuild_error by _rebuild
                except Exception as exc:  # noqa: BLE001 - the worker must not die silently
                    self.last_rebuild_error = f"rebuild failed: {type(exc).__name__}: {exc}"
                    self.say(f"{self.last_rebuild_error}; still serving index {self._state.index.version}")

    def start_watching(self) -> bool:
        """Watch the corpus folder and rebuild in the background once changes settle.

        Off when ``settings.watch`` is False (POLICYQA_WATCH=0); returns whether it
        watches. A change made before the watch was in place (between loading the
        corpus and now) is caught by comparing file hashes once.
        """
        if not self.settings.watch:
            return False
        if self._watcher is not None:
            return True
        from assistant.watching import CorpusWatcher

        folder = self.settings.corpus_folder
        self._watcher = CorpusWatcher(folder, self._on_corpus_change)
        self._watcher.start()
        self.say(f"watching {folder} for new, changed and removed documents (POLICYQA_WATCH=0 turns this off)")
        if self._corpus_files_changed():
            self.say("the corpus changed while the server started; rebuilding in the background")
            self.request_rebuild()
        return True

    def stop_watching(self, timeout: float = 10.0) -> None:
        """Stop the watch and any background rebuild (its child process is stopped; the live index stays)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        with self._rebuild_cond:
            self._rebuild_pending = False
            worker = self._rebuild_worker
            self._rebuild_cond.notify_all()
        if worker is not None:
            if self._builder is not None:
                self._builder.cancel()
            worker.join(timeout=timeout)

    def _on_corpus_change(self, changes) -> None:
        sidecars = any(name.endswith(".meta.json") for name in changes.added + changes.modified + changes.removed)
        settle_s = self.settings.watch_settle_ms / 1000
        self.say(f"corpus changed: {changes.describe()}; rebuilding in the background once the folder has been "
                 f"quiet for {settle_s:g} s")
        self.request_rebuild(force=sidecars, settle_s=settle_s)  # sidecars are not in the corpus hash

    def _corpus_files_changed(self) -> bool:
        from corpus.loading import file_hash
        from corpus.reading import iter_corpus_files

        folder = self.settings.corpus_folder
        try:
            now = {p.relative_to(folder).as_posix(): file_hash(p) for p in iter_corpus_files(folder)}
        except (OSError, CorpusError):
            return True
        return now != self._state.load.file_hashes

    # -- records ---------------------------------------------------------------------------
    def documents(self) -> list[DocumentOut]:
        return [document_out(d, self._state.catalog) for d in self._state.load.documents]

    def measure(self, doc_id: str, key: str | int | None) -> MeasureOut:
        state = self._state
        document = state.document(doc_id)
        if document is None:
            raise NotFound(f"no document {doc_id!r}; known: {', '.join(d.doc_id for d in state.load.documents)}")
        key = str(key)
        measure = next((m for m in document.measures if m.key == key), None) or next(
            (m for m in document.measures if m.title == key or m.label == key), None)
        if measure is None:
            keys = [m.key for m in document.measures if m.kind == "measure"]
            span = f"{keys[0]}–{keys[-1]}" if keys else "none"
            raise NotFound(f"no measure {key!r} in {doc_id} (measure keys: {span}; unnumbered records by key, e.g. "
                           f"{next((m.key for m in document.measures if m.number is None), 'r1')})")
        return measure_out(document, measure)

    def departments(self) -> list[DepartmentOut]:
        catalog = self._state.catalog
        return [DepartmentOut(name=name, measures=[MeasureRef(doc_id=d.doc_id, number=m.number, title=m.title,
                                                              key=m.key, label=m.label)
                                                   for d, m in catalog.by_department[name]])
                for name in catalog.departments]

    # -- search ----------------------------------------------------------------------------
    def context(self, today: date | None = None) -> Context:
        """One consistent index state for answering (the state may be swapped by a rebuild meanwhile)."""
        state = self._state
        context = Context(state.catalog, state.index.searcher, self.relevance, today or self.clock(), self.sides,
                          ask=lambda question, history: self._ask(question, history))
        return context if self._search is None else self._search.context(context)

    def search(self, query: str, k: int = 5) -> list[Citation]:
        query = _clean(query)
        context = self.context()
        scope = resolve_scope(query, context.catalog)
        hits = context.search(query, k=k, scope=scope)
        return [context.cite(context.evidence(hit)) for hit in hits]

    def lookup(self, query: str, doc_ids: list[str] | None = None) -> list[MeasureOut]:
        """Every measure matching ``query`` (not cut at top-k): for hotline staff.

        ``doc_ids`` restricts it to some documents; otherwise the documents the query names.
        """
        query = _clean(query)
        context = self.context()
        scope = Scope(doc_ids=tuple(doc_ids)) if doc_ids else resolve_scope(query, context.catalog)
        topic = list_topic(query, context.searcher.tokenizer.words) or query
        return [measure_out(d, m) for d, m in matching_measures(topic, scope, context)]

    # -- asking ----------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, top_k: int | None = None) -> AskResponse:
        response = self._ask(question, history, top_k)
        if self.settings.llm_enabled and response.found and response.citations:
            result = llm.rewrite(llm.LLMConfig(self.settings.llm_base_url, self.settings.llm_model,
                                               self.settings.llm_api_key, self.settings.llm_timeout,
                                               self.settings.llm_concurrency),
                                 _clean(question), response.answer, response.citations)
            if result.answer is not None:
                return response.model_copy(update={"answer": result.answer, "answer_source": "llm"})
            self.say(f"LLM answer not used ({result.reason}); serving the extractive answer")
        return response

    def _ask(self, question: str, history: list | None = None, top_k: int | None = None) -> AskResponse:
        question = _clean(question)
        context = self.context()
        asked = self.understand(question, history, top_k, context)
        response = HANDLERS[asked.intent.kind](asked, context)
        if not response.found and asked.intent.kind == "search":
            carried = self._carried_over(asked, context)
            if carried is not None:
                again = HANDLERS["search"](carried, context)
                response = again if again.found else response
        return response

    @staticmethod
    def _carried_over(asked: Asked, context: Context) -> Asked | None:
        """A follow-up too short to stand alone (覆盖率要到多少？ after 数字化转型有什么目标？) searched with the
        previous question before it; None when there is none, or when its own words are in no document in
        scope (那天气怎么样？ stays refused)."""
        previous = asked.conversation.last_user()
        if not previous or asked.lang != "zh" or asked.scope.uncovered or \
                context.nothing_in_scope(asked.text, asked.scope):
            return None
        return replace(asked, text=f"{previous} {asked.text}")

    def understand(self, question: str, history: list | None, top_k: int | None, context: Context) -> Asked:
        """The question's scope, conversation and intent, decided once before any handler runs.

        An elliptical follow-up (那泰安呢？ 那高端化工营收占比呢？) is first completed from the
        previous question; a follow-up that points back (这个措施什么时候到期？) takes the
        documents of the last answer as its scope.
        """
        catalog = context.catalog
        conversation = Conversation.of(history)
        has_history = conversation.has_user_turn
        lang = detect_language(question)
        if lang != "zh":  # English or Korean: the meaning side reads it as asked, the lexical side its Chinese terms
            intent = route_foreign(question)
            scope = self._foreign_scope(question, lang, catalog)
            if intent.kind == "search" and FOREIGN_UNIT_LIST.search(question):  # the Justice Bureau → 市司法局
                allowed = None if scope.everything else set(scope.doc_ids)
                units = tuple(dict.fromkeys(n for names in catalog.departments_in(chinese_terms(question, lang),
                                                                                  allowed).values() for n in names))
                if units:
                    intent = replace(intent, kind="department", departments=units, asks_department=True)
            if intent.kind in ("measure", "docfact"):  # measure 6 of the Qingdao measures: Qingdao's own document's
                scope = own_documents(scope)
            return Asked(question, intent, scope, conversation, top_k or DEFAULT_TOP_K, lang=lang,
                         terms=chinese_terms(question, lang))
        # 哪些文件已經過期了？ 牽頭單位是誰？: read in simplified script, as the patterns and word lists are
        # written (the documents are matched through normalize_text, which does the same)
        question = zhconv.convert(question, "zh-cn")
        as_asked = question
        if has_history:
            words = context.searcher.tokenizer.words
            previous = completed_topic(conversation, catalog, words)
            question = neighbour_measure(question, conversation, catalog) or \
                complete_ellipsis(question, previous, catalog, words)
        scope = resolve_scope(question, catalog)
        intent = route(question, catalog.departments, has_history=has_history,
                       words=context.searcher.tokenizer.words, strip=scope.names,
                       find_departments=lambda q: tuple(dict.fromkeys(
                           n for ns in catalog.departments_in(q, None if scope.everything else set(scope.doc_ids)).values()
                           for n in ns)))
        if has_history and scope.everything and intent.kind in ("docfact", "followup") and POINTS_BACK.search(question):
            scope = self._earlier_scope(conversation, context) or scope
        elif has_history and scope.everything and intent.kind == "measure" and ELLIPSIS.match(as_asked.strip()):
            scope = self._earlier_scope(conversation, context) or scope  # 第二条呢？: of the document just cited
        # 福山区政府配合哪些任务？: a unit that only a document of the level above names (烟台's plan) keeps it
        held_above = intent.kind == "department" and intent.departments and scope.own \
            and not catalog.departments_in(question, set(scope.own))
        if (intent.kind in ("measure", "part", "docfact", "department") and not held_above) \
                or names_own_document(question, scope):
            scope = own_documents(scope)
        return Asked(question, intent, scope, conversation, top_k or DEFAULT_TOP_K)

    @staticmethod
    def _foreign_scope(question: str, lang: str, catalog: Catalog) -> Scope:
        """An English question that names a place in pinyin (Qingdao, Tai'an, Shandong, Kunshan) is scoped as
        the Chinese name would be: that place's documents and those of the levels above, refused where none
        applies. Korean: every document."""
        if lang != "en" or catalog.latin_places is None:
            return EVERYTHING
        names = catalog.latin_places.find(question)
        return resolve_scope("、".join(names), catalog) if names else EVERYTHING

    def _earlier_scope(self, conversation: Conversation, context: Context) -> Scope | None:
        """The documents the conversation was about: the last answer's, else those the last question named,
        else those its answer cited."""
        catalog = context.catalog
        earlier = referent(conversation, catalog)
        if earlier.doc_ids:
            return Scope(doc_ids=tuple(earlier.doc_ids), named=("上文",))
        previous = conversation.last_user()
        if not previous:
            return None
        named = resolve_scope(previous, catalog)
        if not named.everything and named.doc_ids:
            doc_ids = named.doc_ids
            if named.places and catalog.gazetteer is not None:  # the place's own documents, not those above it
                own = tuple(d for d in doc_ids if catalog.info(d).place is not None and any(
                    catalog.gazetteer.is_within(catalog.info(d).place, p) for p in named.places))
                doc_ids = own or doc_ids
            return Scope(doc_ids=doc_ids, named=("上文",))
        cited = list(dict.fromkeys(c.doc_id for c in self._ask(previous).citations))[:1]
        return Scope(doc_ids=tuple(cited), named=("上文",)) if cited else None


# -- helpers ------------------------------------------------------------------------------------
ELLIPSIS = re.compile(r"^(?:那么?|还有|另外)?(?P<rest>[^，,。；]{1,20}?)(?:呢|的呢|怎么样|又如何|又怎样|如何)[？?。！!]*$")
POINTS_BACK = re.compile(r"这个(?:措施|文件|政策|方案|办法|通知|规定)|这份|该(?:措施|文件|政策|方案|办法)|这条|该条|这项|它|上述|刚才")


NEIGHBOUR = re.compile(r"^\s*(?:那|那么)?(?P<which>上一条|前一条|下一条|后一条)(?:呢|是什么|讲什么|说的是什么|内容是什么)?[？?。]?\s*$")
# 第二个呢？ after a list: the measure it cited second
ORDINAL_REF = re.compile(r"^\s*(?:那|那么)?第\s*(?P<n>[一二三四五六七八九十\d]{1,3})\s*个(?:呢|是什么|讲什么|说的是什么|内容是什么)?[？?。]?\s*$")


def neighbour_measure(question: str, conversation: Conversation, catalog: Catalog) -> str | None:
    """上一条呢？ / 下一条呢？ after an answer: the numbered measure before or after the one it cited first, in
    that answer's document; 第二个呢？ after a list: the measure it cited second. Asked by its title and number
    (《…》第17条); None for any other question, or when there is no such measure."""
    ordinal = ORDINAL_REF.match(question)
    if ordinal:  # 第二个呢？ after a list: its second measure
        found = referent(conversation, catalog)
        at = to_int(ordinal.group("n"))
        if at and 0 < at <= len(found.pairs):
            document, measure = found.pairs[at - 1]
            if measure.number is not None and measure.kind == "measure":
                return f"《{document.title}》第{measure.number}条是什么？"
        return None
    match = NEIGHBOUR.match(question)
    if not match:
        return None
    found = referent(conversation, catalog)
    if not found.pairs:
        return None
    document, measure = found.pairs[0]
    numbered = [m for m in document.measures if m.number is not None and m.kind == "measure"]
    if measure not in numbered or len({m.number for m in numbered}) < len(numbered):
        return None  # numbering that restarts in each part (三、（一）): 第N条 would not name one measure
    at = numbered.index(measure) + (-1 if match.group("which") in ("上一条", "前一条") else 1)
    if not 0 <= at < len(numbered):  # past the last (or before the first): asked as such, the answer says so
        return f"《{document.title}》第{numbered[-1].number + 1 if at > 0 else 0}条是什么？"
    return f"《{document.title}》第{numbered[at].number}条是什么？"


def completed_topic(conversation: Conversation, catalog: Catalog, words) -> str:
    """The newest user turn that says what it is about, each elliptical turn completed from the ones before:
    苏州的算力券补贴多少？ → 那吴中区呢？ → 南京呢？ completes from 吴中区的算力券补贴多少？, not from 那吴中区呢？.
    Turns without a topic of their own (这条由谁负责？) are passed over."""
    previous = ""
    for turn in conversation.turns:
        if turn.get("role") != "user" or not str(turn.get("content", "")).strip():
            continue
        text = str(turn["content"])
        completed = complete_ellipsis(text, previous, catalog, words) if previous else text
        if topic_words(completed, words) or not previous:
            previous = completed
    return previous


def complete_ellipsis(question: str, previous: str, catalog: Catalog, words) -> str:
    """那泰安呢？ after 武汉对OPC算力有什么支持？ → 泰安对OPC算力有什么支持？;
    那高端化工营收占比呢？ after 绿色工厂营收占比要提高到多少？ → 高端化工营收占比要提高到多少？

    The new words replace the previous question's documents (a place, a title) when they only
    name documents, else its topic; what the previous question asked (多少, 哪个部门) is kept.
    Anything that is not such an ellipsis is returned unchanged.
    """
    match = ELLIPSIS.match(question.strip())
    if not match or not previous or not (question.startswith("那") or "呢" in question):
        return question
    rest = match.group("rest").strip()
    scope = resolve_scope(rest, catalog)
    remainder = rest
    for name in sorted(scope.names, key=len, reverse=True):
        remainder = remainder.replace(name, "")
    previous_scope = resolve_scope(previous, catalog)
    frame = previous
    for name in sorted(previous_scope.names, key=len, reverse=True):
        frame = frame.replace(name, "")
    if not topic_words(remainder, words):  # only documents named: ask the previous question of them
        return rest + frame
    swapped = _swap_modifier(remainder, frame, words)
    if swapped:
        return swapped
    head, of, tail = frame.partition("的")
    if of and topic_words(head, words) and topic_words(tail, words):
        return rest + of + tail  # 那子女教育呢？ after 赡养老人的个税怎么扣除？: the subject before 的 is replaced
    previous_topic = topic_words(frame, words)
    for word in sorted(previous_topic, key=len, reverse=True):
        if word not in rest:
            frame = frame.replace(word, "", 1)
    return rest + frame


def _swap_modifier(new: str, frame: str, words) -> str | None:
    """那先进级的呢？ after 卓越级智能工厂要培育几家？ → 先进级智能工厂要培育几家？: the new words end in a
    word of the previous question (级, 营收): those before it in the previous question are replaced by the
    new ones before it. None when the two share no topic word."""
    new_topic = topic_words(new, words)
    frame_tokens = list(words(frame))
    for position, token in enumerate(new_topic):
        if position == 0 or token not in frame_tokens:
            continue
        at = frame_tokens.index(token)
        before = new_topic[:position]
        start = at
        while start > 0 and at - start < len(before) and frame_tokens[start - 1] in topic_words(frame, words):
            start -= 1
        if start == at:
            return None
        return "".join(frame_tokens[:start] + before + frame_tokens[at:])
    return None


def check_question(question: str) -> str:
    """The question, stripped; raises BadQuestion (the message says what to fix) when it is empty or too long.

    The same checks as POST /api/ask, for callers that must not open the index first (the CLI).
    """
    from assistant.models import MAX_QUESTION_CHARS

    question = _clean(question)
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"the question has {len(question)} characters; at most {MAX_QUESTION_CHARS} are allowed")
    return question


def _clean(question: str) -> str:
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    question = question.replace("\x00", "").strip()
    if not question:
        raise BadQuestion("the question is empty: ask something about the policy, e.g. 智能工厂有哪些支持？")
    return question


def measure_out(document: Document, measure: Measure) -> MeasureOut:
    return MeasureOut(
        doc_id=document.doc_id, number=measure.number, title=measure.title, section=measure.section,
        text=measure.text, departments=list(measure.departments), responsibility=measure.responsibility,
        departments_text=measure.departments_text,
        targets=[TargetOut(value=t.value, value_text=t.value_text, unit=t.unit, phrase=t.phrase,
                           qualifier=t.qualifier, text=t.text, kind=t.kind, per=t.per) for t in measure.targets],
        sentences=[SentenceOut(start=s.start, end=s.end, text=s.text, kind=s.kind, departments=list(s.departments))
                   for s in measure.sentences],
        key=measure.key, label=measure.label, path=list(measure.path),
        roles=[RoleOut(name=r.name, role=r.role) for r in measure.roles], kind=measure.kind,
    )


def document_out(document: Document, catalog: Catalog | None = None) -> DocumentOut:
    notice = NoticeOut(title=document.notice.title, text=document.notice.text) if document.notice else None
    short = catalog.info(document.doc_id).short_title if catalog is not None else None
    return DocumentOut(doc_id=document.doc_id, title=document.title, doc_number=document.doc_number, short_title=short,
                       issued_on=document.issued_on, issuer=document.issuer, source=document.source,
                       measures=[measure_out(document, m) for m in document.measures],
                       effective_on=document.effective_on, expires_on=document.expires_on, notice=notice,
                       place=document.place, level=document.level)
