"""PolicyAssistant: the corpus, the index and everything the API, CLI and UI ask of them."""

from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Literal

from assistant import answers, llm
from assistant.answers import Evidence
from assistant.errors import BadQuestion, NotFound, ReindexBusy
from assistant.intents import Intent, list_topic, measure_numbers, route
from assistant.models import (
    AskResponse, Citation, DepartmentOut, DocumentOut, MeasureOut, MeasureRef, SentenceOut, TargetOut,
)
from assistant.relevance import Relevance
from assistant.settings import Settings
from corpus.errors import CorpusError
from corpus.loading import CorpusLoad, load_corpus
from corpus.records import Document, Measure, Sentence
from index.building import LoadedIndex, build_index, ensure_index, open_version
from index.child_build import ChildBuildCancelled, ChildBuilder
from index.store import IndexStoreError, ensure_space, version_bytes
from index.hybrid import MeasureHit, SearchFilters
from index.tokenization import normalize_text

DEFAULT_TOP_K = 3
RETRIEVERS = {"bm25": ("lexical",), "dense": ("dense",), "hybrid": ("lexical", "dense")}
COVERAGE = ("稳增长、扩大有效投资、传统产业升级、新兴和未来产业、服务型制造、人工智能+制造、智改数转、数字经济、"
            "科技创新、工贸协同、产供衔接、金融、人才、节能降碳、绿色制造、化工园区、企业梯度培育、政企沟通与企业服务")


@dataclass
class _State:
    """One consistent view: a corpus load and the index built from it. Swapped whole."""

    load: CorpusLoad
    index: LoadedIndex
    departments: list[str]
    _normalized: dict[tuple[str, str], str] | None = None

    def normalized_text(self, document: Document, measure: Measure) -> str:
        """Title + text, normalized as the tokenizer does (full-width, traditional): for substring matching."""
        if self._normalized is None:
            self._normalized = {(d.doc_id, m.key): normalize_text(m.title + m.text)
                                for d in self.load.documents for m in d.measures}
        return self._normalized[(document.doc_id, measure.key)]

    def document(self, doc_id: str) -> Document | None:
        return self.load.document(doc_id)

    def measure(self, doc_id: str, key: str) -> Measure | None:
        document = self.document(doc_id)
        return next((m for m in document.measures if m.key == key), None) if document else None


RebuildStatus = Literal["idle", "pending", "running"]


class PolicyAssistant:
    """The corpus, its index and every question asked of them; one per process.

    ``embedder``: default ``make_embedder(settings.embedder)``. ``say``: where
    progress and warnings go (one line each). ``progress_factory(total, label)``
    gives a per-batch callback for a build's embedding, and is called only when
    texts are actually embedded. ``build_in_child``: rebuilds (``reindex``, the
    corpus watch) run in a child process at lower priority so queries keep their
    latency; the child recreates the embedder from its name, so pass False for an
    embedder that ``make_embedder(embedder.name)`` cannot recreate. The first
    build, when there is no index yet, runs here, with the progress bar.
    """

    def __init__(self, settings: Settings, embedder=None, say: Callable[[str], None] = lambda m: None,
                 progress_factory: Callable[[int, str], Callable[[int], None]] | None = None,
                 build_in_child: bool = True):
        from index.embedders import make_embedder

        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedder)
        self.say = say
        self.progress_factory = progress_factory
        self.relevance = Relevance()
        self.sides: tuple[str, ...] = RETRIEVERS["hybrid"]
        self._reindex_lock = threading.Lock()
        self._builder = ChildBuilder() if build_in_child else None
        self._rebuild_cond = threading.Condition()
        self._rebuild_pending = False  # a change was seen and no rebuild has taken it yet
        self._rebuild_force = False  # the pending rebuild must build even if the corpus hash is unchanged
        self._quiet_until = 0.0  # time.monotonic() before which a pending rebuild waits (changes settling)
        self._rebuild_worker: threading.Thread | None = None
        self._watcher = None  # assistant.watching.CorpusWatcher, while watching
        self.last_rebuild_error: str | None = None
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
        departments = sorted({name for d in load.documents for m in d.measures for name in m.departments},
                             key=lambda n: (-sum(n in m.departments for d in load.documents for m in d.measures), n))
        return _State(load, index, departments)

    def warm_up(self) -> None:
        """Load jieba, the embedding engine and the out-of-scope anchors now, so the first
        question is as fast as the others (called when a server starts)."""
        searcher = self._state.index.searcher
        searcher.tokenizer.load()
        self.relevance.anchors(searcher.embedder)

    def using(self, retriever: str) -> "PolicyAssistant":
        """A view of this assistant that retrieves with BM25 only, dense only or both (for evaluation)."""
        if retriever not in RETRIEVERS:
            raise BadQuestion(f"unknown retriever {retriever!r}; use one of {', '.join(RETRIEVERS)}")
        view = copy.copy(self)
        view.sides = RETRIEVERS[retriever]
        return view

    def _search(self, state: "_State", query: str, k: int, filters: SearchFilters | None = None,
                vector=None) -> list[MeasureHit]:
        return state.index.searcher.search(query, k=k, filters=filters, sides=self.sides, vector=vector)

    def _in_scope(self, state: "_State", query: str, vector, hits: list[MeasureHit] | None = None) -> bool:
        """Does the corpus answer ``query``? Judged on the best hybrid hit (see relevance.py).

        ``hits`` of a hybrid search already made for this query are reused.
        """
        searcher = state.index.searcher
        best = hits if hits is not None and self.sides == RETRIEVERS["hybrid"] else searcher.search(
            query, k=1, vector=vector)
        if not best:
            return False
        measure = state.measure(best[0].doc_id, best[0].measure_key)
        features = self.relevance.features(searcher, query, vector, best[0], measure.title + measure.text)
        return not self.relevance.refuse(features)

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
        except (IndexStoreError, CorpusError) as exc:
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

    def health(self) -> dict:
        state = self._state
        return {"status": "ok", "index_version": state.index.version, "documents": len(state.load.documents),
                "chunks": len(state.index.searcher.chunks), "rebuild": self.rebuild_status,
                "watching": self.watching, "last_rebuild_error": self.last_rebuild_error}

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
                except (IndexStoreError, CorpusError):
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
        return [document_out(d) for d in self._state.load.documents]

    def measure(self, doc_id: str, key: str | int | None) -> MeasureOut:
        state = self._state
        document = state.document(doc_id)
        if document is None:
            raise NotFound(f"no document {doc_id!r}; known: {', '.join(d.doc_id for d in state.load.documents)}")
        key = str(key)
        measure = next((m for m in document.measures if m.key == key or m.title == key), None)
        if measure is None:
            numbers = [m.number for m in document.measures if m.number is not None]
            span = f"1–{max(numbers)}" if numbers else "none"
            raise NotFound(f"no measure {key!r} in {doc_id} (numbered measures: {span}; unnumbered by key, e.g. "
                           f"{next((m.key for m in document.measures if m.number is None), 'r1')})")
        return measure_out(document, measure)

    def departments(self) -> list[DepartmentOut]:
        state = self._state
        out = []
        for name in state.departments:
            refs = [MeasureRef(doc_id=d.doc_id, number=m.number, title=m.title)
                    for d in state.load.documents for m in d.measures if name in m.departments]
            out.append(DepartmentOut(name=name, measures=refs))
        return out

    # -- search ----------------------------------------------------------------------------
    def search(self, query: str, k: int = 5) -> list[Citation]:
        query = _clean(query)
        state = self._state
        hits = self._search(state, query, k=k)
        return [answers.citation(self._evidence(state, hit)) for hit in hits]

    def lookup(self, query: str) -> list[MeasureOut]:
        """Every measure matching ``query`` (not cut at top-k): for hotline staff."""
        query = _clean(query)
        state = self._state
        matches = self._matching_measures(state, list_topic(query, state.index.searcher.tokenizer.words) or query)
        return [measure_out(d, m) for d, m in matches]

    def _evidence(self, state: _State, hit: MeasureHit) -> Evidence:
        document = state.document(hit.doc_id)
        measure = state.measure(hit.doc_id, hit.measure_key)
        sentences = [measure.sentences[s.chunk.sentence_index] for s in hit.sentences
                     if s.chunk.sentence_index is not None]
        sentences.sort(key=lambda s: s.start)
        return Evidence(document, measure, sentences or _body(measure)[:1], hit.score)

    def _matching_measures(self, state: _State, topic: str) -> list[tuple[Document, Measure]]:
        """Every measure whose text names the topic (any of its 、-alternatives).

        Falls back to measures holding all the words of an alternative, then to
        the search hits close to the best one when the topic is in scope at all.
        """
        alternatives = [normalize_text(a) for a in topic.split("、") if a.strip()]
        pairs = [(d, m) for d in state.load.documents for m in d.measures]
        texts = {id(m): state.normalized_text(d, m) for d, m in pairs}
        exact = [(d, m) for d, m in pairs if any(a in texts[id(m)] for a in alternatives)]
        if exact:
            return exact
        words = [[w for w in state.index.searcher.tokenizer.words(a) if len(w) > 1] for a in alternatives]
        every = [(d, m) for d, m in pairs if any(ws and all(w in texts[id(m)] for w in ws) for ws in words)]
        if every:
            return every
        query = topic.replace("、", " ")
        vector = state.index.searcher.encode(query)
        if not self._in_scope(state, query, vector):
            return []
        hits = self._search(state, query, k=10, vector=vector)
        kept = [h for h in hits if self.relevance.keep_with(h, hits[0])] if hits else []
        return [(state.document(h.doc_id), state.measure(h.doc_id, h.measure_key)) for h in kept]

    # -- asking ----------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, top_k: int | None = None) -> AskResponse:
        response = self._ask(question, history, top_k)
        if self.settings.llm_enabled and response.found and response.citations:
            result = llm.rewrite(llm.LLMConfig(self.settings.llm_base_url, self.settings.llm_model,
                                               self.settings.llm_api_key, self.settings.llm_timeout),
                                 _clean(question), response.answer, response.citations)
            if result.answer is not None:
                return response.model_copy(update={"answer": result.answer, "answer_source": "llm"})
            self.say(f"LLM answer not used ({result.reason}); serving the extractive answer")
        return response

    def _ask(self, question: str, history: list[dict] | None = None, top_k: int | None = None) -> AskResponse:
        question = _clean(question)
        history = [dict(t) if isinstance(t, dict) else t.model_dump() for t in (history or [])]
        state = self._state
        intent = route(question, state.departments, has_history=any(t["role"] == "user" for t in history),
                       words=state.index.searcher.tokenizer.words)
        handler = {
            "measure": self._ask_measure, "department": self._ask_department, "list": self._ask_list,
            "docfact": self._ask_docfact, "followup": self._ask_followup,
        }.get(intent.kind, self._ask_search)
        return handler(state, question, intent, history, top_k or DEFAULT_TOP_K)

    def _ask_measure(self, state, question, intent: Intent, history, top_k) -> AskResponse:
        found: list[tuple[Document, Measure]] = []
        for document in state.load.documents:
            for measure in document.measures:
                if measure.number in intent.numbers or (intent.safeguards and measure.title == "保障措施"):
                    found.append((document, measure))
        if not found:
            numbers = [m.number for d in state.load.documents for m in d.measures if m.number is not None]
            asked = "、".join(f"第{n}条" for n in intent.numbers) or "该措施"
            return AskResponse(answer=f"文件中没有{asked}。现有措施编号从第{min(numbers)}条到第{max(numbers)}条，"
                                      "另有一节保障措施。", found=False, intent="measure", citations=[])
        if len(state.load.documents) > 1 and len({d.doc_id for d, _ in found}) > 1:
            found = found[:1] if not intent.numbers else found
        evidence = []
        for document, measure in found:
            sentences = _body(measure)
            if intent.asks_figure:
                sentences = [s for s in sentences if _has_target(measure, s)] or sentences
            evidence.append(Evidence(document, measure, sentences, 1.0))
        answer = answers.retrieval_answer(evidence, department_first=intent.asks_department)
        return AskResponse(answer=answer, found=True, intent="measure", citations=[answers.citation(e) for e in evidence])

    def _ask_department(self, state, question, intent: Intent, history, top_k) -> AskResponse:
        rows, citations = [], []
        blocks = []
        for name in intent.departments:
            mine = [(d, m) for d in state.load.documents for m in d.measures if name in m.departments]
            blocks.append((name, mine))
        lines = []
        for name, mine in blocks:
            lines.append(f"{name}负责或参与的措施共{len(mine)}项：" if len(blocks) == 1 else f"{name}（{len(mine)}项）：")
            for i, (document, measure) in enumerate(mine, start=1):
                role = "牵头负责" if measure.departments == [name] else "按职责分工负责"
                lines.append(f"{i}. {answers.measure_name(measure)}（{role}）")
                dept_sentence = next((s for s in measure.sentences if s.kind == "departments"), None)
                quote = dept_sentence.text if dept_sentence else answers.departments_text(measure)
                citations.append(answers.citation(Evidence(document, measure, [], 1.0), quote=quote))
        if len(blocks) > 1:
            lines.insert(0, f"共{len(citations)}项，按部门列出：")
        return AskResponse(answer="\n".join(lines), found=bool(citations), intent="department", citations=citations)

    def _ask_list(self, state, question, intent: Intent, history, top_k) -> AskResponse:
        matches = self._matching_measures(state, intent.topic)
        if not matches:
            return self._refusal(intent="list")
        alternatives = [normalize_text(a) for a in intent.topic.split("、") if a]
        citations, rows = [], []
        for document, measure in matches:
            sentence = next((s for s in _body(measure) if any(a in normalize_text(s.text) for a in alternatives)),
                            None)
            sentence = sentence or (_body(measure)[:1] or [None])[0]
            quote = sentence.text if sentence else measure.title
            citations.append(answers.citation(Evidence(document, measure, [sentence] if sentence else [], 1.0),
                                              quote=quote))
            rows.append((measure, f"责任单位：{answers.departments_text(measure)}"))
        heading = f"涉及“{intent.topic}”的措施共{len(rows)}项："
        return AskResponse(answer=answers.measures_list_answer(heading, rows), found=True, intent="list",
                           citations=citations)

    def _ask_docfact(self, state, question, intent: Intent, history, top_k) -> AskResponse:
        document = state.load.documents[0]
        for doc in state.load.documents:  # a document named in the question wins
            if doc.title and doc.title in question:
                document = doc

        def preamble_quote(predicate) -> Sentence | None:
            return next((s for s in document.preamble if predicate(s.text)), None)

        quote: Sentence | None = None
        fact = intent.fact
        if fact == "doc_number" and document.doc_number:
            quote = preamble_quote(lambda t: re.sub(r"\s+", "", t).find(document.doc_number) >= 0)
            answer = f"文号：{document.doc_number}。"
        elif fact == "issued_on" and document.issued_on:
            y, m, d = (int(x) for x in document.issued_on.split("-"))
            quote = preamble_quote(lambda t: re.sub(r"\s+", "", t) == f"{y}年{m}月{d}日")
            answer = f"印发日期：{y}年{m}月{d}日（{document.issued_on}）。"
        elif fact == "issuer" and document.issuer:
            quote = preamble_quote(lambda t: t.strip() == document.issuer)
            answer = f"发文机关：{document.issuer}。"
        elif fact == "count":
            numbered = [m for m in document.measures if m.number is not None]
            others = [m for m in document.measures if m.number is None]
            last = numbered[-1] if numbered else None
            answer = f"《{document.title}》共有{len(numbered)}条编号措施" + (
                "，另有" + "、".join(f"「{m.title}」" for m in others) + "一节。" if others else "。")
            if last is not None:
                heading = next((s for s in last.sentences if s.kind == "heading"), _body(last)[0])
                cite = answers.citation(Evidence(document, last, [heading], 1.0), quote=heading.text)
                return AskResponse(answer=answer, found=True, intent="docfact", citations=[cite])
        elif fact == "recipients":
            quote = preamble_quote(lambda t: t.rstrip().endswith(("：", ":")))
            answer = "主送单位：" + (quote.text.rstrip("：:") if quote else "未列明") + "。"
        elif fact == "publicity":
            quote = preamble_quote(lambda t: "公开" in t)
            answer = (quote.text if quote else "文件未注明公开属性") + "。"
        elif fact == "approval":
            quote = preamble_quote(lambda t: "同意" in t or "批准" in t)
            answer = quote.text if quote else "文件未说明。"
        else:  # title
            answer = f"文件标题：《{document.title}》" + (f"，文号{document.doc_number}" if document.doc_number else "") + "。"
            quote = preamble_quote(lambda t: answers.NUMBER.sub("", re.sub(r"\s+", "", t)) ==
                                   answers.NUMBER.sub("", document.title)) or preamble_quote(lambda t: document.title[:8] in t)
            if document.doc_number:
                number_quote = preamble_quote(lambda t: document.doc_number in re.sub(r"\s+", "", t))
                if number_quote is not None and quote is not None:
                    quote = Sentence(quote.start, quote.end, quote.text + " " + number_quote.text, "preamble")
        citation = Citation(doc_id=document.doc_id, doc_title=document.title, measure_number=None,
                            measure_title="文件信息", section="", departments=[],
                            quote=quote.text if quote else document.title, score=1.0)
        return AskResponse(answer=answer, found=True, intent="docfact", citations=[citation])

    def _ask_followup(self, state, question, intent: Intent, history, top_k) -> AskResponse:
        context = self._context_measures(state, history)
        if not context:
            return self._ask_search(state, question, intent, history, top_k)
        if intent.asks_department:
            evidence = [Evidence(d, m, [], 1.0) for d, m in context]
            names = list(dict.fromkeys(n for _, m in context for n in m.departments))
            refs = "、".join(answers.measure_name(m) for _, m in context)
            answer = f"{refs}的责任单位：{'、'.join(names) or '未列明'}。"
            citations = []
            for e in evidence:
                dept = next((s for s in e.measure.sentences if s.kind == "departments"), None)
                citations.append(answers.citation(e, quote=dept.text if dept else answers.departments_text(e.measure)))
            return AskResponse(answer=answer, found=True, intent="followup", citations=citations)
        allowed = frozenset((d.doc_id, m.key) for d, m in context)
        previous = _last_user(history)
        hits = self._search(state, question + " " + previous, k=len(allowed),
                                           filters=SearchFilters(measures=allowed))
        evidence = [self._evidence(state, h) for h in hits] or [Evidence(d, m, _body(m)[:2], 1.0) for d, m in context]
        if intent.asks_figure:
            evidence = [_figure_evidence(e, state.index.searcher, question) for e in evidence]
            evidence = [e for e in evidence if any(_has_target(e.measure, s) for s in e.sentences)] or evidence
        if intent.asks_more:
            extra = self._search(state, previous + " " + question, k=1, filters=SearchFilters(exclude=allowed))
            if extra and extra[0].score >= self.relevance.keep_ratio * (hits[0].score if hits else 0):
                evidence.append(self._evidence(state, extra[0]))
        evidence = evidence[:max(top_k, 1)]
        answer = answers.retrieval_answer(
            evidence, figure_lines=_figure_lines(evidence, state.index.searcher, question) if intent.asks_figure else None)
        return AskResponse(answer=answer, found=True, intent="followup",
                           citations=[answers.citation(e) for e in evidence])

    def _context_measures(self, state, history) -> list[tuple[Document, Measure]]:
        """The measures the conversation is about: cited in the last answer, else found for the last question."""
        for turn in reversed(history):
            if turn["role"] == "assistant":
                numbers = measure_numbers(turn["content"])
                found = [(d, m) for d in state.load.documents for m in d.measures if m.number in numbers]
                if found:
                    return found[:3]
            if turn["role"] == "user" and turn["content"].strip():
                inner = self._ask(turn["content"])
                pairs = []
                for c in inner.citations:
                    document = state.document(c.doc_id)
                    measure = next((m for m in document.measures if m.number == c.measure_number and
                                    m.title == c.measure_title), None) if document else None
                    if measure is not None:
                        pairs.append((document, measure))
                return pairs[:2]
        return []

    def _ask_search(self, state, question, intent: Intent, history, top_k) -> AskResponse:
        searcher = state.index.searcher
        vector = searcher.encode(question)
        hits = self._search(state, question, k=max(top_k, 1), vector=vector)
        if not hits or not self._in_scope(state, question, vector, hits):
            return self._refusal(intent="search")
        kept = [hits[0]] + [h for h in hits[1:] if self.relevance.keep_with(h, hits[0])]
        evidence = [self._evidence(state, h) for h in kept]
        if intent.asks_figure:
            evidence = [_figure_evidence(e, searcher, question) for e in evidence]
        answer = answers.retrieval_answer(
            evidence, figure_lines=_figure_lines(evidence, searcher, question) if intent.asks_figure else None,
            department_first=intent.asks_department)
        return AskResponse(answer=answer, found=True, intent="search", citations=[answers.citation(e) for e in evidence])

    def _refusal(self, intent: str) -> AskResponse:
        # Without the year: a refusal cites nothing, so it states no figure at all.
        titles = "、".join(re.sub(r"\s*\d+\s*年\s*", "", d.title) for d in self._state.load.documents[:3])
        answer = ("抱歉，已收录的政策文件中没有找到与这个问题相关的内容，无法据此回答。"
                  f"目前收录的是{titles}，内容涵盖：{COVERAGE}等方面。如需其他政策，请咨询相关主管部门。")
        return AskResponse(answer=answer, found=False, intent="refusal", citations=[])


# -- helpers ------------------------------------------------------------------------------------
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


def _body(measure: Measure) -> list[Sentence]:
    return [s for s in measure.sentences if s.kind == "sentence"] or [s for s in measure.sentences if s.kind != "departments"]


def _has_target(measure: Measure, sentence: Sentence) -> bool:
    return any(sentence.start <= t.start < sentence.end for t in measure.targets)


def _figure_evidence(evidence: Evidence, searcher, question: str) -> Evidence:
    """For 多少/几家 questions: the measure's sentences that carry figures, best match first."""
    with_targets = [s for s in _body(evidence.measure) if _has_target(evidence.measure, s)]
    if not with_targets:
        return evidence
    tokens = set(searcher.tokenizer(question))
    ranked = sorted(with_targets, key=lambda s: -len(tokens & set(searcher.tokenizer(s.text))))
    chosen = ranked[:1] + [s for s in evidence.sentences if s not in ranked[:1]][:1]
    return Evidence(evidence.document, evidence.measure, sorted(chosen, key=lambda s: s.start), evidence.score)


def _figure_lines(evidence: list[Evidence], searcher, question: str) -> list[str]:
    """The targets a 多少/几家 question asks about, per measure: those sharing most words with it."""
    words = set(searcher.tokenizer(question))
    lines: list[str] = []
    for rank, e in enumerate(evidence):
        scored = [(len(words & set(searcher.tokenizer(t.phrase))), t.phrase)
                  for s in e.sentences for t in e.measure.targets if s.start <= t.start < s.end]
        if not scored:
            continue
        best = max(overlap for overlap, _ in scored)
        if best == 0 and rank > 0:
            continue  # only the best measure's figures are shown when none matches the question
        lines.extend(phrase for overlap, phrase in scored if overlap == best)
    return list(dict.fromkeys(lines))[:4]


def _last_user(history: list[dict]) -> str:
    return next((t["content"] for t in reversed(history) if t["role"] == "user"), "")


def measure_out(document: Document, measure: Measure) -> MeasureOut:
    return MeasureOut(
        doc_id=document.doc_id, number=measure.number, title=measure.title, section=measure.section,
        text=measure.text, departments=list(measure.departments), responsibility=measure.responsibility,
        departments_text=measure.departments_text,
        targets=[TargetOut(value=t.value, value_text=t.value_text, unit=t.unit, phrase=t.phrase,
                           qualifier=t.qualifier, text=t.text) for t in measure.targets],
        sentences=[SentenceOut(start=s.start, end=s.end, text=s.text, kind=s.kind) for s in measure.sentences],
    )


def document_out(document: Document) -> DocumentOut:
    return DocumentOut(doc_id=document.doc_id, title=document.title, doc_number=document.doc_number,
                       issued_on=document.issued_on, issuer=document.issuer, source=document.source,
                       measures=[measure_out(document, m) for m in document.measures])
