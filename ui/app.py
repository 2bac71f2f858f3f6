"""The Gradio front end: 政策问答 (chat), 政策查询 (lookup for hotline staff), 文件信息.

``build_ui(assistant)`` makes the Blocks; ``mount_ui(app, assistant, store)``
mounts them at "/" on the FastAPI app, after the API routes. The assistant is
duck-typed: ask / lookup / documents / measure / departments (see
assistant.models for the shapes); it may also be given as a zero-argument
callable or a mapping {"assistant": ...} filled in later (in the app's
lifespan), since nothing is asked of it until a page loads. The HTML comes from
ui.render, which escapes every string taken from a question or a document.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable, Mapping

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: it phones home otherwise

import gradio as gr  # noqa: E402

from assistant.errors import NotFound  # noqa: E402
from assistant.models import MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, MeasureOut  # noqa: E402
from ui import render  # noqa: E402
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore  # noqa: E402

logger = logging.getLogger(__name__)

APP_TITLE = "威海市工业经济政策问答"
EXAMPLES = ["智能工厂有哪些支持？", "贷款难怎么办？", "招不到熟练技术工人怎么办？", "工信局负责哪些措施？"]
MAX_TURN_CHARS = 4000  # assistant.models.Turn.content
QUEUE_MAX_SIZE = 64
CONCURRENCY_LIMIT = 4

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
.pq-field { display: flex; flex-wrap: wrap; gap: 2px 8px; margin: 3px 0; font-size: 0.95em; }
.pq-key { color: var(--body-text-color-subdued); white-space: nowrap; min-width: 4.5em; }
.pq-val { flex: 1 1 12em; min-width: 0; }
.pq-dept { display: inline-block; background: var(--color-accent-soft); border-radius: 4px;
           padding: 0 6px; margin: 0 4px 2px 0; }
.pq-targets { margin: 0; padding-left: 1.2em; }
.pq-quote { margin: 6px 0; padding: 4px 10px; border-left: 3px solid #f2c94c;
            background: var(--background-fill-secondary); font-size: 0.95em; }
.pq-full summary { cursor: pointer; color: var(--link-text-color, var(--color-accent)); margin-top: 4px; }
.pq-text { margin-top: 4px; font-size: 0.95em; line-height: 1.7; }
.pq-card mark { background: #ffe58f; color: #1f2937; padding: 0 1px; }
.pq-transfer { margin-top: 6px; padding: 4px 8px; background: var(--background-fill-secondary);
               border-radius: 4px; font-size: 0.95em; user-select: all; }
.pq-list-head { font-weight: 600; margin: 4px 0; }
.pq-muted { color: var(--body-text-color-subdued); }
.pq-examples button { flex: 0 1 auto !important; min-width: 0 !important; }
#pq-chat .message, #pq-chat .message-content { max-width: 100%; overflow-wrap: anywhere; }
@media (max-width: 600px) {
  .gradio-container { padding: 0 6px !important; }
  .pq-header h1 { font-size: 1.2rem; }
  .pq-header .pq-tagline { display: none; }
}
"""


def _assistant_provider(assistant) -> Callable[[], object]:
    """A function returning the assistant, given it, a callable, or a mapping {"assistant": ...}."""
    if isinstance(assistant, Mapping):
        return lambda: _loaded(assistant.get("assistant"))
    if callable(assistant) and not hasattr(assistant, "ask"):
        return lambda: _loaded(assistant())
    return lambda: assistant


def _loaded(assistant):
    if assistant is None:
        raise gr.Error("系统正在载入政策文件和索引，请稍后刷新页面。")
    return assistant


def _takes_section(measure_method) -> bool:
    """measure(doc_id, number, section) as the UI brief has it, or measure(doc_id, key) where key
    is the number or, for an unnumbered section, its title (assistant.service.PolicyAssistant)."""
    try:
        parameters = inspect.signature(measure_method).parameters
    except (TypeError, ValueError):
        return True
    return "section" in parameters or len(parameters) >= 3


def _feedback_store(value) -> FeedbackStore | None:
    """A FeedbackStore, None (feedback hidden), or settings with a ``feedback_db`` path."""
    if value is None or isinstance(value, FeedbackStore):
        return value
    path = getattr(value, "feedback_db", None)
    if path is None:
        raise TypeError(
            f"feedback_store must be a FeedbackStore, None or settings with .feedback_db, not {type(value).__name__}"
        )
    return FeedbackStore(path)


class _Handlers:
    """The event handlers, bound to one assistant and one (optional) feedback store."""

    def __init__(self, assistant, feedback_store: FeedbackStore | None):
        self._assistant = _assistant_provider(assistant)
        self.store = feedback_store

    @property
    def assistant(self):
        return self._assistant()

    # --- 政策问答 ------------------------------------------------------------------

    def _doc_titles(self) -> dict[str, str] | None:
        """doc_id → title when the corpus holds several documents (then list cards name theirs)."""
        documents = self.assistant.documents()
        return {d.doc_id: d.title for d in documents} if len(documents) > 1 else None

    def _get_measure(
        self, doc_id: str, number: int | None, section: str | None, title: str | None = None
    ) -> MeasureOut | None:
        """The measure, or None when the assistant does not know it. Unnumbered measures are
        found by section (brief's interface) or by title (the service's measure(doc_id, key))."""
        assistant = self.assistant
        try:
            if _takes_section(assistant.measure):
                return assistant.measure(doc_id, number, section if number is None else None)
            return assistant.measure(doc_id, number if number is not None else (title or section))
        except (KeyError, NotFound):
            return None

    def ask(self, question: str, chat: list, history: list[dict]):
        """Returns chat, history, last answer (for feedback), textbox value, feedback status."""
        question = (question or "").strip()
        if not question:
            return chat, history, gr.skip(), "", gr.skip()
        chat = list(chat or [])
        chat.append({"role": "user", "content": render.question_html(question)})
        if len(question) > MAX_QUESTION_CHARS:
            chat.append(
                {"role": "assistant", "content": render.error_html(f"问题太长了（{len(question)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内。")}
            )
            return chat, history, None, "", ""
        past = [dict(turn) for turn in (history or [])][-MAX_HISTORY_TURNS:]
        try:
            response = self.assistant.ask(question, history=past)
        except Exception as exc:  # shown to the user in the chat, logged with its traceback
            logger.exception("assistant.ask failed for %r", question)
            chat.append({"role": "assistant", "content": render.error_html(f"抱歉，回答时出错：{exc}。请稍后再试。")})
            return chat, history, None, "", ""
        chat.append({"role": "assistant", "content": render.answer_html(response, self._get_measure)})
        history = past + [
            {"role": "user", "content": question[:MAX_TURN_CHARS]},
            {"role": "assistant", "content": response.answer[:MAX_TURN_CHARS]},
        ]
        last = {
            "question": question,
            "answer": response.answer,
            "citations": [c.model_dump() for c in response.citations],
            "voted": None,
        }
        return chat, history, last, "", ""

    @staticmethod
    def clear():
        return [], [], None, "", "", ""

    def vote(self, vote: str, last: dict | None, comment: str):
        """Returns the feedback status, the comment box value and the last-answer state."""
        if self.store is None:
            return "反馈功能未启用。", comment, last
        if not last:
            return "请先提问，再对回答进行评价。", comment, last
        if last.get("voted"):
            return "已收到您对这条回答的评价，谢谢！", comment, last
        self.store.add(last["question"], last["answer"], last["citations"], vote, comment=comment or None)
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
                (prefix + render.measure_label(m.number, m.title), json.dumps([doc.doc_id, m.number, m.section, m.title]))
                for m in doc.measures
            ]
        return (
            gr.update(choices=departments, value=None),
            gr.update(choices=sections, value=None),
            gr.update(choices=measures, value=None),
            render.documents_html(documents),
            _header_html(documents),
        )

    def search(self, query: str):
        query = (query or "").strip()
        if not query:
            return render.message_html("请输入关键词，例如：智能工厂、贷款、人才、工信局。"), gr.skip(), gr.skip()
        found = self.assistant.lookup(query)
        heading = f"与「{query}」相关的措施：共 {len(found)} 条"
        return render.measure_list_html(heading, found, self._doc_titles()), None, None

    def by_department(self, name: str | None):
        """Returns the list, and clears the search box and the section filter."""
        if not name:
            return gr.skip(), gr.skip(), gr.skip()
        department = next((d for d in self.assistant.departments() if d.name == name), None)
        if department is None:
            return render.message_html(f"没有找到单位「{name}」，文件可能已更新，请刷新页面。"), "", None
        measures = []
        for ref in department.measures:
            m = self._get_measure(ref.doc_id, ref.number, None if ref.number is not None else ref.title, ref.title)
            if m is not None:
                measures.append(m)
            else:
                logger.warning("department %s lists an unknown measure %s", name, ref)
        heading = f"{name}：共负责 {len(department.measures)} 条措施"
        if len(measures) < len(department.measures):
            heading += f"（其中 {len(department.measures) - len(measures)} 条未能载入）"
        return render.measure_list_html(heading, measures, self._doc_titles()), "", None

    def by_section(self, key: str | None):
        """Returns the list, and clears the search box and the department filter."""
        if not key:
            return gr.skip(), gr.skip(), gr.skip()
        doc_id, section = json.loads(key)
        doc = next((d for d in self.assistant.documents() if d.doc_id == doc_id), None)
        measures = [m for m in doc.measures if m.section == section] if doc else []
        return render.measure_list_html(f"{section or '（未分部分）'}：共 {len(measures)} 条", measures), "", None

    def detail(self, key: str | None):
        if not key:
            return gr.skip(), gr.skip()
        doc_id, number, section, title = json.loads(key)
        measure = self._get_measure(doc_id, number, section, title)
        if measure is None:
            return render.message_html("没有找到这条措施，文件可能已更新，请刷新页面。"), ""
        doc_title = next((d.title for d in self.assistant.documents() if d.doc_id == doc_id), None)
        return render.measure_detail_html(measure, doc_title), render.transfer_line(measure)


def _header_html(documents) -> str:
    corpus = render.corpus_summary_html(documents) if documents is not None else render.message_html("正在载入政策文件……")
    return (
        f'<div class="pq-header"><h1>{APP_TITLE}</h1>'
        '<p class="pq-tagline">依据政策文件原文作答，每条回答都注明措施条目、责任单位和原文依据。</p>'
        f"{corpus}</div>"
    )


def build_ui(assistant, feedback_store: FeedbackStore | None = None) -> gr.Blocks:
    """The three tabs, wired to ``assistant``. Nothing is asked of the assistant until a page loads.

    ``feedback_store``: a FeedbackStore, settings with a ``feedback_db`` path, or None (no 👍/👎)."""
    feedback_store = _feedback_store(feedback_store)
    h = _Handlers(assistant, feedback_store)
    with gr.Blocks(title=APP_TITLE, analytics_enabled=False) as demo:
        header = gr.HTML(_header_html(None), elem_id="pq-header", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("政策问答", id="chat"):
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
                with gr.Column(visible=feedback_store is not None):
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
                with gr.Row(equal_height=False, elem_classes="pq-inputrow"):
                    query = gr.Textbox(
                        label="关键词搜索（列出全部相关措施）",
                        placeholder="例如：智能工厂、贷款、人才、工信局",
                        scale=5,
                        min_width=180,
                        elem_id="pq-query",
                    )
                    search = gr.Button("搜索", variant="primary", scale=0, min_width=72, elem_id="pq-search")
                with gr.Row():
                    department = gr.Dropdown(label="按责任单位", choices=[], min_width=240, elem_id="pq-department")
                    section = gr.Dropdown(label="按部分浏览", choices=[], min_width=240, elem_id="pq-section")
                results = gr.HTML(render.message_html("输入关键词，或选择责任单位、部分。"), elem_id="pq-results", js_on_load=None)
                gr.Markdown("### 措施详情")
                measure = gr.Dropdown(label="按条目编号查看", choices=[], elem_id="pq-measure")
                transfer = gr.Textbox(label="转办（可复制）", interactive=False, buttons=["copy"], elem_id="pq-transfer")
                detail = gr.HTML("", elem_id="pq-detail", js_on_load=None)

            with gr.Tab("文件信息", id="documents"):
                documents = gr.HTML(render.message_html("正在载入……"), elem_id="pq-documents", js_on_load=None)

        ask_io = dict(inputs=[question, chat, history], outputs=[chat, history, last, question, status])
        send.click(h.ask, **ask_io)
        question.submit(h.ask, **ask_io)
        for button in examples:
            button.click(lambda q: q, inputs=button, outputs=question, queue=False).then(h.ask, **ask_io)
        clear.click(h.clear, outputs=[chat, history, last, question, comment, status], queue=False)
        # the chatbot's own trash icon empties the display only: forget the conversation too
        chat.clear(h.clear, outputs=[chat, history, last, question, comment, status], queue=False)
        up.click(lambda last_, c: h.vote("up", last_, c), inputs=[last, comment], outputs=[status, comment, last])
        down.click(lambda last_, c: h.vote("down", last_, c), inputs=[last, comment], outputs=[status, comment, last])

        # each way of listing clears the other two, so the filters shown match the list shown;
        # .input (user action only) rather than .change, so clearing does not fire them again
        search.click(h.search, inputs=query, outputs=[results, department, section])
        query.submit(h.search, inputs=query, outputs=[results, department, section])
        department.input(h.by_department, inputs=department, outputs=[results, query, section])
        section.input(h.by_section, inputs=section, outputs=[results, query, department])
        measure.input(h.detail, inputs=measure, outputs=[detail, transfer])
        demo.load(h.load_choices, outputs=[department, section, measure, documents, header])

    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo


def mount_ui(fastapi_app, assistant, feedback_store, path: str = "/"):
    """Mount the UI on ``fastapi_app`` at ``path`` and return the app.

    Call it LAST, after every API route is registered: a mount at "/" matches
    every path, so a route added after it is never reached.
    """
    demo = build_ui(assistant, feedback_store)
    return gr.mount_gradio_app(
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
    )
