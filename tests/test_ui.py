"""Fast UI tests, no browser: the HTML the UI renders, and the UI mounted on a FastAPI app."""

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.models import AskResponse, Citation, DepartmentOut, MeasureOut, MeasureRef
from tests.fake_assistant import FakeAssistant
from corpus.loading import BUNDLED_CORPUS
from ui import lookup, render
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
            _citation(measure_title=EVIL, section=f"部分{EVIL}", departments=[EVIL], quote=EVIL, doc_title=EVIL),
        ],
    )
    known = _measure(number=9, title=EVIL, section=f"部分{EVIL}", text=f"前{EVIL}后", departments=[EVIL])
    out = render.answer_html(response, lambda *_: known, show_doc=True)
    assert "<img" not in out
    # answer, document, title, section, department, full text
    assert out.count("&lt;img src=x onerror=alert(1)&gt;") == 6
    assert "<mark>&lt;img src=x onerror=alert(1)&gt;</mark>" in out
    assert "第二行" in out and "<br>" in out
    assert "\n" not in out  # one raw HTML block for the chatbot's Markdown renderer
    unknown = render.answer_html(response, lambda *_: None)  # then the document and the quote are shown
    assert "<img" not in unknown and unknown.count("&lt;img src=x onerror=alert(1)&gt;") == 6


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
    out = render.answer_html(response, lambda *_: None)  # measure unknown: the quotes, no full text
    assert out.count('class="pq-card"') == 2
    assert out.index("第9条") < out.index("第14条")
    assert out.count('<blockquote class="pq-quote">') == 3
    assert "<details" not in out


def test_cards_mark_the_quotes_in_the_full_text_instead_of_repeating_them():
    text = "加力推进。第一句，有2家。第二句。第三句。（市工业和信息化局负责）"
    response = AskResponse(
        answer="根据第9条「加力推进」（责任单位：市工业和信息化局）：\n“第一句，有2家。”\n“第三句。”",
        found=True,
        intent="search",
        citations=[_citation(quote="第一句，有2家。第三句。"), _citation(quote="不在原文中的一句。")],
    )
    asked = []

    def get_measure(*args):
        asked.append(args)
        return _measure(number=9, title="加力推进", section="三、促进实数深度融合", text=text,
                        departments=["市工业和信息化局"])

    out = render.answer_html(response, get_measure)
    assert asked == [("d", "9")]  # by the record's key (its number here: the citation names no key)
    assert out.count("第一句，有2家。") == 2  # the answer text, and marked in the full text; no third copy
    assert "<mark>第一句，有2家。</mark>第二句。<mark>第三句。</mark>" in out
    assert '<details class="pq-full"><summary>查看原文（引用句已标黄）</summary>' in out
    assert out.count('<blockquote class="pq-quote">') == 1 and "不在原文中的一句。</blockquote>" in out
    assert '<div class="pq-sources-head">依据</div>' in out


def test_a_long_list_of_cards_folds_under_one_line():
    citations = [_citation(measure_number=n, measure_title=f"措施{n}", quote=f"（第{n}条）") for n in range(1, 23)]
    response = AskResponse(answer="市工业和信息化局负责或参与的措施共22项：", found=True, intent="department",
                           citations=citations)
    out = render.answer_html(response, lambda *_: None)
    assert out.count('class="pq-card"') == 22
    assert '<details class="pq-sources"><summary>依据：这 22 条措施的责任单位和原文</summary>' in out
    three = render.answer_html(response.model_copy(update={"citations": citations[:render.OPEN_CARDS]}), lambda *_: None)
    assert '<details class="pq-sources">' not in three and three.count('class="pq-card"') == render.OPEN_CARDS


def test_a_citation_of_the_documents_facts_shows_its_quote_and_no_departments():
    cite = _citation(measure_number=None, measure_title="文件信息", section="", departments=[],
                     quote="威政办字〔2026〕10 号", doc_title="威海市行动方案")
    out = render.answer_html(AskResponse(answer="文号：威政办字〔2026〕10号。", found=True, intent="docfact",
                                         citations=[cite]), lambda *_: None)
    assert "《威海市行动方案》" in out and "威政办字〔2026〕10 号</blockquote>" in out
    assert "责任单位" not in out and "第None条" not in out


def test_unnumbered_measure_has_no_number_and_a_transfer_line():
    m = _measure(departments=["市委组织部"])
    assert render.measure_label(None, "保障措施") == "保障措施"
    assert render.transfer_line(m) == "转办：「保障措施」，责任单位：市委组织部"
    assert "第None条" not in render.measure_card(m)
    assert "&lt;script&gt;" in render.measure_card(m) and "<script>" not in render.measure_card(m)


def test_transfer_line_and_department_choices():
    fake = FakeAssistant()
    nine = fake.measure(fake.measures[0].doc_id, "9")
    assert render.transfer_line(nine) == "转办：第9条「加力推进智改数转网联」，责任单位：市工业和信息化局、市农业农村局"
    document = fake.documents()[0]
    assert render.transfer_line(nine, document) == (  # the document is named when given: the line leaves the page
        "转办：《威海市大力实施工业经济“头号工程”2026年行动方案》（威政办字〔2026〕10号）第9条「加力推进智改数转网联」，"
        "责任单位：市工业和信息化局、市农业农村局")
    departments = [
        DepartmentOut(name="市财政局", measures=[MeasureRef(doc_id="d", number=14, title="t")]),
        DepartmentOut(name=EVIL, measures=[]),
        DepartmentOut(name="市工业和信息化局", measures=[MeasureRef(doc_id="d", number=n, title="t") for n in (1, 2)]
                      + [MeasureRef(doc_id="e", number=1, title="t")]),
    ]
    choices = lookup.department_choices(lookup.Corpus([], departments))
    assert choices == [("市工业和信息化局（3）", "市工业和信息化局"), ("市财政局（1）", "市财政局")]  # none for no measure
    assert lookup.department_choices(lookup.Corpus([], departments), "e") == [("市工业和信息化局（1）", "市工业和信息化局")]


def test_measure_list_lists_everything_and_escapes_the_heading():
    fake = FakeAssistant()
    out = render.measure_list_html(f"与「{EVIL}」相关的措施：共 4 条", fake.measures)
    assert out.count('class="pq-card"') == 4
    assert "<img" not in out


def test_documents_html():
    out = render.documents_html(FakeAssistant().documents())
    for fact in ("威政办字〔2026〕10号", "2026-05-16", "威海市人民政府办公室", "4 项（编号措施 3 条，另有 1 项未编号部分）"):
        assert fact in out


# --- handlers, without a browser ----------------------------------------------------------


def test_ask_handler_passes_raw_history_not_html():
    from ui.app import _Handlers

    fake = FakeAssistant()
    h = _Handlers(lambda: fake, None)
    chat, history, last, box, _ = h.ask("智能工厂有哪些支持？", [], [])
    chat, history, last, box, _ = h.ask("牵头部门是哪个？", chat, history)
    assert fake.calls[1][1][0] == {"role": "user", "content": "智能工厂有哪些支持？"}
    assert fake.calls[1][1][1]["role"] == "assistant" and "<" not in fake.calls[1][1][1]["content"]
    assert "第9条「加力推进智改数转网联」的责任单位：市工业和信息化局、市农业农村局" in chat[-1]["content"]
    assert len(history) == 4 and box == ""
    assert last["question"] == "牵头部门是哪个？"


def test_ask_handler_shows_assistant_errors_in_the_chat():
    from ui.app import _Handlers

    class Broken(FakeAssistant):
        def ask(self, question, history=None, top_k=None):
            raise RuntimeError("索引未建立，请先运行 policyqa index")

    chat, history, last, _, _ = _Handlers(Broken, None).ask("问题", [], [])
    assert "索引未建立" in chat[-1]["content"] and last is None and history == []


def test_vote_handler_needs_an_answer_and_votes_once(tmp_path):
    from ui.app import _Handlers

    store = FeedbackStore(tmp_path / "f.sqlite")
    fake = FakeAssistant()
    h = _Handlers(lambda: fake, store)
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

    fake = FakeAssistant()
    mount_ui(app, lambda: fake, FeedbackStore(tmp_path / "f.sqlite"), corpus_folder=BUNDLED_CORPUS)
    with TestClient(app) as client:
        assert client.get("/api/ping").json() == {"ok": True}
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/openapi.json").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and '"title":"威海市工业经济政策问答"' in page.text  # the config the page embeds
        assert client.get("/config").status_code == 404  # the page embeds its config (ui/routes.py)


def test_build_ui_does_not_touch_the_assistant():
    def not_yet():
        raise AssertionError("build_ui asked for the assistant before any page loaded")

    assert build_ui(not_yet).title == "政策问答"  # no ui.json: the page takes its title from the documents
    assert build_ui(not_yet, corpus_folder=BUNDLED_CORPUS).title == "威海市工业经济政策问答"  # its ui.json


def test_the_chat_is_never_sent_back_to_the_server():
    """A few long answers would pass the app's 64 KiB limit on request bodies (BodyGuard)."""
    import gradio as gr

    demo = build_ui(lambda: None)
    chatbots = [b for b in demo.blocks.values() if isinstance(b, gr.Chatbot)]
    assert len(chatbots) == 1
    events = list(demo.fns.values())
    assert any(chatbots[0] in fn.outputs for fn in events)
    assert not any(chatbots[0] in fn.inputs for fn in events)


def test_create_app_mounts_the_ui_with_a_feedback_file_in_the_home(tmp_path):
    from assistant.api import create_app
    from assistant.settings import Settings

    home = tmp_path / "not-yet-there"
    app = create_app(Settings(home=home), assistant=FakeAssistant())
    assert (home / "feedback.sqlite3").exists()
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200 and '"title":"威海市工业经济政策问答"' in page.text  # the config the page embeds
        assert client.get("/api/departments").json()["departments"][0]["name"] == "市工业和信息化局"


def test_measure_list_names_the_document_in_each_transfer_line():
    fake = FakeAssistant()
    document = fake.documents()[0].model_copy(update={"short_title": f"另一文件{EVIL}"})
    out = render.measure_list_html("共 4 条", fake.measures, {document.doc_id: document})
    assert out.count("转办：《另一文件&lt;img src=x onerror=alert(1)&gt;》（威政办字〔2026〕10号）") == 4
    assert "<img" not in out and "pq-docgroup" not in out  # one document: no heading per document
    assert "《" not in render.measure_list_html("共 4 条", fake.measures)


# --- the assistant, as create_app hands it over ----------------------------------------------


def lookup_view(outputs) -> dict:
    """A lookup handler's outputs by name (ui.app.LOOKUP_OUTPUTS)."""
    from ui.app import LOOKUP_OUTPUTS

    assert len(outputs) == len(LOOKUP_OUTPUTS)
    return dict(zip(LOOKUP_OUTPUTS, outputs))


def test_handlers_ask_the_getter_on_every_event(tmp_path):
    import gradio as gr

    from ui.app import _Handlers

    current = {"assistant": None}  # as app.state.assistant before the lifespan has run
    h = _Handlers(lambda: current["assistant"], None)
    with pytest.raises(gr.Error, match="正在载入"):
        h.search("贷款", None, None)

    fake = current["assistant"] = FakeAssistant()
    chat, *_ = h.ask("智能工厂有哪些支持？", [], [])
    assert "<details" in chat[-1]["content"]  # the full text was fetched through measure(doc_id, "9")
    view = lookup_view(h.detail(json.dumps([fake.measures[0].doc_id, "15"])))
    assert view["transfer"]["value"].startswith("转办：《威海市大力实施工业经济“头号工程”2026年行动方案》"
                                                "（威政办字〔2026〕10号）第15条「强化人才支撑」")
    assert view["transfer"]["visible"] is True and "订单班" in view["detail"]
    assert view["results"] == ""  # the list gives way to the detail; the pickers stay where they are
    assert all(isinstance(view[k], dict) and view[k].get("__type__") == "update" and len(view[k]) == 1
               for k in ("query", "document", "department", "part", "group", "measure"))
    view = lookup_view(h.detail(json.dumps([fake.measures[0].doc_id, "保障措施"])))  # no key: by title
    assert view["transfer"]["value"].endswith("「保障措施」，责任单位：市工业和信息化局、市司法局、市应急局")
    for bad in ('["nope", "99"]', "not json", '{"a": 1}', '["d", 9]', json.dumps([fake.measures[0].doc_id, "99"])):
        view = lookup_view(h.detail(bad))  # a page older than the corpus, or a value typed into the picker
        assert "没有找到" in view["detail"] and view["transfer"]["visible"] is False


def test_department_filter_lists_unnumbered_measures_too():
    from ui.app import _Handlers

    fake = FakeAssistant()
    view = lookup_view(_Handlers(lambda: fake, None).by_department("", None, "市工业和信息化局"))
    listing = view["results"]
    assert "市工业和信息化局：共负责 4 条措施" in listing and "未能载入" not in listing
    assert listing.count('class="pq-card"') == 4 and "第15条「强化人才支撑」" in listing
    assert "行动方案》（威政办字〔2026〕10号）「保障措施」，责任单位" in listing  # every 转办 line names its document
    assert (view["detail"], view["transfer"]["visible"], view["measure"]["value"]) == ("", False, None)
    assert view["department"]["value"] == "市工业和信息化局"


def test_searching_a_departments_short_name_lists_what_it_is_responsible_for():
    from ui.app import _Handlers

    fake = FakeAssistant()
    h = _Handlers(lambda: fake, None)
    view = lookup_view(h.search("工信局", None, None))  # no measure's text says 工信局; the parentheses say 工业和信息化局
    assert "市工业和信息化局：共负责 4 条措施" in view["results"]
    assert (view["department"]["value"], view["query"]) == ("市工业和信息化局", "")  # the picker shows what is listed
    listing, *_ = h.search("人才", None, None)
    assert "与「人才」相关的措施：共 1 条" in listing and "第15条" in listing


def test_a_quote_of_non_adjacent_sentences_is_shown_and_marked_sentence_by_sentence():
    text = "标题。第一句，有2家。第二句。第三句，达到98%。尾句。"
    quote = "第一句，有2家。第三句，达到98%。"  # what the service's answer composer produces
    assert render.quote_parts(text, quote) == ["第一句，有2家。", "第三句，达到98%。"]
    assert render.highlight(text, [quote]) == "标题。<mark>第一句，有2家。</mark>第二句。<mark>第三句，达到98%。</mark>尾句。"
    card = render.citation_card(_citation(quote=quote), [quote], _measure(number=9, text=text), show_doc=False)
    assert "<blockquote" not in card and card.count("<mark>") == 2
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
