"""The UI over several documents, without a browser: a hand-made corpus of three small documents
(two cities and a national one, one of them expired) behind the assistant's interface, the
page's words from ui.json or from the documents (ui/config.py), the lookup's pickers
(ui/lookup.py) and what ui/render.py makes of them. The real engine over corpus/samples, in
Chromium, is tests/test_ui_documents_browser.py."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.errors import NotFound
from assistant.models import AskResponse, Citation, DepartmentOut, DocumentOut, MeasureOut, MeasureRef
from tests.fake_assistant import FakeAssistant
from ui import lookup, render
from ui.app import LOOKUP_OUTPUTS, _Handlers, build_ui, mount_ui
from ui.config import UI_CONFIG, ConfigFile, UiConfig, derive, texts_for

EVIL = "<img src=x onerror=alert(1)>"
TODAY = date(2026, 12, 1)


def _m(doc_id, key, number, title, text, departments=(), path=(), label=None, kind="measure", section=None) -> MeasureOut:
    section = section if section is not None else (path[0].split("、", 1)[-1] if path else "")
    return MeasureOut(doc_id=doc_id, number=number, title=title, section=section, text=text,
                      departments=list(departments), responsibility=None, departments_text=None, targets=[],
                      sentences=[], key=key, label=label, path=list(path), kind=kind)


A, B, N = "city-a-2026", "city-b-2025", "national-2019"
MEASURES = {
    A: [
        _m(A, "1", 1, "强化算力支撑", "强化算力支撑。建设算力平台，发放算力券。", ["市数据局", "市财政局"],
           ["一、夯实基础", "（一）算力"], "1."),
        _m(A, "2", 2, "加大金融支持", "加大金融支持。推出算力贷，单笔贷款最高1000万元。", ["市财政局"],
           ["一、夯实基础", "（二）金融"], "2."),
        _m(A, "3", 3, "引育人才", "引育人才。给予人才住房补贴。", ["市人社局"], ["二、优化服务"], "3."),
        _m(A, "r4", None, "保障措施", "加强组织领导。", ["市数据局"], (), "三、", kind="text", section="保障措施"),
    ],
    B: [  # numbering restarts in each part: keys 1.1, 2.1
        _m(B, "1.1", 1, "支持企业贷款", "支持企业贷款。扩大首贷、续贷覆盖面。", ["市财政局", "人民银行B市分行"],
           ["一、金融"], "（一）"),
        _m(B, "2.1", 1, "建设孵化空间", "建设孵化空间。对新建空间给予奖励。", ["市科技局"], ["二、载体"], "（一）"),
    ],
    N: [  # legal articles: no titles
        _m(N, "1", 1, "", "为了促进综合保税区发展，制定本办法。", [], ["第一章 总则"], "第一条"),
        _m(N, "2", 2, "", "海关总署会同财政部对综合保税区实施监管，并支持企业贷款。", ["海关总署", "财政部"], ["第二章 监管"],
           "第二条"),
    ],
}
DOCUMENTS = [
    DocumentOut(doc_id=A, title="A市支持人工智能发展若干措施", short_title="A市人工智能若干措施", doc_number="A政规〔2026〕4号",
                issued_on="2026-02-13", issuer="A市人民政府", source="a.txt", measures=MEASURES[A],
                effective_on="2026-03-18", expires_on="2028-12-31", place="A市", level="city"),
    DocumentOut(doc_id=B, title="B市促进创业若干政策", short_title="B市创业若干政策", doc_number=None, issued_on="2025-01-10",
                issuer="B市人民政府办公室", source="b.txt", measures=MEASURES[B], effective_on="2025-01-10",
                expires_on="2026-01-09", place="B市", level="city"),
    DocumentOut(doc_id=N, title="综合保税区管理办法", short_title=None, doc_number="国发〔2019〕3号", issued_on="2019-01-12",
                issuer="国务院", source="n.txt", measures=MEASURES[N], place="全国", level="national"),
]


class ThreeDocuments:
    """The assistant's interface over DOCUMENTS: lookup is a substring match, ask cites A's 第2条 and
    B's 1.1 for anything about 贷款, and refuses the rest."""

    clock = staticmethod(lambda: TODAY)

    def __init__(self):
        self.lookups: list[tuple[str, list[str] | None]] = []

    def documents(self):
        return list(DOCUMENTS)

    def departments(self):
        names: dict[str, list[MeasureRef]] = {}
        for d in DOCUMENTS:
            for m in d.measures:
                for name in m.departments:
                    names.setdefault(name, []).append(
                        MeasureRef(doc_id=d.doc_id, number=m.number, title=m.title, key=m.key, label=m.label))
        ordered = sorted(names.items(), key=lambda item: (-len(item[1]), item[0]))
        return [DepartmentOut(name=n, measures=refs) for n, refs in ordered]

    def measure(self, doc_id, key):
        for m in MEASURES.get(doc_id, []):
            if m.key == str(key):
                return m
        raise NotFound(f"no measure {key!r} in {doc_id}")

    def lookup(self, query, doc_ids=None):
        self.lookups.append((query, doc_ids))
        return [m for d in DOCUMENTS if doc_ids is None or d.doc_id in doc_ids for m in d.measures
                if query in m.title + m.text]

    def ask(self, question, history=None, top_k=None):
        if "贷款" not in question:
            return AskResponse(answer="抱歉，没有找到。", found=False, intent="refusal", citations=[])
        citations = []
        for d, key, quote in ((DOCUMENTS[0], "2", "推出算力贷，单笔贷款最高1000万元。"), (DOCUMENTS[1], "1.1", "扩大首贷、续贷覆盖面。")):
            m = self.measure(d.doc_id, key)
            citations.append(Citation(doc_id=d.doc_id, doc_title=d.title, measure_number=m.number, measure_title=m.title,
                                      section=m.section, departments=m.departments, quote=quote, score=1.0,
                                      measure_key=m.key, measure_label=m.label, doc_number=d.doc_number,
                                      doc_short_title=d.short_title, doc_issued_on=d.issued_on,
                                      doc_expires_on=d.expires_on))
        return AskResponse(answer="两份文件有相关措施。", found=True, intent="search", citations=citations)


def view(outputs) -> dict:
    assert len(outputs) == len(LOOKUP_OUTPUTS)
    return dict(zip(LOOKUP_OUTPUTS, outputs))


@pytest.fixture
def handlers():
    return _Handlers(ThreeDocuments, None)


@pytest.fixture
def corpus():
    engine = ThreeDocuments()
    return lookup.Corpus(engine.documents(), engine.departments())


# --- the page's words --------------------------------------------------------------------------


def test_several_documents_give_the_title_places_and_examples():
    texts = derive(DOCUMENTS, ThreeDocuments().departments())
    assert texts.title == "政策问答：3 份政策文件"
    assert texts.subtitle == "适用地区：A市、B市、全国"
    # measure titles with departments, the newest document first, then the department with most measures
    assert texts.examples == ("强化算力支撑有哪些支持？", "支持企业贷款有哪些支持？", "引育人才有哪些支持？", "市财政局负责哪些措施？")
    assert texts.keywords == ("强化算力支撑", "支持企业贷款", "财政局")  # 财政局: the department's short name
    assert texts.question_placeholder == "例如：强化算力支撑有哪些支持？"


def test_one_document_gives_its_title_and_facts():
    fake = FakeAssistant()
    texts = derive(fake.documents(), fake.departments())
    assert texts.title == "威海市大力实施工业经济“头号工程”2026年行动方案"
    assert texts.subtitle == "威海市人民政府办公室 · 威政办字〔2026〕10号 · 2026-05-16 印发"
    assert texts.examples[-1] == "市工业和信息化局负责哪些措施？"
    assert derive([], []).examples == () and derive([], []).title == "政策问答"


def test_ui_json_overrides_what_it_sets(tmp_path):
    (tmp_path / UI_CONFIG).write_text(json.dumps({"title": "  三地政策问答 ", "examples": ["算力券怎么申请？"]}),
                                      encoding="utf-8")
    config = ConfigFile(tmp_path).read()
    texts = texts_for(DOCUMENTS, ThreeDocuments().departments(), config)
    assert (texts.title, texts.examples) == ("三地政策问答", ("算力券怎么申请？",))
    assert texts.subtitle == "适用地区：A市、B市、全国"  # not set: derived
    assert ConfigFile(None).read() is None and ConfigFile(tmp_path / "nowhere").read() is None


def test_the_bundled_corpus_keeps_its_title_and_examples_in_its_ui_json():
    from corpus.loading import BUNDLED_CORPUS

    config = ConfigFile(BUNDLED_CORPUS).read()
    assert config.title == "威海市工业经济政策问答"
    assert config.examples[:2] == ["智能工厂有哪些支持？", "贷款难怎么办？"]


@pytest.mark.parametrize("content,problem", [
    (b"{not json", "is not valid JSON (line 1, column 2"),
    ("{}".encode("utf-16"), "is not UTF-8"),
    (b'["a list"]', "must be a JSON object"),
    (b'{"titel": "x"}', "unknown key 'titel' (known: title, subtitle, examples, keywords)"),
    (b'{"title": 5}', "title: Input should be a valid string"),
    (b'{"title": ""}', "title: String should have at least 1 character"),
    (b'{"examples": "one"}', "examples: Input should be a valid list"),
    ('{"examples": ["好", "  "]}'.encode(), "examples: entry 1 must be 1 to 500 characters, not 0"),
    (json.dumps({"examples": ["问"] * 21}).encode(), "examples: List should have at most 20 items"),
])
def test_a_bad_ui_json_is_one_warning_and_the_derived_words_are_used(tmp_path, caplog, content, problem):
    path = tmp_path / UI_CONFIG
    path.write_bytes(content)
    file = ConfigFile(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ui.config"):
        assert file.read() is None and file.read() is None
    assert problem in file.problem
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and str(path) in warnings[0] and "Traceback" not in caplog.text
    path.write_text('{"title": "好了"}', encoding="utf-8")  # fixed: read again
    assert file.read().title == "好了" and file.problem is None


def test_the_page_is_served_with_its_ui_json_and_fills_in_from_the_documents(tmp_path):
    (tmp_path / UI_CONFIG).write_text(json.dumps({"title": EVIL, "subtitle": f"副{EVIL}"}), encoding="utf-8")
    app = FastAPI()
    mount_ui(app, ThreeDocuments, None, corpus_folder=tmp_path)
    with TestClient(app) as client:
        page = client.get("/").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page  # the title, escaped
    h = _Handlers(ThreeDocuments, None, tmp_path)
    out = h.load_choices()
    header = out[6]
    assert "<img" not in header and header.count("&lt;img src=x onerror=alert(1)&gt;") == 2
    examples = [o["value"] for o in out[8:14] if o.get("visible")]
    assert examples == list(derive(DOCUMENTS, ThreeDocuments().departments()).examples)  # not set: derived


# --- chat cards -----------------------------------------------------------------------------------


def test_chat_cards_name_their_document_above_the_measure(handlers):
    chat, history, *_ = handlers.ask("贷款难怎么办？", [], [])
    html = chat[-1]["content"]
    first, second = html.split('<div class="pq-card">')[1:3]
    assert first.index("pq-docline") < first.index("pq-head")
    assert "《A市人工智能若干措施》</span> · <span class=\"pq-docno\">A政规〔2026〕4号</span> · " \
           "<span class=\"pq-docdate\">2026-02-13 印发</span></div>" in first
    assert "《B市创业若干政策》" in second and "pq-docno" not in second  # no 文号: none shown
    assert "已于2026-01-09到期" in second and "pq-expired" in second  # expired on the assistant's clock
    assert '<span class="pq-num">一、（一）</span>' in second  # numbered as answers number it
    # a follow-up finds the records by key, not by a number that two documents share
    assert history[-1]["citations"] == [{"doc_id": A, "key": "2"}, {"doc_id": B, "key": "1.1"}]


def test_one_document_cards_stay_as_they_were():
    chat, *_ = _Handlers(FakeAssistant, None).ask("贷款难怎么办？", [], [])
    assert "pq-docline" not in chat[-1]["content"] and "第14条" in chat[-1]["content"]


# --- lookup: pickers -------------------------------------------------------------------------------


def test_document_choices_count_records(corpus):
    assert lookup.document_choices(corpus) == [("（全部文件）", "*"), ("《A市人工智能若干措施》2026年（4）", A),
                                               ("《B市创业若干政策》2025年（2）", B), ("《综合保税区管理办法》2019年（2）", N)]


def test_department_choices_follow_the_document(corpus):
    assert lookup.department_picker(corpus)[:2] == [("（全部责任单位）", "*"), ("市财政局（3）", "市财政局")]
    assert lookup.department_choices(corpus, B) == [("人民银行B市分行（1）", "人民银行B市分行"), ("市科技局（1）", "市科技局"),
                                                    ("市财政局（1）", "市财政局")]


def test_part_group_and_measure_choices(corpus):
    parts = lookup.part_choices(corpus, None)  # no document chosen: every document's parts, named
    assert parts[1] == ("《A市人工智能若干措施》一、夯实基础（2）", json.dumps([A, "一、夯实基础"], ensure_ascii=False))
    assert ("《A市人工智能若干措施》三、保障措施（1）", json.dumps([A, "三、保障措施"], ensure_ascii=False)) in parts
    assert [label for label, _ in lookup.part_choices(corpus, B)] == ["（全部部分）", "一、金融（1）", "二、载体（1）"]
    assert lookup.group_choices(corpus, A, "一、夯实基础") == [
        ("（整个部分）", "*"), ("（一）算力（1）", json.dumps([A, "一、夯实基础", "（一）算力"], ensure_ascii=False)),
        ("（二）金融（1）", json.dumps([A, "一、夯实基础", "（二）金融"], ensure_ascii=False))]
    assert lookup.group_choices(corpus, B, "一、金融") == []  # no groups: the picker hides
    assert [label for label, _ in lookup.measure_choices(corpus, B)] == ["一、（一） 支持企业贷款", "二、（一） 建设孵化空间"]
    assert [label for label, _ in lookup.measure_choices(corpus, N)] == [
        "第一条 为了促进综合保税区发展", "第二条 海关总署会同财政部对综合保税区实施监…"]  # untitled: the text's start
    assert lookup.measure_choices(corpus, None)[0][0] == "《A市人工智能若干措施》第1条 强化算力支撑"


@pytest.mark.parametrize("method,value", [
    ("document", "nope"), ("department", "不存在的局"), ("part", "not json"), ("part", '["a", 1]'),
    ("part", json.dumps([A, "九、没有"], ensure_ascii=False)), ("group", '{"a": 1}'),
    ("picked_measure", json.dumps([A, "99"])), ("picked_measure", "[]"),
])
def test_a_value_that_names_nothing_is_one_message(corpus, method, value):
    with pytest.raises(lookup.BadChoice, match="没有找到"):
        getattr(corpus, method)(value)


def test_typed_values_are_understood(corpus):
    assert corpus.document("《B市创业若干政策》") == B and corpus.document("国发〔2019〕3号") == N
    assert corpus.department("财政局") == "市财政局" and corpus.department("*") is None


# --- lookup: what is listed ----------------------------------------------------------------------


def test_the_document_filter_combines_with_the_department(handlers):
    out = view(handlers.by_document("", A, None))
    assert "《A市人工智能若干措施》：共 4 条" in out["results"]
    assert [label for label, _ in out["department"]["choices"]][1:] == ["市数据局（2）", "市财政局（2）", "市人社局（1）"]
    out = view(handlers.by_department("", A, "市财政局"))
    assert "《A市人工智能若干措施》 · 市财政局：共负责 2 条措施" in out["results"]
    assert out["results"].count('<div class="pq-card">') == 2
    out = view(handlers.by_document("", "*", "市财政局"))  # all documents: the department stays
    assert "市财政局：共负责 3 条措施" in out["results"] and out["department"]["value"] == "市财政局"
    assert out["results"].count('class="pq-docgroup"') == 2  # A and B, each under its heading
    out = view(handlers.by_document("", N, "市财政局"))  # N has no 市财政局: the filter is lifted
    assert out["department"]["value"] == "*" and "《综合保税区管理办法》：共 2 条" in out["results"]


def test_search_results_are_grouped_by_document_with_counts(handlers):
    out = view(handlers.search("贷款", None, None))
    html = out["results"]
    assert "与「贷款」相关的措施：共 3 条" in html
    heads = [part.split("</section>")[0] for part in html.split('<section class="pq-docgroup">')[1:]]
    assert [("《A市" in h, "《B市" in h, "《综合" in h) for h in heads] == [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    assert all('<span class="pq-count">1 条</span>' in h for h in heads)
    assert "转办：《综合保税区管理办法》（国发〔2019〕3号）第二条，责任单位：海关总署、财政部" in html
    assert out["part"]["value"] == "*" and out["group"]["visible"] is False  # a search replaces browsing


def test_search_within_filters_asks_the_engine_for_that_document(handlers):
    out = view(handlers.search("贷款", B, "市财政局"))
    assert "《B市创业若干政策》 · 市财政局中与「贷款」相关的措施：共 1 条" in out["results"]
    assert handlers.assistant.__class__ is ThreeDocuments
    out = view(handlers.search("财政局", None, None))  # a department's short name picks the department
    assert out["department"]["value"] == "市财政局" and out["query"] == ""
    assert "市财政局：共负责 3 条措施" in out["results"]
    out = view(handlers.search("", None, None))
    assert "请输入关键词，例如：强化算力支撑、支持企业贷款、财政局。" in out["results"]


def test_browsing_a_part_chooses_its_document_and_offers_its_groups(handlers):
    part = json.dumps([A, "一、夯实基础"], ensure_ascii=False)
    out = view(handlers.by_part("贷款", None, None, part))
    assert "《A市人工智能若干措施》 · 一、夯实基础：共 2 条" in out["results"]
    assert out["document"]["value"] == A and out["query"] == ""  # the document picker follows; the search is cleared
    assert out["group"]["visible"] is True and out["group"]["choices"][2][0] == "（二）金融（1）"
    group = out["group"]["choices"][2][1]
    out = view(handlers.by_group("", A, None, part, group))
    assert "《A市人工智能若干措施》 · 一、夯实基础 · （二）金融：共 1 条" in out["results"]
    assert [label for label, _ in out["measure"]["choices"]] == ["第2条 加大金融支持"]
    out = view(handlers.by_group("", A, "市数据局", part, "*"))  # （整个部分）, within a department
    assert "《A市人工智能若干措施》 · 一、夯实基础 · 市数据局：共负责 1 条措施" in out["results"]
    out = view(handlers.by_part("", A, None, "*"))  # （全部部分）: the whole document again
    assert "《A市人工智能若干措施》：共 4 条" in out["results"] and out["group"]["visible"] is False
    out = view(handlers.by_part("", None, None, json.dumps([B, "一、金融"], ensure_ascii=False)))
    assert out["group"]["visible"] is False and "《B市创业若干政策》 · 一、金融：共 1 条" in out["results"]


def test_the_detail_and_its_transfer_line_name_the_document(handlers):
    out = view(handlers.detail(json.dumps([B, "1.1"])))
    assert out["transfer"]["value"] == "转办：《B市创业若干政策》一、（一）「支持企业贷款」，责任单位：市财政局、人民银行B市分行"
    assert '<div class="pq-docline"><span class="pq-docname">《B市创业若干政策》</span>' in out["detail"]
    assert "已于2026-01-09到期" in out["detail"] and out["results"] == ""
    untitled = view(handlers.detail(json.dumps([N, "2"])))["transfer"]["value"]
    assert untitled == "转办：《综合保税区管理办法》（国发〔2019〕3号）第二条，责任单位：海关总署、财政部"


@pytest.mark.parametrize("call", [
    lambda h: h.by_document("", "不存在的文件", None),
    lambda h: h.by_department("", None, "不存在的局"),
    lambda h: h.by_part("", None, None, "{broken"),
    lambda h: h.by_group("", None, None, None, '["x", "y", "z"]'),
    lambda h: h.search("贷款", "不存在的文件", None),
    lambda h: h.detail('["x"]'),
])
def test_every_bad_picker_value_is_one_message_in_the_page(handlers, call):
    out = view(call(handlers))
    shown = out["results"] or out["detail"]
    assert shown.startswith('<div class="pq-muted">') and "没有找到" in shown


# --- the documents tab ---------------------------------------------------------------------------


def test_documents_tab_shows_validity_counts_and_departments():
    engine = ThreeDocuments()
    html = render.documents_html(DOCUMENTS, engine.departments(), TODAY)
    assert "共 3 份政策文件，8 项措施；其中 1 份已失效（截至 2026-12-01）" in html.split("pq-cards")[0]
    a, b, n = html.split('<div class="pq-card pq-doc')[1:]
    assert "A政规〔2026〕4号" in a and "A市人民政府" in a and "2026-02-13" in a and "4 项（编号措施 3 条" in a
    assert "自 2026-03-18 起施行 · 有效期至 2028-12-31 · <span class=\"pq-valid\">有效</span>" in a
    assert "共 3 个：" in a and '<span class="pq-dept">市数据局 <span class="pq-muted">2</span></span>' in a
    assert b.startswith(' pq-doc-expired"') and '<span class="pq-expired">已失效（2026-01-09 到期）</span>' in b
    assert "文件未载明施行日期和有效期" in n and "简称" not in n  # no short title of its own
    early = render.documents_html(DOCUMENTS, engine.departments(), date(2026, 3, 1))
    assert "尚未施行" in early.split('<div class="pq-card pq-doc')[1]


def test_documents_tab_escapes_document_text():
    evil = DOCUMENTS[0].model_copy(update={"title": EVIL, "issuer": EVIL, "doc_number": EVIL, "short_title": EVIL,
                                           "expires_on": "not a date"})
    html = render.documents_html([evil], [DepartmentOut(name=EVIL, measures=[MeasureRef(doc_id=A, number=1, title="t")])],
                                 TODAY)
    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") == 4  # title, 文号, issuer, department
    line = render.doc_line_html(EVIL, EVIL, EVIL, "2000-01-01", TODAY)
    assert "<img" not in line and "已于2000-01-01到期" in line


def test_many_departments_fold_under_one_line():
    departments = [DepartmentOut(name=f"部门{i:02d}", measures=[MeasureRef(doc_id=A, number=1, title="t")])
                   for i in range(render.OPEN_DEPARTMENTS + 3)]
    html = render.documents_html(DOCUMENTS[:1], departments, TODAY)
    assert '<details class="pq-more"><summary>另有 3 个单位</summary>' in html


def test_build_ui_reads_the_title_of_ui_json_without_the_assistant(tmp_path):
    (tmp_path / UI_CONFIG).write_text('{"title": "某市政策问答", "examples": ["问一？", "问二？"]}', encoding="utf-8")

    def not_yet():
        raise AssertionError("build_ui asked for the assistant before any page loaded")

    demo = build_ui(not_yet, corpus_folder=tmp_path)
    assert demo.title == "某市政策问答"
    import gradio as gr

    labels = [b.value for b in demo.blocks.values() if isinstance(b, gr.Button) and b.visible and b.value in ("问一？", "问二？")]
    assert labels == ["问一？", "问二？"]


def test_ui_config_model_lists_its_keys():
    assert set(UiConfig.model_fields) == {"title", "subtitle", "examples", "keywords"}
