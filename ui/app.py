"""The Gradio front end: 政策问答 (chat), 政策查询 (lookup for hotline staff), 文件信息.

``build_ui(get_assistant, feedback)`` makes the Blocks; ``mount_ui(app,
get_assistant, feedback)`` mounts them at "/" on the FastAPI app, after the API
routes. ``get_assistant`` is called on every event, never while building, so the
assistant can be loaded later, in the app's lifespan (assistant/api.py passes
``lambda: app.state.assistant``). The assistant offers what ``Assistant`` below
lists (assistant.service.PolicyAssistant; tests/fake_assistant.py for fast
tests). The HTML comes from ui.render, which escapes every string taken from a
question or a document.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import uuid
from collections.abc import Callable
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
    MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, AskResponse, DepartmentOut, DocumentOut, MeasureOut,
)
from corpus.departments import alias_table  # noqa: E402
from ui import render, sessions  # noqa: E402
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore, FeedbackUnavailable  # noqa: E402
from ui.routes import UiGuard  # noqa: E402
from ui.sessions import SessionReaper, cap_sessions, trim_chat  # noqa: E402

logger = logging.getLogger(__name__)

APP_TITLE = "威海市工业经济政策问答"
EXAMPLES = ["智能工厂有哪些支持？", "贷款难怎么办？", "招不到熟练技术工人怎么办？", "工信局负责哪些措施？"]
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


def _theme() -> gr.themes.Base:
    return gr.themes.Default(font=FONTS, font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])


CSS = """
.gradio-container { width: 100% !important; max-width: 1200px !important; margin: 0 auto; }
.pq-header h1 { font-size: 1.5rem; margin: 0.2em 0; }
.pq-header p { margin: 0.1em 0; color: var(--body-text-color-subdued); font-size: 0.95em; }
.pq-inputrow { align-items: flex-end !important; }
.pq-inputrow > button { white-space: nowrap; margin-bottom: var(--block-padding, 10px); }
.pq-feedback-label { color: var(--body-text-color-subdued); font-size: 0.95em; }
.pq-answer, .pq-question, .pq-list, .pq-detail, .pq-docs { overflow-wrap: anywhere; word-break: break-word; min-width: 0; }
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
.pq-muted { color: var(--body-text-color-subdued); }
.pq-trimmed { font-size: 0.9em; }
.pq-examples button { flex: 0 1 auto !important; min-width: 0 !important; }
#pq-chat .message, #pq-chat .message-content { max-width: 100%; overflow-wrap: anywhere; }
@media (max-width: 600px) {
  .gradio-container { padding: 0 6px !important; }
  .pq-header h1 { font-size: 1.2rem; }
  .pq-header .pq-tagline { display: none; }
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
    """What the UI asks of the answering engine (assistant.service.PolicyAssistant)."""

    def ask(self, question: str, history: list[dict] | None = None) -> AskResponse: ...
    def lookup(self, query: str) -> list[MeasureOut]: ...  # every matching measure, never cut
    def documents(self) -> list[DocumentOut]: ...
    def departments(self) -> list[DepartmentOut]: ...
    def measure(self, doc_id: str, key: str) -> MeasureOut: ...  # key: number, or title; raises NotFound


def measure_key(number: int | None, title: str) -> str:
    """How ``Assistant.measure`` names a measure: its number, or the title of an unnumbered one (保障措施)."""
    return str(number) if number is not None else title


class _Handlers:
    """The event handlers, bound to the assistant getter and an (optional) feedback store."""

    def __init__(self, get_assistant: Callable[[], Assistant | None], feedback: FeedbackStore | None):
        self._get_assistant = get_assistant
        self.store = feedback

    @property
    def assistant(self) -> Assistant:
        assistant = self._get_assistant()
        if assistant is None:
            raise gr.Error("系统正在载入政策文件和索引，请稍后刷新页面。")
        return assistant

    # --- 政策问答 ------------------------------------------------------------------

    def _doc_titles(self) -> dict[str, str] | None:
        """doc_id → title when the corpus holds several documents (then list cards name theirs)."""
        documents = self.assistant.documents()
        return {d.doc_id: d.title for d in documents} if len(documents) > 1 else None

    def _get_measure(self, doc_id: str, number: int | None, title: str) -> MeasureOut | None:
        """The measure, or None when the assistant does not know it (e.g. a citation of the
        document's own facts, 文件信息)."""
        try:
            return self.assistant.measure(doc_id, measure_key(number, title))
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
        except Exception as exc:  # shown to the user in the chat, logged with its traceback
            logger.exception("assistant.ask failed for %r", question)
            chat.append({"role": "assistant", "content": render.error_html(f"抱歉，回答时出错：{exc}。请稍后再试。")})
            return self._trimmed(chat), history, None, "", ""
        chat.append({"role": "assistant", "content": render.answer_html(response, self._get_measure)})
        chat = self._trimmed(chat)
        history = past + [
            {"role": "user", "content": question[:MAX_TURN_CHARS]},
            {"role": "assistant", "content": response.answer[:MAX_TURN_CHARS]},
        ]
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

    # --- 政策查询 ------------------------------------------------------------------

    def load_choices(self):
        """Choices for the department, section and measure dropdowns, the documents tab, the header."""
        documents = self.assistant.documents()
        departments = render.department_choices(self.assistant.departments())
        several = len(documents) > 1
        sections, measures = [], []
        for doc in documents:
            prefix = f"《{doc.title}》" if several else ""
            counts: dict[str, int] = {}
            for m in doc.measures:
                counts[m.section] = counts.get(m.section, 0) + 1
            sections += [(f"{prefix}{s or '（未分部分）'}（{n}）", json.dumps([doc.doc_id, s])) for s, n in counts.items()]
            measures += [
                (prefix + render.measure_label(m.number, m.title), json.dumps([doc.doc_id, m.number, m.title]))
                for m in doc.measures
            ]
        return (
            gr.update(choices=departments, value=None),
            gr.update(choices=sections, value=None),
            gr.update(choices=measures, value=None),
            render.documents_html(documents),
            _header_html(documents),
        )

    # Each way of showing something in the lookup tab (a search, a department, a section, one
    # measure) clears the others, so the pickers shown always match what is shown below them.

    @staticmethod
    def _no_detail():
        """Clears the measure picker, the detail and the 转办 line (hidden while empty)."""
        return None, "", gr.update(value="", visible=False)

    def search(self, query: str):
        """Returns the list, clears the department and section filters, and the detail."""
        query = (query or "").strip()
        if not query:
            return render.message_html("请输入关键词，例如：智能工厂、贷款、人才、工信局。"), *[gr.skip()] * 5
        department = alias_table(d.name for d in self.assistant.departments()).get(query)
        if department is not None:  # 工信局: the department's complete list, as the filter gives it
            listing, *_ = self.by_department(department)
            return listing, None, None, *self._no_detail()
        found = self.assistant.lookup(query)
        heading = f"与「{query}」相关的措施：共 {len(found)} 条"
        return render.measure_list_html(heading, found, self._doc_titles()), None, None, *self._no_detail()

    def by_department(self, name: str | None):
        """Returns the list, clears the search box, the section filter and the detail. ``name`` is a
        full name, or a short one (工信局) typed into the picker."""
        if not name:
            return (gr.skip(),) * 6
        departments = self.assistant.departments()
        name = alias_table(d.name for d in departments).get(name, name)
        department = next((d for d in departments if d.name == name), None)
        if department is None:
            return render.message_html(f"没有找到单位「{name}」，文件可能已更新，请刷新页面。"), "", None, *self._no_detail()
        measures = []
        for ref in department.measures:
            m = self._get_measure(ref.doc_id, ref.number, ref.title)
            if m is not None:
                measures.append(m)
            else:
                logger.warning("department %s lists an unknown measure %s", name, ref)
        heading = f"{name}：共负责 {len(department.measures)} 条措施"
        if len(measures) < len(department.measures):
            heading += f"（其中 {len(department.measures) - len(measures)} 条未能载入）"
        return render.measure_list_html(heading, measures, self._doc_titles()), "", None, *self._no_detail()

    def by_section(self, key: str | None):
        """Returns the list, clears the search box, the department filter and the detail."""
        if not key:
            return (gr.skip(),) * 6
        try:
            doc_id, section = json.loads(key)
        except (ValueError, TypeError):  # typed into the picker, or a page older than the corpus
            return render.message_html(f"没有找到部分「{key}」，请从列表中选择。"), "", None, *self._no_detail()
        doc = next((d for d in self.assistant.documents() if d.doc_id == doc_id), None)
        measures = [m for m in doc.measures if m.section == section] if doc else []
        listing = render.measure_list_html(f"{section or '（未分部分）'}：共 {len(measures)} 条", measures)
        return listing, "", None, *self._no_detail()

    def detail(self, key: str | None):
        """Returns the detail and the 转办 line, and clears the list with its three filters."""
        if not key:
            return (gr.skip(),) * 6
        cleared = ("", "", None, None)  # results, search box, department, section
        try:
            doc_id, number, title = json.loads(key)
        except (ValueError, TypeError):  # typed into the picker, or a page older than the corpus
            return render.message_html(f"没有找到措施「{key}」，请从列表中选择。"), gr.update(value="", visible=False), *cleared
        measure = self._get_measure(doc_id, number, title)
        if measure is None:
            message = render.message_html("没有找到这条措施，文件可能已更新，请刷新页面。")
            return message, gr.update(value="", visible=False), *cleared
        doc_title = next((d.title for d in self.assistant.documents() if d.doc_id == doc_id), None)
        transfer = gr.update(value=render.transfer_line(measure), visible=True)
        return render.measure_detail_html(measure, doc_title), transfer, *cleared


def _header_html(documents) -> str:
    corpus = render.corpus_summary_html(documents) if documents is not None else render.message_html("正在载入政策文件……")
    return (
        f'<div class="pq-header"><h1>{APP_TITLE}</h1>'
        '<p class="pq-tagline">依据政策文件原文作答，每条回答都注明措施条目、责任单位和原文依据。</p>'
        f"{corpus}</div>"
    )


def build_ui(get_assistant: Callable[[], Assistant | None], feedback: FeedbackStore | None = None) -> gr.Blocks:
    """The three tabs, wired to the assistant ``get_assistant()`` returns when a page asks.

    Nothing is asked of it here. ``feedback``: where 👍/👎 go; None hides them."""
    h = _Handlers(get_assistant, feedback)
    with gr.Blocks(title=APP_TITLE, analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        header = gr.HTML(_header_html(None), elem_id="pq-header", js_on_load=None)
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
                        placeholder="例如：智能工厂有哪些支持？",
                        max_length=MAX_QUESTION_CHARS,
                        scale=5,
                        min_width=150,
                        elem_id="pq-question",
                    )
                    send = gr.Button("发送", variant="primary", scale=0, min_width=64, elem_id="pq-send")
                    clear = gr.Button("清空", scale=0, min_width=64, elem_id="pq-clear")
                gr.Markdown("示例问题：")
                with gr.Row(elem_classes="pq-examples"):
                    examples = [gr.Button(q, size="sm", min_width=0) for q in EXAMPLES]
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
                        placeholder="例如：智能工厂、贷款、人才、工信局",
                        scale=5,
                        min_width=180,
                        elem_id="pq-query",
                    )
                    search = gr.Button("搜索", variant="primary", scale=0, min_width=72, elem_id="pq-search")
                # allow_custom_value: the handlers check every value themselves, so a page whose
                # session has expired (its choices forgotten, ui/sessions.py) still works
                pickers = dict(choices=[], min_width=240, allow_custom_value=True)
                with gr.Row():
                    department = gr.Dropdown(label="按责任单位", elem_id="pq-department", **pickers)
                    section = gr.Dropdown(label="按部分浏览", elem_id="pq-section", **pickers)
                    measure = gr.Dropdown(label="按条目查看", elem_id="pq-measure", **pickers)
                transfer = gr.Textbox(label="转办（可复制）", interactive=False, buttons=["copy"], visible=False,
                                      elem_id="pq-transfer")
                detail = gr.HTML("", elem_id="pq-detail", js_on_load=None)
                results = gr.HTML(render.message_html("输入关键词，或选择责任单位、部分、条目。"), elem_id="pq-results",
                                  js_on_load=None)

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

        # each way of showing something clears the others, so the pickers shown match what is shown;
        # .input (user action only) rather than .change, so clearing does not fire them again
        search_io = dict(inputs=query, outputs=[results, department, section, measure, detail, transfer])
        search.click(h.search, **search_io)
        query.submit(h.search, **search_io)
        department.input(h.by_department, inputs=department, outputs=[results, query, section, measure, detail, transfer])
        section.input(h.by_section, inputs=section, outputs=[results, query, department, measure, detail, transfer])
        measure.input(h.detail, inputs=measure, outputs=[detail, transfer, results, query, department, section])
        demo.load(h.load_choices, outputs=[department, section, measure, documents, header])

    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo


class MountedUi(NamedTuple):
    """What ``mount_ui`` leaves on ``app.state.ui``: the Blocks and the reaper of their sessions."""

    demo: gr.Blocks
    reaper: SessionReaper


def mount_ui(fastapi_app, get_assistant: Callable[[], Assistant | None], feedback: FeedbackStore | None,
             path: str = "/", *, idle_seconds: float | None = None, max_sessions: int | None = None):
    """Mount the UI on ``fastapi_app`` at ``path`` and return the app.

    Call it LAST, after every API route is registered: a mount at "/" matches
    every path, so a route added after it is never reached. Below the mount only
    the routes the UI needs answer (ui/routes.py); a session idle for
    ``idle_seconds`` is forgotten, and at most ``max_sessions`` are held
    (default: ui.sessions.IDLE_SECONDS and MAX_SESSIONS, read at this call).
    ``app.state.ui`` holds the Blocks and the reaper.
    """
    demo = build_ui(get_assistant, feedback)
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
