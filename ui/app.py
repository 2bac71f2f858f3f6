"""The Gradio front end: 政策问答 (chat), 政策查询 (lookup for hotline staff), 文件信息 (the documents).

``build_ui(get_assistant, feedback, corpus_folder)`` makes the Blocks; ``mount_ui(app,
get_assistant, feedback, corpus_folder=...)`` mounts them at "/" on the FastAPI app, after the API
routes. ``get_assistant`` is called on every event, never while building, so the
assistant can be loaded later, in the app's lifespan (assistant/api.py passes
``lambda: app.state.assistant``). The assistant offers what ``Assistant`` below
lists (assistant.service.PolicyAssistant; tests/fake_assistant.py for fast
tests). The page's title, subtitle and example questions come from the corpus
folder's ui.json or from the documents (ui/config.py); the lookup's pickers and
lists from ui/lookup.py. The HTML comes from ui.render, which escapes every string
taken from a question or a document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import NamedTuple, Protocol

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: it phones home otherwise
# Gradio's queue keeps a record of every event (10,000 by default) for its /monitoring page, which
# answers 404 here (ui/routes.py), and summarises them all with pandas after each event: keep 100.
# Records kept from a flood of sessions would also pin the memory those sessions freed.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "100")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")

import gradio as gr  # noqa: E402

from assistant.errors import NotFound  # noqa: E402
from assistant.models import (  # noqa: E402
    MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, MAX_TURN_CITATIONS, AskResponse, DepartmentOut, DocumentOut, MeasureOut,
)
from corpus.departments import alias_table  # noqa: E402
from ui import lookup, render, sessions  # noqa: E402
from ui.config import GENERIC_TITLE, MAX_EXAMPLES, ConfigFile, UiTexts, texts_for  # noqa: E402
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore, FeedbackUnavailable  # noqa: E402
from ui.lookup import ALL, Corpus  # noqa: E402
from ui.routes import UiGuard  # noqa: E402
from ui.sessions import SessionReaper, cap_sessions, trim_chat  # noqa: E402

logger = logging.getLogger(__name__)

MAX_TURN_CHARS = 4000  # assistant.models.Turn.content
QUEUE_MAX_SIZE = 64
CONCURRENCY_LIMIT = 4
# Gradio's cache: the UI writes no files (uploads are refused, ui/routes.py); anything Gradio itself
# puts there is deleted once an hour old, and all of it when the server stops.
DELETE_CACHE = (3600, 3600)  # (every N seconds, files older than M seconds)

# CJK fonts first, so that Latin letters and digits inside Chinese text come from the same
# font (a Latin-first stack mixes weights and widths within one title). System fonts only:
# nothing is fetched from a font CDN on a closed network.
FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "system-ui", "sans-serif"]

# Runs in the page once it has loaded its corpus: the browser tab takes the header's title.
SHOW_TITLE = """
() => {
  const title = document.querySelector("#pq-header h1");
  if (title && title.textContent) document.title = title.textContent;
}
"""


def _theme() -> gr.themes.Base:
    return gr.themes.Default(font=FONTS, font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])


CSS = """
.gradio-container { width: 100% !important; max-width: 1200px !important; margin: 0 auto; }
.pq-header h1 { font-size: 1.5rem; margin: 0.2em 0; }
.pq-header p { margin: 0.1em 0; color: var(--body-text-color-subdued); font-size: 0.95em; }
.pq-inputrow { align-items: flex-end !important; }
.pq-inputrow > button { white-space: nowrap; margin-bottom: var(--block-padding, 10px); }
.pq-feedback-label { color: var(--body-text-color-subdued); font-size: 0.95em; }
.pq-answer, .pq-question, .pq-list, .pq-detail, .pq-docs, .pq-header { overflow-wrap: anywhere; word-break: break-word; min-width: 0; }
.pq-answer-text { line-height: 1.7; }
.pq-notfound .pq-answer-text { color: var(--body-text-color-subdued); }
.pq-error { color: var(--error-text-color, #b91c1c); }
.pq-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 340px), 1fr));
            gap: 10px; margin-top: 10px; align-items: start; }
.pq-card { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent);
           border-radius: 8px; padding: 10px 12px; background: var(--background-fill-primary);
           color: var(--body-text-color); min-width: 0; line-height: 1.6; }
.pq-head { font-weight: 600; font-size: 1.05em; margin-bottom: 4px; }
.pq-num { display: inline-block; background: var(--color-accent); color: white; border-radius: 4px;
          padding: 0 6px; margin-right: 6px; font-size: 0.9em; }
.pq-field { display: grid; grid-template-columns: 4.5em minmax(0, 1fr); gap: 8px; margin: 3px 0; font-size: 0.95em; }
.pq-key { color: var(--body-text-color-subdued); white-space: nowrap; }
.pq-val { min-width: 0; }
.pq-sources { margin-top: 12px; }
.pq-sources-head { color: var(--body-text-color-subdued); font-size: 0.9em; }
.pq-sources-head + .pq-cards { margin-top: 4px; }
details.pq-sources > summary { cursor: pointer; color: var(--link-text-color, var(--color-accent)); }
.pq-dept { display: inline-block; background: var(--color-accent-soft); border-radius: 4px;
           padding: 0 6px; margin: 0 4px 2px 0; }
.pq-targets { margin: 0; padding-left: 1.1em; }
.pq-targets li { margin: 0 !important; padding: 0; }
.pq-quote { margin: 6px 0; padding: 4px 10px; border-left: 3px solid #f2c94c;
            background: var(--background-fill-secondary); font-size: 0.95em; }
.pq-full summary { cursor: pointer; color: var(--link-text-color, var(--color-accent)); margin-top: 4px; }
.pq-text { margin-top: 4px; font-size: 0.95em; line-height: 1.7; }
.pq-card mark { background: #ffe58f; color: #1f2937; padding: 0 1px; }
.pq-text-open { margin-top: 8px; padding-top: 8px; border-top: 1px dashed var(--border-color-primary); }
.pq-transfer { margin-top: 6px; padding: 4px 8px; background: var(--background-fill-secondary);
               border-radius: 4px; font-size: 0.95em; user-select: all; }
.pq-list-head { font-weight: 600; margin: 4px 0; }
.pq-subtitle { font-weight: 500; }
.pq-untitled { font-weight: 400; color: var(--body-text-color-subdued); }
.pq-docline { font-size: 0.9em; color: var(--body-text-color-subdued); margin-bottom: 4px;
              padding-bottom: 4px; border-bottom: 1px dashed var(--border-color-primary); }
.pq-docname { color: var(--body-text-color); font-weight: 600; }
.pq-expired { color: var(--error-text-color, #b91c1c); font-weight: 600; }
.pq-pending { color: #b45309; font-weight: 600; }
.pq-valid { color: #15803d; }
.pq-doc-expired { border-left-color: var(--error-text-color, #b91c1c); }
.pq-docgroup { margin-top: 16px; }
.pq-docgroup-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 10px; padding-top: 6px;
                    border-top: 2px solid var(--color-accent); }
.pq-docgroup-head .pq-docline { border-bottom: none; margin: 0; padding: 0; font-size: 1.02em; }
.pq-count { display: inline-block; background: var(--color-accent-soft); border-radius: 10px; padding: 0 8px;
            font-size: 0.9em; white-space: nowrap; }
.pq-more summary { cursor: pointer; color: var(--link-text-color, var(--color-accent)); font-size: 0.9em; }
.pq-muted { color: var(--body-text-color-subdued); }
.pq-trimmed { font-size: 0.9em; }
.pq-examples button { flex: 0 1 auto !important; min-width: 0 !important; }
#pq-chat .message, #pq-chat .message-content { max-width: 100%; overflow-wrap: anywhere; }
#pq-detail:not(:has(.pq-card, .pq-muted)) { display: none; }  /* empty: no gap above the list */
@media (max-width: 600px) {
  .gradio-container { padding: 0 6px !important; }
  .pq-header h1 { font-size: 1.2rem; }
  .pq-header .pq-tagline, .pq-header .pq-subtitle { display: none; }
  /* the pickers must all fit on the first screen, above what they list */
  .pq-pickers { gap: 0 !important; }
  .pq-pickers .block { padding-top: 6px !important; padding-bottom: 6px !important; }
  /* a text box takes the whole line, its buttons share the next one */
  .pq-inputrow > .form { flex: 1 1 100% !important; min-width: 100% !important; }
  .pq-inputrow > button { flex: 1 1 0 !important; margin-bottom: 0; }
}
"""

# Runs in the page after each answer arrives. The chatbot does not scroll to its end (a long answer
# would show its last card, its lead line scrolled away, as on a 390 px phone): this brings the
# newest question to the top of the chat panel with the start of its answer under it, then makes
# sure the answer's first line is on screen. It waits for the page to render the new exchange
# (each question carries a fresh pq-q-<key> class, render.question_html).
SHOW_NEWEST_ANSWER = """
() => {
  const chat = document.getElementById("pq-chat");
  if (!chat) return;
  const keyOf = (el) => ((el && el.className.match(/pq-q-([0-9a-f]+)/)) || [])[1];
  const scroller = (el) => {
    for (let node = el.parentElement; node && node !== chat.parentElement; node = node.parentElement) {
      if (/(auto|scroll)/.test(getComputedStyle(node).overflowY) && node.scrollHeight > node.clientHeight) return node;
    }
    return null;
  };
  const show = (tries) => {
    const asked = chat.querySelectorAll(".pq-question");
    const question = asked[asked.length - 1];
    const key = keyOf(question);
    const bots = chat.querySelectorAll("[data-testid='bot']");
    const answer = bots[bots.length - 1];
    const rendered = question && answer && answer.querySelector(".pq-answer") &&
      (question.compareDocumentPosition(answer) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (!rendered || key === window.pqShownQuestion) {
      if (question && tries < 120) requestAnimationFrame(() => show(tries + 1));
      return;
    }
    window.pqShownQuestion = key;
    const lead = answer.querySelector(".pq-answer-text") || answer.querySelector(".pq-answer");
    const panel = scroller(question);
    if (panel) {
      const top = panel.getBoundingClientRect().top;
      const fromQuestion = question.getBoundingClientRect().top - top - 8;
      const fromLead = lead.getBoundingClientRect().top - top - 8;
      // the question at the top, unless it is so long that the answer would start below the panel
      panel.scrollTop += fromLead - fromQuestion < panel.clientHeight - 64 ? fromQuestion : fromLead;
    }
    const leadTop = lead.getBoundingClientRect().top;
    if (leadTop < 0 || leadTop + 48 > window.innerHeight) {
      window.scrollBy({ top: leadTop - Math.min(160, window.innerHeight / 4) });
    }
  };
  requestAnimationFrame(() => show(0));
}
"""


class Assistant(Protocol):
    """What the UI asks of the answering engine (assistant.service.PolicyAssistant).

    ``lookup(query, doc_ids=...)`` is only called with ``doc_ids`` when the corpus holds several
    documents. An optional ``clock()`` (PolicyAssistant.clock) gives the date documents' validity
    is judged on, as in the answers; without it, today.
    """

    def ask(self, question: str, history: list[dict] | None = None) -> AskResponse: ...
    def lookup(self, query: str, doc_ids: list[str] | None = None) -> list[MeasureOut]: ...  # every match, never cut
    def documents(self) -> list[DocumentOut]: ...
    def departments(self) -> list[DepartmentOut]: ...
    def measure(self, doc_id: str, key: str) -> MeasureOut: ...  # key: record key, number or title; raises NotFound


# What every lookup event returns, in this order (the components of the 政策查询 tab).
LOOKUP_OUTPUTS = ("results", "detail", "transfer", "query", "document", "department", "part", "group", "measure")


def _hidden():
    return gr.update(value="", visible=False)


class _Handlers:
    """The event handlers, bound to the assistant getter, an (optional) feedback store and the corpus
    folder whose ui.json (ui/config.py) may set the page's words."""

    def __init__(self, get_assistant: Callable[[], Assistant | None], feedback: FeedbackStore | None,
                 corpus_folder: Path | None = None):
        self._get_assistant = get_assistant
        self.store = feedback
        self.config = ConfigFile(corpus_folder)

    @property
    def assistant(self) -> Assistant:
        assistant = self._get_assistant()
        if assistant is None:
            raise gr.Error("系统正在载入政策文件和索引，请稍后刷新页面。")
        return assistant

    def today(self) -> date:
        """The date documents' validity is judged on: the assistant's clock when it has one."""
        return getattr(self.assistant, "clock", date.today)()

    def corpus(self) -> Corpus:
        assistant = self.assistant
        return Corpus(assistant.documents(), assistant.departments())

    def build_texts(self) -> UiTexts:
        """The page's words before any document is loaded: ui.json's, else generic ones."""
        config = self.config.read()
        texts = UiTexts(GENERIC_TITLE, "", (), ())
        return config.apply(texts) if config is not None else texts

    # --- 政策问答 ------------------------------------------------------------------

    def _get_measure(self, doc_id: str, key: str) -> MeasureOut | None:
        """The measure, or None when the assistant does not know it (e.g. a citation of the
        document's own facts, 文件信息)."""
        try:
            return self.assistant.measure(doc_id, key)
        except NotFound:
            return None

    def ask(self, question: str, chat: list, history: list[dict]):
        """Returns chat, history, last answer (for feedback), textbox value, feedback status."""
        question = (question or "").strip()
        if not question:
            return chat, history, gr.skip(), "", gr.skip()
        chat = list(chat or [])
        chat.append({"role": "user", "content": render.question_html(question, key=secrets.token_hex(6))})
        if len(question) > MAX_QUESTION_CHARS:
            chat.append(
                {"role": "assistant", "content": render.error_html(f"问题太长了（{len(question)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内。")}
            )
            return self._trimmed(chat), history, None, "", ""
        past = [dict(turn) for turn in (history or [])][-MAX_HISTORY_TURNS:]
        try:
            response = self.assistant.ask(question, history=past)
            several = len(self.assistant.documents()) > 1
            shown = render.answer_html(response, self._get_measure, show_doc=several, today=self.today())
        except gr.Error:
            raise
        except Exception as exc:  # shown to the user in the chat, logged with its traceback
            logger.exception("assistant.ask failed for %r", question)
            chat.append({"role": "assistant", "content": render.error_html(f"抱歉，回答时出错：{exc}。请稍后再试。")})
            return self._trimmed(chat), history, None, "", ""
        chat.append({"role": "assistant", "content": shown})
        chat = self._trimmed(chat)
        answered = {"role": "assistant", "content": response.answer[:MAX_TURN_CHARS]}
        cited = list(dict.fromkeys((c.doc_id, c.measure_key) for c in response.citations if c.measure_key))
        if cited:  # so that a follow-up (这条由谁负责？) finds the records, not only their numbers
            answered["citations"] = [{"doc_id": d, "key": k} for d, k in cited[:MAX_TURN_CITATIONS]]
        history = past + [{"role": "user", "content": question[:MAX_TURN_CHARS]}, answered]
        last = {
            "question": question,
            "answer": response.answer,
            "citations": [c.model_dump() for c in response.citations],
            "voted": None,
            "answer_id": uuid.uuid4().hex,  # one vote per answer, however many clicks arrive at once
        }
        return chat, history, last, "", ""

    @staticmethod
    def _trimmed(chat: list[dict]) -> list[dict]:
        """The chat as shown: the latest exchanges only (ui.sessions.trim_chat)."""
        return trim_chat(chat, {"role": "assistant", "content": render.trimmed_note_html()})

    def ask_and_show(self, question: str, messages: list, history: list[dict]):
        """``ask`` for the page: the messages go to the chatbot and to the server-side copy."""
        messages, *rest = self.ask(question, messages, history)
        return messages, messages, *rest

    @staticmethod
    def clear():
        """Empties the chatbot, its server-side copy, the history, the last answer and the boxes."""
        return [], [], [], None, "", "", ""

    def vote(self, vote: str, last: dict | None, comment: str):
        """Returns the feedback status, the comment box value and the last-answer state."""
        if self.store is None:
            return "反馈功能未启用。", comment, last
        if not last:
            return "请先提问，再对回答进行评价。", comment, last
        if last.get("voted"):
            return "已收到您对这条回答的评价，谢谢！", comment, last
        try:
            self.store.add(last["question"], last["answer"], last["citations"], vote, comment=comment or None,
                           answer_id=last.get("answer_id"))
        except FeedbackUnavailable as exc:
            logger.warning("feedback not stored: %s", exc)
            return "抱歉，反馈暂时无法保存，请稍后再试。", comment, last
        mark = "👍" if vote == "up" else "👎"
        return f"{mark} 已记录您的反馈，谢谢！", "", {**last, "voted": vote}

    # --- the page opening ------------------------------------------------------------

    def load_choices(self):
        """What a page fills in when it opens: the lookup's pickers (document, department, part, group,
        measure), the documents tab, the header, the examples (their box, then MAX_EXAMPLES buttons,
        the unused ones hidden) and the two boxes' placeholders."""
        c = self.corpus()
        texts = texts_for(c.documents, c.departments, self.config.read())
        doc_id = c.only()
        examples = [gr.update(value=q, visible=True) for q in texts.examples[:MAX_EXAMPLES]]
        examples += [gr.update(visible=False)] * (MAX_EXAMPLES - len(examples))
        return (
            gr.update(choices=lookup.document_choices(c), value=ALL, visible=c.multi),
            gr.update(choices=lookup.department_picker(c), value=ALL),
            gr.update(choices=lookup.part_choices(c, doc_id), value=ALL),
            gr.update(choices=[], value=None, visible=False),
            gr.update(choices=lookup.measure_choices(c, doc_id), value=None),
            render.documents_html(c.documents, c.departments, self.today()),
            render.header_html(texts.title, texts.subtitle, c.documents),
            gr.update(visible=bool(texts.examples)),
            *examples,
            gr.update(placeholder=texts.question_placeholder),
            gr.update(placeholder=texts.query_placeholder),
        )

    # --- 政策查询 ------------------------------------------------------------------
    # Every lookup event reads the pickers (query, document, department, part, group) and returns
    # LOOKUP_OUTPUTS: results, detail, transfer, query, document, department, part, group, measure.
    # The document and department filters combine with whatever is listed; a search and browsing by
    # part and group replace each other; a measure shows its detail in place of the list.

    @staticmethod
    def _out(results=None, *, detail="", transfer=None, query=None, document=None, department=None, part=None,
             group=None, measure=None):
        """LOOKUP_OUTPUTS in order; what is not given stays as it is (the detail and 转办 line are cleared)."""
        return (gr.skip() if results is None else results, detail, _hidden() if transfer is None else transfer,
                *(gr.skip() if v is None else v for v in (query, document, department, part, group, measure)))

    def _listing(self, c: Corpus, *, query: str = "", doc_id: str | None = None, department: str | None = None,
                 part: str | None = None, group: str | None = None) -> str:
        """The list for what the pickers say, every record, never cut; a hint when nothing is picked."""
        missing = 0
        if query:
            found = self.assistant.lookup(query, doc_ids=[doc_id]) if doc_id and c.multi else self.assistant.lookup(query)
            found = [m for m in found if not doc_id or m.doc_id == doc_id]
            if department:
                key = lambda m: (m.doc_id, render.ref_key(m.key, m.number, m.title))  # noqa: E731
                theirs = {key(m) for m in c.department_measures(department, doc_id)[0]}
                found = [m for m in found if key(m) in theirs]
        elif department:
            found, missing = c.department_measures(department, doc_id)
            if part is not None:
                found = [m for m in found if render.part_of(m) == part and (group is None or render.group_of(m) == group)]
        elif doc_id or part is not None:
            found = c.measures(doc_id, part, group)
        else:
            return render.message_html("请输入关键词，或选择文件、责任单位、部分、条目。")
        head = lookup.heading(c, len(found), query=query, doc_id=doc_id, department=department, part=part, group=group)
        if missing:
            head += f"（另有 {missing} 条未能载入，文件可能已更新，请刷新页面）"
        return render.measure_list_html(head, found, c.by_id, grouped=c.multi, today=self.today())

    def search(self, query: str, document: str | None, department: str | None, part=None, group=None):
        """Lists every record matching ``query`` within the document and department filters; a
        department's name or short name (工信局) picks that department instead. Resets part, group
        and measure."""
        c = self.corpus()
        query = (query or "").strip()[:MAX_QUESTION_CHARS]
        try:
            doc_id = c.document(document) or c.only()
            department = c.department(department, doc_id if c.multi else None)
        except lookup.BadChoice as exc:
            return self._out(render.message_html(str(exc)))
        names = [name for _, name in lookup.department_choices(c, doc_id if c.multi else None)]
        named = (query if query in names else alias_table(names).get(query)) if query else None
        if named:
            department, query = named, ""
        if not (query or department or (doc_id and c.multi)):
            keywords = texts_for(c.documents, c.departments, self.config.read()).keywords
            hint = f"，例如：{'、'.join(keywords)}" if keywords else ""
            return self._out(render.message_html(f"请输入关键词{hint}。"))
        return self._out(self._listing(c, query=query, doc_id=doc_id, department=department), query=query,
                         department=gr.update(value=department or ALL), part=gr.update(value=ALL),
                         group=gr.update(choices=[], value=None, visible=False),
                         measure=gr.update(choices=lookup.measure_choices(c, doc_id), value=None))

    def by_document(self, query: str, document: str | None, department: str | None, part=None, group=None):
        """The document filter: the other pickers now offer that document's departments, parts and
        measures; the department is kept when the document has it; the list follows."""
        c = self.corpus()
        try:
            doc_id = c.document(document)
        except lookup.BadChoice as exc:
            return self._out(render.message_html(str(exc)), document=gr.update(value=ALL))
        names = [name for _, name in lookup.department_choices(c, doc_id)]
        department = department if department in names else None
        query = (query or "").strip()[:MAX_QUESTION_CHARS]
        return self._out(self._listing(c, query=query, doc_id=doc_id, department=department),
                         department=gr.update(choices=lookup.department_picker(c, doc_id), value=department or ALL),
                         part=gr.update(choices=lookup.part_choices(c, doc_id), value=ALL),
                         group=gr.update(choices=[], value=None, visible=False),
                         measure=gr.update(choices=lookup.measure_choices(c, doc_id), value=None))

    def by_department(self, query: str, document: str | None, department: str | None, part=None, group=None):
        """The department filter (a full name, or a short one typed in: 工信局), combined with the
        document, and with the search or the part and group shown."""
        c = self.corpus()
        query = (query or "").strip()[:MAX_QUESTION_CHARS]
        try:
            doc_id = c.document(document) or c.only()
            name = c.department(department, doc_id if c.multi else None)
            picked_part = c.part(part) if not query else None
            picked_group = c.group(group) if picked_part else None
        except lookup.BadChoice as exc:
            return self._out(render.message_html(str(exc)), department=gr.update(value=ALL))
        listing = self._listing(c, query=query, doc_id=doc_id, department=name,
                                part=picked_part[1] if picked_part else None,
                                group=picked_group[2] if picked_group else None)
        return self._out(listing, department=gr.update(value=name or ALL), measure=gr.update(value=None))

    def by_part(self, query: str, document: str | None, department: str | None, part: str | None, group=None):
        """Browsing: the records of one part (choosing it in a corpus of several also chooses its
        document), within the department filter. Clears the search; the group picker offers the part's
        groups, the measure picker its records."""
        c = self.corpus()
        try:
            picked = c.part(part)
            current = c.document(document) or c.only()
            name = c.department(department, current if c.multi else None)
        except lookup.BadChoice as exc:
            return self._out(render.message_html(str(exc)), part=gr.update(value=ALL))
        doc_id, section = picked if picked else (current, None)
        changes = {}
        if c.multi and doc_id != current:  # the document picker follows the part chosen
            names = [n for _, n in lookup.department_choices(c, doc_id)]
            name = name if name in names else None
            changes = dict(document=gr.update(value=doc_id),
                           department=gr.update(choices=lookup.department_picker(c, doc_id), value=name or ALL),
                           part=gr.update(choices=lookup.part_choices(c, doc_id), value=part))
        groups = lookup.group_choices(c, doc_id, section) if picked else []
        return self._out(self._listing(c, doc_id=doc_id, department=name, part=section), query="",
                         group=gr.update(choices=groups, value=ALL if groups else None, visible=bool(groups)),
                         measure=gr.update(choices=lookup.measure_choices(c, doc_id, section), value=None),
                         **changes)

    def by_group(self, query: str, document: str | None, department: str | None, part: str | None, group: str | None):
        """Browsing: the records of one group of the chosen part (the whole part for （整个部分）),
        within the department filter."""
        c = self.corpus()
        try:
            picked = c.group(group)
            in_part = c.part(part)
            doc_id = c.document(document) or c.only()
            name = c.department(department, doc_id if c.multi else None)
        except lookup.BadChoice as exc:
            return self._out(render.message_html(str(exc)), group=gr.update(value=ALL))
        if picked is None and in_part is None:
            return self._out(render.message_html("请先选择部分，再选择分组。"))
        doc_id, section, chosen = picked if picked else (*in_part, None)
        return self._out(self._listing(c, doc_id=doc_id, department=name, part=section, group=chosen), query="",
                         measure=gr.update(choices=lookup.measure_choices(c, doc_id, section, chosen), value=None))

    def detail(self, key: str | None):
        """The detail and the 转办 line (naming the document) in place of the list; the pickers stay
        as they are (they show where the measure is)."""
        if not key:
            return self._out(detail=gr.skip(), transfer=gr.skip())
        c = self.corpus()
        try:
            measure = c.picked_measure(key)
        except lookup.BadChoice as exc:
            return self._out("", detail=render.message_html(str(exc)))
        document = c.by_id.get(measure.doc_id)
        transfer = gr.update(value=render.transfer_line(measure, document), visible=True)
        return self._out("", detail=render.measure_detail_html(measure, document, self.today()), transfer=transfer)


def build_ui(get_assistant: Callable[[], Assistant | None], feedback: FeedbackStore | None = None,
             corpus_folder: Path | None = None) -> gr.Blocks:
    """The three tabs, wired to the assistant ``get_assistant()`` returns when a page asks.

    Nothing is asked of it here. ``feedback``: where 👍/👎 go; None hides them. ``corpus_folder``:
    where the optional ui.json (ui/config.py) sets the title, subtitle and examples; it is read here
    for the page as first served, and again on every page load (then the documents fill in the rest)."""
    h = _Handlers(get_assistant, feedback, corpus_folder)
    first = h.build_texts()
    with gr.Blocks(title=first.title, analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        header = gr.HTML(render.header_html(first.title, first.subtitle, None), elem_id="pq-header", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("政策问答", id="chat"):
                messages = gr.State([])  # what the chatbot shows, kept on the server (see ask_io below)
                history = gr.State([])
                last = gr.State(None)
                chat = gr.Chatbot(
                    label="对话",
                    show_label=False,
                    elem_id="pq-chat",
                    height="min(70vh, 680px)",
                    layout="panel",
                    feedback_options=None,
                    latex_delimiters=[],
                    buttons=[],
                    placeholder="请在下方输入您的问题，或点击示例问题。",
                    autoscroll=False,  # SHOW_NEWEST_ANSWER scrolls to the start of an answer, not its end
                )
                with gr.Row(equal_height=False, elem_classes="pq-inputrow"):
                    question = gr.Textbox(
                        label="您的问题",
                        placeholder=first.question_placeholder,
                        max_length=MAX_QUESTION_CHARS,
                        scale=5,
                        min_width=150,
                        elem_id="pq-question",
                    )
                    send = gr.Button("发送", variant="primary", scale=0, min_width=64, elem_id="pq-send")
                    clear = gr.Button("清空", scale=0, min_width=64, elem_id="pq-clear")
                # the examples come from ui.json or from the documents (ui/config.py), set on page load
                with gr.Column(visible=bool(first.examples), elem_id="pq-examples") as examples_box:
                    gr.Markdown("示例问题：")
                    with gr.Row(elem_classes="pq-examples"):
                        shown = list(first.examples[:MAX_EXAMPLES])
                        examples = [gr.Button(shown[i] if i < len(shown) else "", size="sm", min_width=0,
                                              visible=i < len(shown), elem_classes="pq-example")
                                    for i in range(MAX_EXAMPLES)]
                with gr.Column(visible=feedback is not None):
                    gr.HTML('<div class="pq-feedback-label">这条回答对您有帮助吗？</div>', js_on_load=None)
                    with gr.Row(equal_height=False, elem_classes="pq-inputrow"):
                        up = gr.Button("👍 有帮助", scale=0, min_width=96, elem_id="pq-up")
                        down = gr.Button("👎 没帮助", scale=0, min_width=96, elem_id="pq-down")
                        comment = gr.Textbox(
                            label="意见（可选）",
                            placeholder="哪里不对、还缺什么？",
                            max_length=MAX_COMMENT_CHARS,
                            scale=4,
                            min_width=180,
                            elem_id="pq-comment",
                        )
                    status = gr.Markdown("", elem_id="pq-feedback-status")

            with gr.Tab("政策查询", id="lookup"):
                # every picker at the top, what they show below: on a phone a list of 22 cards is
                # thousands of pixels long, and a picker under it would be out of reach
                with gr.Row(equal_height=False, elem_classes="pq-inputrow"):
                    query = gr.Textbox(
                        label="关键词搜索（列出全部相关措施）",
                        placeholder=first.query_placeholder,
                        max_length=MAX_QUESTION_CHARS,
                        scale=5,
                        min_width=180,
                        elem_id="pq-query",
                    )
                    search = gr.Button("搜索", variant="primary", scale=0, min_width=72, elem_id="pq-search")
                # allow_custom_value: the handlers check every value themselves (ui/lookup.py), so a page
                # whose session has expired (its choices forgotten, ui/sessions.py) still works
                pickers = dict(choices=[], min_width=240, allow_custom_value=True)
                with gr.Row(elem_classes="pq-pickers"):
                    # filters, combined with whatever is listed; the document one only with several documents
                    document = gr.Dropdown(label="按文件筛选", elem_id="pq-document", visible=False, **pickers)
                    department = gr.Dropdown(label="按责任单位", elem_id="pq-department", **pickers)
                with gr.Row(elem_classes="pq-pickers"):  # browsing: (document →) part → group → measure
                    part = gr.Dropdown(label="按部分浏览", elem_id="pq-part", **pickers)
                    group = gr.Dropdown(label="按分组浏览", elem_id="pq-group", visible=False, **pickers)
                    measure = gr.Dropdown(label="按条目查看", elem_id="pq-measure", **pickers)
                transfer = gr.Textbox(label="转办（可复制）", interactive=False, buttons=["copy"], visible=False,
                                      elem_id="pq-transfer")
                detail = gr.HTML("", elem_id="pq-detail", js_on_load=None)
                results = gr.HTML(render.message_html("输入关键词，或选择文件、责任单位、部分、条目。"),
                                  elem_id="pq-results", js_on_load=None)

            with gr.Tab("文件信息", id="documents"):
                documents = gr.HTML(render.message_html("正在载入……"), elem_id="pq-documents", js_on_load=None)

        # The chatbot is an output only: as an input its HTML would travel back with every question,
        # and a few long answers (a department's 22 measures) pass the app's limit on request bodies.
        ask_io = dict(inputs=[question, messages, history], outputs=[chat, messages, history, last, question, status])
        send.click(h.ask_and_show, **ask_io).then(None, js=SHOW_NEWEST_ANSWER)
        question.submit(h.ask_and_show, **ask_io).then(None, js=SHOW_NEWEST_ANSWER)
        for button in examples:  # the question is put into the box in the page, then asked
            (button.click(None, inputs=button, outputs=question, js="(q) => q")
             .then(h.ask_and_show, **ask_io).then(None, js=SHOW_NEWEST_ANSWER))
        cleared = [chat, messages, history, last, question, comment, status]
        clear.click(h.clear, outputs=cleared, concurrency_limit=None)
        # the chatbot's own trash icon empties the display only: forget the conversation too
        chat.clear(h.clear, outputs=cleared, concurrency_limit=None)
        up.click(lambda last_, c: h.vote("up", last_, c), inputs=[last, comment], outputs=[status, comment, last])
        down.click(lambda last_, c: h.vote("down", last_, c), inputs=[last, comment], outputs=[status, comment, last])

        # .input (user action only) rather than .change, so that a handler updating a picker does not
        # fire it again
        lookup_io = dict(inputs=[query, document, department, part, group],
                         outputs=[results, detail, transfer, query, document, department, part, group, measure])
        search.click(h.search, **lookup_io)
        query.submit(h.search, **lookup_io)
        document.input(h.by_document, **lookup_io)
        department.input(h.by_department, **lookup_io)
        part.input(h.by_part, **lookup_io)
        group.input(h.by_group, **lookup_io)
        measure.input(h.detail, inputs=measure, outputs=lookup_io["outputs"])
        demo.load(h.load_choices, outputs=[document, department, part, group, measure, documents, header,
                                           examples_box, *examples, question, query]).then(None, js=SHOW_TITLE)

    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo


class MountedUi(NamedTuple):
    """What ``mount_ui`` leaves on ``app.state.ui``: the Blocks and the reaper of their sessions."""

    demo: gr.Blocks
    reaper: SessionReaper


def mount_ui(fastapi_app, get_assistant: Callable[[], Assistant | None], feedback: FeedbackStore | None,
             path: str = "/", *, idle_seconds: float | None = None, max_sessions: int | None = None,
             corpus_folder: Path | None = None):
    """Mount the UI on ``fastapi_app`` at ``path`` and return the app.

    Call it LAST, after every API route is registered: a mount at "/" matches
    every path, so a route added after it is never reached. Below the mount only
    the routes the UI needs answer (ui/routes.py); a session idle for
    ``idle_seconds`` is forgotten, and at most ``max_sessions`` are held
    (default: ui.sessions.IDLE_SECONDS and MAX_SESSIONS, read at this call).
    ``app.state.ui`` holds the Blocks and the reaper. ``corpus_folder``: where the page's optional
    ui.json is (ui/config.py); None: the page's words come from the documents alone.
    """
    demo = build_ui(get_assistant, feedback, corpus_folder)
    cap_sessions(demo, max_sessions or sessions.MAX_SESSIONS)
    gr.mount_gradio_app(
        fastapi_app,
        demo,
        path=path,
        theme=_theme(),
        css=CSS,
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        show_error=True,
        max_file_size=0,  # nothing is uploaded: the upload route answers 404 anyway
    )
    reaper = SessionReaper(demo, idle_seconds or sessions.IDLE_SECONDS)
    mount = next(r for r in reversed(fastapi_app.router.routes)
                 if getattr(getattr(r, "app", None), "get_blocks", lambda: None)() is demo)
    mount.app = UiGuard(mount.app, reaper)
    _run_in_lifespan(fastapi_app, reaper.run)
    fastapi_app.state.ui = MountedUi(demo, reaper)
    return fastapi_app


def _run_in_lifespan(fastapi_app, task: Callable) -> None:
    """Run ``task()`` (a coroutine function) while ``fastapi_app`` serves, cancelled when it stops."""
    inner = fastapi_app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with inner(app) as state:
            running = asyncio.create_task(task())
            try:
                yield state
            finally:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    fastapi_app.router.lifespan_context = lifespan
