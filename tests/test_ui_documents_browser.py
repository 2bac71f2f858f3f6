"""The UI over many documents, in a real browser: create_app with a real assistant over the 13
documents of corpus/samples (places and years from 国务院 2018 to 武汉 2026), served by uvicorn on
loopback and driven by Playwright in Debian's headless Chromium.

One server and one browser for the module. The samples' index is built in the session's data
folder (the first module to ask for it builds it, about a minute on 2 idle cores; any later one
opens it). The assistant's clock is set to 2027-07-01, when 海珠区's measures (有效期至 2027-06-23)
have expired. Screenshots land in tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from assistant.api import create_app
from corpus.loading import BUNDLED_CORPUS
from tests.browser import artifact_path, launch_chromium, serve_app
from tests.test_ui_browser import Session, _assert_no_horizontal_scroll, _page_top, ask, open_ui

pytestmark = pytest.mark.slow

SAMPLES = BUNDLED_CORPUS.parent / "samples"
TODAY = date(2027, 7, 1)
PHONE = dict(width=390, height=844)
WUHAN = "《武汉市OPC若干措施》"
BONDED = "《国务院综合保税区开放若干意见》"


@pytest.fixture(scope="module")
def samples_assistant(settings):
    """The real engine over corpus/samples, its index in the session's data folder (built once)."""
    from assistant.service import PolicyAssistant

    return PolicyAssistant(settings.model_copy(update={"corpus": SAMPLES, "watch": False}), clock=lambda: TODAY)


@pytest.fixture(scope="module")
def base_url(settings, samples_assistant, tmp_path_factory):
    home = tmp_path_factory.mktemp("ui-documents")  # feedback of its own; the index is the assistant's
    app = create_app(settings.model_copy(update={"home": home, "corpus": SAMPLES, "watch": False}),
                     assistant=samples_assistant)
    with serve_app(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def ui(browser, base_url):
    session = open_ui(browser, base_url)
    yield session
    _close(session)


def _close(session: Session):
    session.page.context.close()
    assert session.outside_requests == [], "the page must not reach beyond loopback"
    assert session.page_errors == [] and session.dialogs == []
    assert session.failed_requests == [], "every request the page made must be served (ui/routes.py)"


def open_lookup(page):
    page.get_by_role("tab", name="政策查询").click()
    page.locator("#pq-query").wait_for()


def options(page, dropdown_id: str) -> list[str]:
    """The choices a picker offers (it is opened, read, and closed again)."""
    page.locator(f"#{dropdown_id} input").click()
    listed = page.locator(f"#{dropdown_id}").get_by_role("option")  # this picker's list, not one still closing
    listed.first.wait_for()
    found = [o.replace("✓", "").strip() for o in listed.all_inner_texts()]  # ✓: the chosen one
    page.locator(f"#{dropdown_id} input").blur()  # closes the list
    return found


def choose(page, dropdown_id: str, option: str):
    page.locator(f"#{dropdown_id} input").click()
    page.locator(f"#{dropdown_id}").get_by_role("option", name=option, exact=True).click()  # this picker's list


def choose_starting(page, dropdown_id: str, start: str) -> str:
    """Chooses the first option that starts with ``start`` (counts follow the corpus); returns it."""
    name = next(o for o in options(page, dropdown_id) if o.startswith(start))
    choose(page, dropdown_id, name)
    return name


def heading_when(page, text: str, start: bool = False) -> str:
    """Waits for the results' heading to hold ``text`` (with ``start``: to begin with it); returns the heading."""
    head = page.locator("#pq-results .pq-list-head")
    test = "el.textContent.trim().startsWith(t)" if start else "el.textContent.includes(t)"
    page.wait_for_function(f"([el, t]) => el && {test}", arg=[head.element_handle(), text])
    return head.inner_text()


def group_counts(page) -> dict[str, int]:
    """Each document heading of the results: its name → the count it states."""
    heads = page.locator("#pq-results .pq-docgroup-head").all_inner_texts()
    out = {}
    for head in heads:
        name = re.search(r"《[^》]+》", head).group()
        out[name] = int(re.search(r"(\d+) 条\s*$", head).group(1))
    return out


# --- header and examples -------------------------------------------------------------------------


def test_the_header_and_examples_come_from_the_documents(ui, samples_assistant):
    page = ui.page
    header = page.locator("#pq-header")
    assert header.locator("h1").inner_text() == "政策问答：13 份政策文件"
    subtitle = header.locator(".pq-subtitle").inner_text()
    for place in ("全国", "北京市", "广州市海珠区", "台湾", "威海市", "武汉市"):
        assert place in subtitle
    page.wait_for_function("document.title === '政策问答：13 份政策文件'")  # the browser tab follows
    buttons = page.locator("#pq-examples button:visible")
    examples = buttons.all_inner_texts()
    assert 2 <= len(examples) <= 6 and all(e.endswith("？") for e in examples)
    # made from the corpus: measure titles of the documents and its department with the most measures
    assert f"{samples_assistant.departments()[0].name}负责哪些措施？" in examples
    assert "智能工厂有哪些支持？" not in examples  # the seed corpus' own examples are its ui.json's, not these
    bots = page.locator("#pq-chat [data-testid='bot']")
    buttons.first.click()
    bots.first.locator(".pq-card").first.wait_for()
    title = examples[0].removesuffix("有哪些支持？")
    assert title in bots.first.locator(".pq-card").first.inner_text()


# --- chat cards ---------------------------------------------------------------------------------


def test_each_card_names_its_document_above_the_measure(ui):
    answer = ask(ui, "武汉对OPC算力有什么支持？")
    cards = answer.locator(".pq-card")
    assert cards.count() >= 1
    for card in cards.all():
        line = card.locator(".pq-docline")
        assert line.inner_text() == f"{WUHAN} · 武政规〔2026〕4号 · 2026-02-13 印发"
        assert line.bounding_box()["y"] < card.locator(".pq-head").bounding_box()["y"]  # above the measure
    assert "强化算力服务支撑" in answer.inner_text()

    answer = ask(ui, "海珠区对OPC有哪些支持？")  # 海珠区's measures expired on 2027-06-23
    lines = answer.locator(".pq-card .pq-docline").all_inner_texts()
    assert lines and all(line.startswith("《海珠区OPC措施》") and "已于2027-06-23到期" in line for line in lines)
    assert answer.locator(".pq-docline .pq-expired").count() == len(lines)


def test_an_answer_from_several_documents_names_each_one(ui):
    answer = ask(ui, "贷款难怎么办？")
    names = {re.search(r"《[^》]+》", t).group() for t in answer.locator(".pq-card .pq-docline").all_inner_texts()}
    assert len(names) >= 2 and "《威海市工业经济“头号工程”行动方案》" in names


# --- lookup -------------------------------------------------------------------------------------


def test_the_document_filter_counts_and_combines_with_the_department(ui):
    page = ui.page
    open_lookup(page)
    docs = options(page, "pq-document")
    assert docs[0] == "（全部文件）" and len(docs) == 14
    assert f"{WUHAN}2026年（11）" in docs and "《威海市工业经济“头号工程”行动方案》2026年（22）" in docs

    choose(page, "pq-document", f"{WUHAN}2026年（11）")
    assert heading_when(page, WUHAN) == f"{WUHAN}：共 11 条"
    assert group_counts(page) == {WUHAN: 11}
    departments = options(page, "pq-department")  # now the document's own, counted in it
    assert departments[0] == "（全部责任单位）" and "市财政局（2）" in departments and "财政部（31）" not in departments

    choose(page, "pq-department", "市财政局（2）")
    assert heading_when(page, "市财政局") == f"{WUHAN} · 市财政局：共负责 2 条措施"
    transfers = page.locator("#pq-results .pq-transfer").all_inner_texts()
    assert len(transfers) == 2 and all(t.startswith(f"转办：{WUHAN}（武政规〔2026〕4号）第") for t in transfers)

    choose(page, "pq-document", "（全部文件）")  # the department filter stays: now across every document
    head = heading_when(page, "市财政局：共负责", start=True)  # no longer prefixed by the document
    total = int(re.search(r"共负责 (\d+) 条", head).group(1))
    counts = group_counts(page)
    assert len(counts) >= 3 and counts[WUHAN] == 2 and sum(counts.values()) == total
    assert page.locator("#pq-results .pq-card").count() == total

    box = page.get_by_label("关键词搜索（列出全部相关措施）")  # a search within the department filter
    box.fill("贷款")
    box.press("Enter")
    head = heading_when(page, "贷款")
    assert head.startswith("市财政局中与「贷款」相关的措施：共")
    n = int(re.search(r"共 (\d+) 条", head).group(1))
    assert 1 <= n < total and sum(group_counts(page).values()) == n


def test_search_results_come_under_a_heading_per_document(ui):
    page = ui.page
    open_lookup(page)
    box = page.get_by_label("关键词搜索（列出全部相关措施）")
    box.fill("人工智能")
    page.locator("#pq-search").click()
    head = heading_when(page, "人工智能")
    total = int(re.search(r"共 (\d+) 条", head).group(1))
    counts = group_counts(page)
    assert len(counts) >= 3 and sum(counts.values()) == total
    for group in page.locator("#pq-results .pq-docgroup").all():
        stated = int(re.search(r"(\d+) 条\s*$", group.locator(".pq-docgroup-head").inner_text()).group(1))
        assert group.locator(".pq-card").count() == stated
        name = re.search(r"《[^》]+》", group.locator(".pq-docline").inner_text()).group()
        assert all(t.startswith(f"转办：{name}") for t in group.locator(".pq-transfer").all_inner_texts())


def test_browse_document_part_group_measure(ui):
    page = ui.page
    open_lookup(page)
    assert not page.locator("#pq-group").is_visible()  # no part chosen yet
    choose_starting(page, "pq-document", BONDED)
    choose(page, "pq-part", "四、主要任务（21）")
    assert heading_when(page, "主要任务") == f"{BONDED} · 四、主要任务：共 21 条"
    groups = options(page, "pq-group")
    assert groups[0] == "（整个部分）" and len(groups) == 6
    choose(page, "pq-group", "（三）推进贸易便利化，打造物流分拨中心。（4）")
    assert heading_when(page, "物流") == f"{BONDED} · 四、主要任务 · （三）推进贸易便利化，打造物流分拨中心。：共 4 条"
    assert options(page, "pq-measure") == ["第10条 简化进出区管理", "第11条 便利货物流转", "第12条 试行汽车保税存储",
                                          "第13条 促进文物回流"]

    choose(page, "pq-measure", "第13条 促进文物回流")
    transfer = page.locator("#pq-transfer textarea, #pq-transfer input").first
    page.wait_for_function("el => el.value.startsWith('转办：')", arg=transfer.element_handle())
    # the document's note makes the first-listed unit the lead: 海关总署 leads, the others answer with it
    assert transfer.input_value() == (f"转办：{BONDED}（国发〔2019〕3号）第13条「促进文物回流」，"
                                      "牵头单位：海关总署；责任单位：文化和旅游部、文物局")
    detail = page.locator("#pq-detail .pq-detail")
    assert detail.locator(".pq-docline").inner_text() == f"{BONDED} · 国发〔2019〕3号 · 2019-01-12 印发"
    assert "四、主要任务 › （三）推进贸易便利化" in detail.inner_text()
    assert page.locator("#pq-results .pq-card").count() == 0  # the list gave way to the detail

    choose(page, "pq-part", "（全部部分）")  # back up the tree: the whole document
    assert heading_when(page, BONDED) == f"{BONDED}：共 28 条"
    assert not page.locator("#pq-group").is_visible()


def test_choosing_a_part_of_any_document_chooses_that_document(ui):
    page = ui.page
    open_lookup(page)
    parts = options(page, "pq-part")  # no document chosen: every document's parts, each named
    name = next(p for p in parts if p.startswith("《泰安市OPC实施意见》二、重点任务"))
    choose(page, "pq-part", name)
    assert heading_when(page, "重点任务") == "《泰安市OPC实施意见》 · 二、重点任务：共 13 条"
    assert page.locator("#pq-document input").input_value().startswith("《泰安市OPC实施意见》2026年")
    assert options(page, "pq-group")[1].startswith("（一）优化空间载体")


def test_the_documents_tab_lists_every_document_with_its_validity_and_departments(ui):
    page = ui.page
    page.get_by_role("tab", name="文件信息").click()
    cards = page.locator("#pq-documents .pq-doc")
    cards.first.wait_for()
    assert cards.count() == 13
    wuhan = cards.filter(has_text="武汉市支持人工智能OPC创新发展若干措施").inner_text()
    for fact in ("武政规〔2026〕4号", "武汉市人民政府", "2026-02-13", "自 2026-03-18 起施行", "有效期至 2028-12-31",
                 "有效", "11 项", "市科创局"):
        assert fact in wuhan, fact
    haizhu = cards.filter(has_text="广州市海珠区人工智能OPC创新发展措施")
    assert "已失效（2027-06-23 到期）" in haizhu.inner_text() and haizhu.locator(".pq-expired").count() == 1
    assert page.locator("#pq-documents .pq-expired").count() == 1  # on 2027-07-01, that one only
    national = cards.filter(has_text="国务院关于促进综合保税区高水平开放高质量发展的若干意见").inner_text()
    assert "国发〔2019〕3号" in national and "海关总署" in national and "文件未载明施行日期和有效期" in national


# --- on a phone ---------------------------------------------------------------------------------


def test_on_a_phone_the_pickers_come_first_and_nothing_overflows(browser, base_url):
    session = open_ui(browser, base_url, **PHONE)
    page = session.page
    try:
        answer = ask(session, "贷款难怎么办？")
        _assert_no_horizontal_scroll(page, PHONE["width"])
        answer.locator(".pq-docline").first.wait_for()
        page.screenshot(path=artifact_path("documents-phone-chat.png"))

        open_lookup(page)
        choose_starting(page, "pq-document", BONDED)
        choose(page, "pq-part", "四、主要任务（21）")
        page.locator("#pq-group").wait_for()
        heading_when(page, "主要任务")
        measure = page.locator("#pq-measure")
        assert _page_top(measure) + measure.bounding_box()["height"] <= PHONE["height"], \
            "the measure picker is below the first screen"
        assert _page_top(measure) < _page_top(page.locator("#pq-results"))
        _assert_no_horizontal_scroll(page, PHONE["width"])
        page.screenshot(path=artifact_path("documents-phone-lookup.png"), full_page=True)

        page.get_by_role("tab", name="文件信息").click()
        page.locator("#pq-documents .pq-doc").first.wait_for()
        _assert_no_horizontal_scroll(page, PHONE["width"])
        page.screenshot(path=artifact_path("documents-phone-tab.png"), full_page=True)
    finally:
        _close(session)


def test_layout_on_a_desktop(browser, base_url):
    session = open_ui(browser, base_url)
    page = session.page
    try:
        open_lookup(page)
        choose(page, "pq-department", next(o for o in options(page, "pq-department") if o.startswith("市财政局")))
        heading_when(page, "市财政局")
        _assert_no_horizontal_scroll(page, 1280)
        page.screenshot(path=artifact_path("documents-lookup-1280.png"), full_page=True)
        page.get_by_role("tab", name="文件信息").click()
        page.locator("#pq-documents .pq-doc").first.wait_for()
        page.screenshot(path=artifact_path("documents-tab-1280.png"), full_page=True)
    finally:
        _close(session)


