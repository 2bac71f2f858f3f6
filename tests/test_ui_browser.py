"""The UI in a real browser: FastAPI + the mounted Gradio UI served by uvicorn on
loopback, driven by Playwright in Debian's headless Chromium, against the fake assistant.

Screenshots land in tests/artifacts/ (gitignored); look at them after a UI change.
"""

from __future__ import annotations

import sqlite3
import urllib.request
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI

from tests.browser import artifact_path, launch_chromium, serve_app
from tests.fake_assistant import FakeAssistant
from ui.app import mount_ui
from ui.feedback import FeedbackStore

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
TIMEOUT = 20_000  # ms; the fake answers at once, this is for a loaded machine


@pytest.fixture(scope="module")
def fake():
    return FakeAssistant()


@pytest.fixture(scope="module")
def feedback_db(tmp_path_factory):
    return tmp_path_factory.mktemp("feedback") / "feedback.sqlite"


@pytest.fixture(scope="module")
def base_url(fake, feedback_db):
    app = FastAPI()

    @app.get("/api/ping")
    def ping():
        return {"ok": True}

    mount_ui(app, fake, FeedbackStore(feedback_db))
    with serve_app(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@dataclass
class Session:
    page: object
    dialogs: list = field(default_factory=list)
    outside_requests: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)


def open_ui(browser, base_url, width=1280, height=900) -> Session:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    session = Session(page)

    def on_dialog(dialog):
        session.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: session.page_errors.append(str(exc)))
    page.on(
        "request",
        lambda r: session.outside_requests.append(r.url)
        if not (r.url.startswith(base_url) or r.url.startswith(("data:", "blob:")))
        else None,
    )
    page.goto(base_url + "/")
    # the dropdowns and the documents tab are filled by the page's load event
    # (tabs that are not shown are not in the DOM: wait for the corpus line in the header)
    page.locator("#pq-header .pq-corpus").wait_for()
    return session


@pytest.fixture
def ui(browser, base_url):
    session = open_ui(browser, base_url)
    yield session
    session.page.context.close()


def ask(page, question: str):
    """Type a question, send it, and return the locator of the answer it produced."""
    answers = page.locator("#pq-chat [data-testid='bot']")
    before = answers.count()
    page.get_by_label("您的问题").fill(question)
    page.locator("#pq-send").click()
    page.wait_for_function(
        "n => document.querySelectorAll(\"#pq-chat [data-testid='bot']\").length > n", arg=before
    )
    return answers.nth(before)


def choose(page, dropdown_id: str, option: str):
    page.locator(f"#{dropdown_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


# --- 政策问答 ---------------------------------------------------------------------


def test_answer_card_shows_measure_number_departments_and_highlighted_full_text(ui):
    answer = ask(ui.page, "智能工厂有哪些支持？")

    card = answer.locator(".pq-card")
    assert card.count() == 1
    text = card.inner_text()
    assert "第9条" in text and "加力推进智改数转网联" in text
    assert "市工业和信息化局" in text and "市农业农村局" in text
    assert "三、促进实数深度融合" in text
    assert "培育卓越级智能工厂 2家" in text  # targets
    assert "力争培育2家卓越级智能工厂" in card.locator(".pq-quote").first.inner_text()

    full = card.locator("details.pq-full")
    assert not full.locator(".pq-text").is_visible()
    full.locator("summary").click()
    assert "加快乳山市县域数字农业发展县建设" in full.locator(".pq-text").inner_text()
    assert "力争培育2家卓越级智能工厂" in full.locator("mark").first.inner_text()
    ui.page.screenshot(path=artifact_path("chat-card-1280.png"))
    assert ui.outside_requests == [] and ui.page_errors == []


def test_follow_up_sends_the_conversation_to_the_assistant(ui, fake):
    ask(ui.page, "智能工厂有哪些支持？")
    answer = ask(ui.page, "牵头部门是哪个？")

    assert "接上一问「智能工厂有哪些支持？」" in answer.inner_text()
    question, history = fake.calls[-1]
    assert question == "牵头部门是哪个？"
    assert history[0] == {"role": "user", "content": "智能工厂有哪些支持？"}  # raw text, not the rendered HTML
    assert history[1]["role"] == "assistant" and history[1]["content"].startswith("相关措施：第9条")
    assert "第9条" in answer.locator(".pq-card").inner_text()

    ui.page.locator("#pq-clear").click()
    ui.page.wait_for_function("!document.querySelector(\"#pq-chat [data-testid='bot']\")")
    ask(ui.page, "牵头部门是哪个？")
    assert fake.calls[-1][1] == []  # 清空 forgets the conversation


def test_example_question_button_asks_it(ui):
    answers = ui.page.locator("#pq-chat [data-testid='bot']")
    ui.page.get_by_role("button", name="贷款难怎么办？").click()
    answers.first.locator(".pq-card").wait_for()
    text = answers.first.inner_text()
    assert "第14条" in text and "强化金融助力" in text and "人民银行威海市分行" in text


def test_thumbs_down_with_a_comment_is_stored_in_sqlite(ui, feedback_db):
    ask(ui.page, "招不到熟练技术工人怎么办？")
    ui.page.get_by_label("意见（可选）").fill("想知道订单班怎么报名")
    ui.page.locator("#pq-down").click()
    ui.page.get_by_text("已记录您的反馈").wait_for()
    assert ui.page.get_by_label("意见（可选）").input_value() == ""

    with sqlite3.connect(feedback_db) as conn:
        rows = conn.execute(
            "SELECT question, answer, vote, comment, citations FROM feedback WHERE comment = ?",
            ("想知道订单班怎么报名",),
        ).fetchall()
    assert len(rows) == 1
    question, answer, vote, comment, citations = rows[0]
    assert (question, vote) == ("招不到熟练技术工人怎么办？", "down")
    assert "第15条" in answer and '"measure_number": 15' in citations

    ui.page.locator("#pq-up").click()  # one vote per answer
    ui.page.get_by_text("已收到您对这条回答的评价").wait_for()


def test_markup_in_a_question_shows_as_text_and_never_runs(ui):
    answer = ask(ui.page, EVIL)
    ui.page.wait_for_timeout(500)  # give an onerror handler the chance to fire

    assert EVIL in ui.page.locator("#pq-chat .pq-question").last.inner_text()
    assert f"「{EVIL}」" in answer.inner_text()  # the fake echoes it in its refusal
    assert ui.page.locator("#pq-chat img[src='x']").count() == 0

    ui.page.get_by_role("tab", name="政策查询").click()
    ui.page.get_by_label("关键词搜索（列出全部相关措施）").fill(EVIL)
    ui.page.locator("#pq-search").click()
    ui.page.locator("#pq-results").get_by_text("共 0 条").wait_for()
    assert EVIL in ui.page.locator("#pq-results").inner_text()
    assert ui.page.locator("img[src='x']").count() == 0
    ui.page.wait_for_timeout(300)
    assert ui.dialogs == []


# --- 政策查询 ---------------------------------------------------------------------


def test_department_filter_lists_its_complete_list(ui):
    page = ui.page
    page.get_by_role("tab", name="政策查询").click()
    page.locator("#pq-department input").click()
    options = page.get_by_role("option").all_inner_texts()
    assert [o.strip() for o in options][:2] == ["市工业和信息化局（3）", "人民银行威海市分行（1）"]
    assert len(options) == 7
    page.get_by_role("option", name="市工业和信息化局（3）", exact=True).click()

    results = page.locator("#pq-results")
    results.get_by_text("市工业和信息化局：共负责 3 条措施").wait_for()
    cards = results.locator(".pq-card")
    assert cards.count() == 3
    assert cards.locator(".pq-num").all_inner_texts() == ["第9条", "第14条", "第15条"]
    assert "转办：第9条「加力推进智改数转网联」，责任单位：市工业和信息化局、市农业农村局" in results.inner_text()

    choose(page, "pq-department", "市财政局（1）")
    results.get_by_text("市财政局：共负责 1 条措施").wait_for()
    assert results.locator(".pq-card").count() == 1


def test_search_section_and_measure_detail(ui):
    page = ui.page
    page.get_by_role("tab", name="政策查询").click()
    page.get_by_label("关键词搜索（列出全部相关措施）").fill("工业和信息化局")
    page.get_by_label("关键词搜索（列出全部相关措施）").press("Enter")
    page.locator("#pq-results").get_by_text("共 3 条").wait_for()
    assert page.locator("#pq-results .pq-card").count() == 3

    choose(page, "pq-section", "四、优化协同推进机制，提升产业综合竞争力（2）")
    page.locator("#pq-results").get_by_text("共 2 条").wait_for()
    assert "第14条" in page.locator("#pq-results").inner_text()

    choose(page, "pq-measure", "第9条 加力推进智改数转网联")
    transfer = page.locator("#pq-transfer textarea, #pq-transfer input").first
    page.wait_for_function(
        "el => el.value.startsWith('转办')", arg=transfer.element_handle()
    )
    assert transfer.input_value() == "转办：第9条「加力推进智改数转网联」，责任单位：市工业和信息化局、市农业农村局"
    detail = page.locator("#pq-detail").inner_text()
    assert "培育智慧农业应用场景6个" in detail  # the full text, open
    assert "规上工业企业数字化转型覆盖率 98%" in detail  # targets
    assert "（市工业和信息化局、农业农村局按职责分工负责）" in detail


def test_documents_tab(ui):
    ui.page.get_by_role("tab", name="文件信息").click()
    text = ui.page.locator("#pq-documents").inner_text()
    for fact in ("威海市大力实施工业经济“头号工程”2026年行动方案", "威政办字〔2026〕10号", "2026-05-16", "威海市人民政府办公室", "3 项"):
        assert fact in text


def test_api_still_answers_with_the_ui_mounted(base_url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(base_url + "/api/ping", timeout=5) as r:
        assert r.read() == b'{"ok":true}'


# --- layout ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 390])
def test_layout_fits_the_width_and_stays_offline(browser, base_url, width):
    session = open_ui(browser, base_url, width=width, height=900 if width > 600 else 844)
    page = session.page
    try:
        answer = ask(page, "工信局负责哪些措施？")
        assert answer.locator(".pq-card").count() == 3
        answer.locator("details.pq-full summary").first.click()
        _assert_no_horizontal_scroll(page, width)
        for card in answer.locator(".pq-card").all():
            box = card.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1
        if width < 600:  # the cards stack
            xs = {round(c.bounding_box()["x"]) for c in answer.locator(".pq-card").all()}
            assert len(xs) == 1
        page.screenshot(path=artifact_path(f"chat-{width}.png"), full_page=True)

        page.get_by_role("tab", name="政策查询").click()
        choose(page, "pq-department", "市工业和信息化局（3）")
        page.locator("#pq-results .pq-card").nth(2).wait_for()
        choose(page, "pq-measure", "第15条 强化人才支撑")
        page.locator("#pq-detail .pq-detail").wait_for()
        _assert_no_horizontal_scroll(page, width)
        page.screenshot(path=artifact_path(f"lookup-{width}.png"), full_page=True)

        page.get_by_role("tab", name="文件信息").click()
        page.locator("#pq-documents .pq-doc").wait_for()
        _assert_no_horizontal_scroll(page, width)
        page.screenshot(path=artifact_path(f"documents-{width}.png"), full_page=True)

        assert session.outside_requests == [], "the page must not reach beyond loopback"
        assert session.page_errors == []
    finally:
        page.context.close()


def _assert_no_horizontal_scroll(page, width):
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide in a {width}px window"
