"""Fast UI tests, no browser: the HTML the UI renders, and the UI mounted on a FastAPI app."""

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.models import AskResponse, Citation, DepartmentOut, MeasureOut, MeasureRef
from tests.fake_assistant import FakeAssistant
from ui import render
from ui.app import build_ui, mount_ui
from ui.feedback import FeedbackStore

EVIL = "<img src=x onerror=alert(1)>"


def _measure(**changes) -> MeasureOut:
    fields = dict(
        doc_id="d",
        number=None,
        title="保障措施",
        section="七、保障措施",
        text="加强组织领导。<script>alert(1)</script>强化考核。",
        departments=[],
        responsibility=None,
        departments_text=None,
        targets=[],
        sentences=[],
    )
    return MeasureOut(**{**fields, **changes})


def _citation(**changes) -> Citation:
    fields = dict(
        doc_id="d",
        doc_title="文件",
        measure_number=9,
        measure_title="加力推进智改数转网联",
        section="三、促进实数深度融合",
        departments=["市工业和信息化局"],
        quote="第一句。",
        score=1.0,
    )
    return Citation(**{**fields, **changes})


# --- escaping and highlighting ---------------------------------------------------------


def test_highlight_escapes_text_and_quote_separately():
    text = "前文<b>粗</b>。引用句含<i>标签</i>。后文&。"
    out = render.highlight(text, ["引用句含<i>标签</i>。"])
    assert out == "前文&lt;b&gt;粗&lt;/b&gt;。<mark>引用句含&lt;i&gt;标签&lt;/i&gt;。</mark>后文&amp;。"


def test_highlight_merges_overlapping_quotes_and_marks_every_occurrence():
    assert render.highlight("甲乙丙丁。甲乙。", ["甲乙", "乙丙"]) == "<mark>甲乙丙</mark>丁。<mark>甲乙</mark>。"


def test_highlight_finds_a_quote_without_its_final_punctuation_or_spaces():
    assert render.highlight("前文。力争培育2家智能工厂；后文。", [" 力争培育2家智能工厂。 "]) == (
        "前文。<mark>力争培育2家智能工厂</mark>；后文。"
    )


def test_highlight_leaves_text_alone_when_the_quote_is_missing():
    assert render.highlight("一<二>", ["不在文中"]) == "一&lt;二&gt;"


def test_answer_html_escapes_answer_quote_and_measure_fields():
    response = AskResponse(
        answer=f"回答 {EVIL}\n第二行",
        found=True,
        intent="search",
        citations=[
            _citation(measure_title=EVIL, section=EVIL, departments=[EVIL], quote=EVIL, doc_title=EVIL),
        ],
    )
    out = render.answer_html(response, lambda *_: _measure(number=9, text=f"前{EVIL}后", departments=[EVIL]))
    assert "<img" not in out
    assert out.count("&lt;img src=x onerror=alert(1)&gt;") >= 5
    assert "<mark>&lt;img src=x onerror=alert(1)&gt;</mark>" in out
    assert "第二行" in out and "<br>" in out
    assert "\n" not in out  # one raw HTML block for the chatbot's Markdown renderer


def test_answer_html_one_card_per_measure_with_all_its_quotes():
    response = AskResponse(
        answer="答",
        found=True,
        intent="search",
        citations=[
            _citation(quote="第一句。"),
            _citation(measure_number=14, measure_title="强化金融助力", quote="贷款句。"),
            _citation(quote="第二句。"),
        ],
    )
    out = render.answer_html(response, lambda *_: None)  # measure unknown: card without full text
    assert out.count('class="pq-card"') == 2
    assert out.index("第9条") < out.index("第14条")
    assert out.count('<blockquote class="pq-quote">') == 3
    assert "<details" not in out


def test_unnumbered_measure_has_no_number_and_a_transfer_line():
    m = _measure(departments=["市委组织部"])
    assert render.measure_label(None, "保障措施") == "保障措施"
    assert render.transfer_line(m) == "转办：「保障措施」，责任单位：市委组织部"
    assert "第None条" not in render.measure_card(m)
    assert "&lt;script&gt;" in render.measure_card(m) and "<script>" not in render.measure_card(m)


def test_transfer_line_and_department_choices():
    fake = FakeAssistant()
    nine = fake.measure(fake.measures[0].doc_id, 9)
    assert render.transfer_line(nine) == "转办：第9条「加力推进智改数转网联」，责任单位：市工业和信息化局、市农业农村局"
    choices = render.department_choices(
        [
            DepartmentOut(name="市财政局", measures=[MeasureRef(doc_id="d", number=14, title="t")]),
            DepartmentOut(name=EVIL, measures=[]),
            DepartmentOut(name="市工业和信息化局", measures=[MeasureRef(doc_id="d", number=n, title="t") for n in (1, 2)]),
        ]
    )
    assert choices[0] == ("市工业和信息化局（2）", "市工业和信息化局")
    assert choices[1] == ("市财政局（1）", "市财政局")


def test_measure_list_lists_everything_and_escapes_the_heading():
    fake = FakeAssistant()
    out = render.measure_list_html(f"与「{EVIL}」相关的措施：共 3 条", fake.measures)
    assert out.count('class="pq-card"') == 3
    assert "<img" not in out


def test_documents_html():
    out = render.documents_html(FakeAssistant().documents())
    for fact in ("威政办字〔2026〕10号", "2026-05-16", "威海市人民政府办公室", "3 项"):
        assert fact in out


# --- handlers, without a browser ----------------------------------------------------------


def test_ask_handler_passes_raw_history_not_html():
    from ui.app import _Handlers

    fake = FakeAssistant()
    h = _Handlers(fake, None)
    chat, history, last, box, _ = h.ask("智能工厂有哪些支持？", [], [])
    chat, history, last, box, _ = h.ask("牵头部门是哪个？", chat, history)
    assert fake.calls[1][1][0] == {"role": "user", "content": "智能工厂有哪些支持？"}
    assert fake.calls[1][1][1]["role"] == "assistant" and "<" not in fake.calls[1][1][1]["content"]
    assert "接上一问" in chat[-1]["content"]
    assert len(history) == 4 and box == ""
    assert last["question"] == "牵头部门是哪个？"


def test_ask_handler_shows_assistant_errors_in_the_chat():
    from ui.app import _Handlers

    class Broken(FakeAssistant):
        def ask(self, question, history=None):
            raise RuntimeError("索引未建立，请先运行 policyqa index")

    chat, history, last, _, _ = _Handlers(Broken(), None).ask("问题", [], [])
    assert "索引未建立" in chat[-1]["content"] and last is None and history == []


def test_vote_handler_needs_an_answer_and_votes_once(tmp_path):
    from ui.app import _Handlers

    store = FeedbackStore(tmp_path / "f.sqlite")
    h = _Handlers(FakeAssistant(), store)
    assert "请先提问" in h.vote("up", None, "")[0]
    _, _, last, _, _ = h.ask("贷款难怎么办？", [], [])
    status, comment, last = h.vote("down", last, "  不够具体 ")
    assert "已记录" in status and comment == ""
    assert "已收到" in h.vote("up", last, "")[0]
    (row,) = store.rows()
    assert (row["vote"], row["comment"], row["citations"][0]["measure_number"]) == ("down", "不够具体", 14)


# --- mounting ---------------------------------------------------------------------------------


def test_api_routes_keep_working_after_the_ui_is_mounted(tmp_path):
    app = FastAPI()

    @app.get("/api/ping")
    def ping():
        return {"ok": True}

    @app.get("/health")
    def health():
        return {"status": "ok"}

    mount_ui(app, FakeAssistant(), FeedbackStore(tmp_path / "f.sqlite"))
    with TestClient(app) as client:
        assert client.get("/api/ping").json() == {"ok": True}
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/openapi.json").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "威海市工业经济政策问答" in page.text
        assert client.get("/config").json()["title"] == "威海市工业经济政策问答"


def test_build_ui_does_not_touch_the_assistant():
    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"build_ui called assistant.{name} before any page loaded")

    demo = build_ui(Untouchable())
    assert demo.title == "威海市工业经济政策问答"


def test_measure_list_names_the_document_when_given_titles():
    fake = FakeAssistant()
    out = render.measure_list_html("共 3 条", fake.measures, {fake.measures[0].doc_id: f"另一文件{EVIL}"})
    assert out.count("《另一文件&lt;img src=x onerror=alert(1)&gt;》") == 3
    assert "《" not in render.measure_list_html("共 3 条", fake.measures)


# --- the shapes the service and the API pass in ---------------------------------------------


class KeyedAssistant(FakeAssistant):
    """measure(doc_id, key) as assistant.service.PolicyAssistant has it: key is the number or a
    title, and an unknown measure raises assistant.errors.NotFound."""

    def measure(self, doc_id, key):
        from assistant.errors import NotFound

        for m in self.measures:
            if m.doc_id == doc_id and (str(m.number) == str(key) or m.title == key):
                return m
        raise NotFound(f"no measure {key!r} in {doc_id}")


def test_handlers_accept_a_holder_filled_later_and_the_services_measure_signature(tmp_path):
    import gradio as gr

    from ui.app import _Handlers

    holder = {"assistant": None}
    h = _Handlers(holder, None)
    with pytest.raises(gr.Error, match="正在载入"):
        h.search("贷款")

    holder["assistant"] = KeyedAssistant()
    chat, *_ = h.ask("智能工厂有哪些支持？", [], [])
    assert "<details" in chat[-1]["content"]  # the full text was fetched through measure(doc_id, "9")
    doc_id = holder["assistant"].measures[0].doc_id
    detail, transfer = h.detail(json.dumps([doc_id, 15, "四、优化协同推进机制，提升产业综合竞争力", "强化人才支撑"]))
    assert transfer.startswith("转办：第15条「强化人才支撑」")
    assert "没有找到" in h.detail('["nope", 99, "", "x"]')[0]


def test_feedback_store_can_be_given_as_settings(tmp_path):
    from types import SimpleNamespace

    from ui.app import _feedback_store

    store = _feedback_store(SimpleNamespace(feedback_db=tmp_path / "home" / "feedback.sqlite3"))
    assert isinstance(store, FeedbackStore) and (tmp_path / "home" / "feedback.sqlite3").exists()
    assert _feedback_store(None) is None
    with pytest.raises(TypeError, match="FeedbackStore"):
        _feedback_store("feedback.sqlite")


def test_a_quote_of_non_adjacent_sentences_is_shown_and_marked_sentence_by_sentence():
    text = "标题。第一句，有2家。第二句。第三句，达到98%。尾句。"
    quote = "第一句，有2家。第三句，达到98%。"  # what the service's answer composer produces
    assert render.quote_parts(text, quote) == ["第一句，有2家。", "第三句，达到98%。"]
    assert render.highlight(text, [quote]) == "标题。<mark>第一句，有2家。</mark>第二句。<mark>第三句，达到98%。</mark>尾句。"
    card = render.citation_card(_citation(quote=quote), [quote], _measure(number=9, text=text), show_doc=False)
    assert card.count('<blockquote class="pq-quote">') == 2
    assert render.quote_parts(text, "不在文中。也不在。") == ["不在文中。也不在。"]


def test_target_text_does_not_repeat_a_figure_the_phrase_holds():
    from assistant.models import TargetOut

    def target(phrase, text):
        return TargetOut(value=190, value_text="190", unit="亿元", phrase=phrase, qualifier=None, text=text)

    assert render.target_text(target("新增产值", "190 亿元")) == "新增产值 190 亿元"
    assert render.target_text(target("新增产值 190 亿元", "190 亿元")) == "新增产值 190 亿元"
    assert render.target_text(target("", "190 亿元")) == "190 亿元"


def test_targets_of_one_phrase_show_once():
    from assistant.models import TargetOut

    phrase = "实施总投资 500 万元以上技改项目 400 个"
    targets = [
        TargetOut(value=v, value_text=str(v), unit=u, phrase=phrase, qualifier=None, text=t)
        for v, u, t in [(500, "万元", "500 万元以上"), (400, "个", "400 个")]
    ]
    assert render.measure_card(_measure(number=2, targets=targets)).count(phrase) == 1
