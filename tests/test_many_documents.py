"""Many documents loaded together: scopes, ambiguity, document facts, departments by level, places,
versions and validity, follow-ups and naming, asked through the HTTP API as a hotline clerk would.

Two corpora, each built once for the module (in parallel):

- MAIN: the seed (威海, 威政办字〔2026〕10号) + three real samples (武汉 武政规〔2026〕4号, 广州市海珠区, 泰安
  泰政办发〔2026〕1号) + four small hand-written documents in tests/fixtures/many/ (烟台 2024 and 2026
  versions of one title, 山东省 鲁政办字〔2026〕12号 with 省…厅 departments, 威海市环翠区 威环政办发〔2026〕6号
  with 区… departments). No State Council document: places without a document are really uncovered.
- NATIONAL: the State Council's employment opinions (国发〔2018〕39号) + 广州市海珠区: a national document
  applies everywhere.

Every expected value below was read off the documents' text.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from tests.corpus_client import ask, client_over, corpus_of

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = ROOT / "corpus" / "documents" / "weihai-2026-industrial-action-plan.txt"
SAMPLES = ROOT / "corpus" / "samples"  # the real samples, copied into the repository
MANY = Path(__file__).parent / "fixtures" / "many"

SEED = "weihai-2026-industrial-action-plan"
WUHAN = "wuhan_2026_ai-opc-measures"
HAIZHU = "guangzhou-haizhu_2026_ai-opc-measures"
TAIAN = "taian_2026_ai-opc-opinions"
SHANDONG = "shandong_2026_sme-digital-measures"
HUANCUI = "weihai-huancui_2026_digital-measures"
YT24 = "yantai_2024_zjtx-measures"
YT26 = "yantai_2026_zjtx-measures"
EMPLOY = "national_2018_employment-opinions"

MAIN_DOCS = [SEED, WUHAN, HAIZHU, TAIAN, SHANDONG, HUANCUI, YT24, YT26]

DOC_NUMBER = {
    SEED: "威政办字〔2026〕10号", WUHAN: "武政规〔2026〕4号", HAIZHU: None, TAIAN: "泰政办发〔2026〕1号",
    SHANDONG: "鲁政办字〔2026〕12号", HUANCUI: "威环政办发〔2026〕6号", YT24: "烟政办字〔2024〕8号",
    YT26: "烟政办字〔2026〕5号", EMPLOY: "国发〔2018〕39号",
}
PLACE_WORD = {SEED: "威海", WUHAN: "武汉", HAIZHU: "海珠", TAIAN: "泰安", SHANDONG: "山东", HUANCUI: "环翠",
              YT24: "烟台", YT26: "烟台", EMPLOY: "国务院"}
ISSUED = {HAIZHU: "2026-06-24", HUANCUI: "2026-06-01", SEED: "2026-05-16", TAIAN: "2026-05-07",
          SHANDONG: "2026-04-20", WUHAN: "2026-02-13", YT26: "2026-02-10", YT24: "2024-03-01"}
# numbered measures per document (the text's own numbering; unnumbered parts such as 保障措施 not counted)
MEASURE_COUNT = {HAIZHU: 20, SHANDONG: 5, TAIAN: 13, SEED: 21, HUANCUI: 4, WUHAN: 10, YT24: 4, YT26: 4}

TODAY = date(2026, 12, 1)  # the default date of asking: 烟台 2024 has expired (2025-12-31), the rest are in force
EXPIRED_FLAG = re.compile(r"已[^。；，,\n]{0,16}(到期|失效|过期|届满|废止)")


class Clock:
    def __init__(self, today: date):
        self.today = today

    def __call__(self) -> date:
        return self.today


def _assistant(settings, clock):
    from assistant.service import PolicyAssistant

    return PolicyAssistant(settings, build_in_child=False, clock=clock)


@pytest.fixture(scope="module")
def clock():
    return Clock(TODAY)


@pytest.fixture(scope="module")
def clients(tmp_path_factory, policyqa_home, clock):
    from assistant.settings import Settings

    base = tmp_path_factory.mktemp("many-documents")
    main = corpus_of(base / "main", [SEED_FILE, SAMPLES / f"{WUHAN}.txt", SAMPLES / f"{HAIZHU}.txt",
                                   SAMPLES / f"{TAIAN}.txt", *sorted(MANY.glob("*.txt"))])
    national = corpus_of(base / "national", [SAMPLES / f"{EMPLOY}.txt", SAMPLES / f"{HAIZHU}.txt"])
    settings = {name: Settings(home=policyqa_home, corpus=folder, build_in_child=False, watch=False)
                for name, folder in (("main", main), ("national", national))}
    with ThreadPoolExecutor(2) as pool:  # the two index builds overlap
        futures = {name: pool.submit(_assistant, s, clock) for name, s in settings.items()}
        assistants = {name: f.result() for name, f in futures.items()}
    with client_over(main, policyqa_home, assistants["main"]) as main_client, \
            client_over(national, policyqa_home, assistants["national"]) as nat_client:
        yield {"main": main_client, "national": nat_client}


@pytest.fixture(scope="module")
def client(clients):
    return clients["main"]


@pytest.fixture(scope="module")
def national(clients):
    return clients["national"]


@pytest.fixture
def on(clock):
    """Ask on another date; the module's date is restored afterwards."""
    def set_date(day: date):
        clock.today = day
    yield set_date
    clock.today = TODAY


def cited(body) -> list[tuple[str, str]]:
    return [(c["doc_id"], c["measure_key"]) for c in body["citations"]]


def docs_of(body) -> set[str]:
    return {c["doc_id"] for c in body["citations"]}


def keys_by_doc(body) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in body["citations"]:
        out.setdefault(c["doc_id"], set()).add(c["measure_key"])
    return out


def short(body, doc_id) -> str:
    return next(c["doc_short_title"] for c in body["citations"] if c["doc_id"] == doc_id)


def line_naming(answer: str, doc_id: str, short_title: str | None) -> str:
    """The answer's line that names the document (by its 文号, else by its short title)."""
    mark = DOC_NUMBER.get(doc_id) or f"《{short_title}》"
    lines = [line for line in answer.splitlines() if mark in line]
    assert lines, f"no line names {doc_id} ({mark}) in:\n{answer}"
    return lines[0]


def has_count(line: str, n: int) -> bool:
    """``n`` said as a count (共4项, 共有20条编号措施, 13条措施), not as a number (第13条)."""
    said = rf"(共|有|计|合计|总计|一共)\s*{n}\s*[项条份]|(?<![\d.第]){n}\s*[项条](编号)?措施"
    return re.search(said, line) is not None


def date_in(text: str, iso: str) -> bool:
    y, m, d = (int(p) for p in iso.split("-"))
    return iso in text or f"{y}年{m}月{d}日" in text


# --- 1. a question naming a document, place, issuer, 文号 or year: that document only ---------------

@pytest.mark.parametrize("question,doc_id,key,fragment", [
    ("海珠区OPC措施第五条是什么内容？", HAIZHU, "5", "琶洲算法大赛"),  # place + topic
    ("武汉市人民政府印发的OPC措施第六条是什么？", WUHAN, "6", "最高100万元的创业资助"),  # issuer
    ("鲁政办字〔2026〕12号第2条讲什么？", SHANDONG, "2", "最高300万元"),  # 文号
    ("2024年的专精特新措施第四条是什么？", YT24, "4", "贷款利息的30%"),  # year
    ("威海2026年行动方案第20条讲的什么？", SEED, "20", "95%"),  # place + year + title word
    ("泰安的文件第五条是什么内容？", TAIAN, "5", "OPC综合服务平台"),  # place: 泰安's own document
])
def test_a_named_document_answers_from_that_document_only(client, question, doc_id, key, fragment):
    body = ask(client, question)
    assert body["found"] is True
    assert cited(body) == [(doc_id, key)], body["answer"][:300]
    assert fragment in body["answer"]


def test_a_named_document_with_two_versions_answers_from_that_title_only(client):
    """烟台's 专精特新 measures: 第二条 is 奖励省级专精特新中小企业 (2026: 20万元; 2024: 10万元). The provincial
    digital-transformation document's 第2条 is another document's measure and does not belong here."""
    body = ask(client, "烟台的专精特新措施第二条是什么？")
    assert body["found"] is True
    assert docs_of(body) <= {YT24, YT26}, cited(body)
    assert body["citations"][0]["doc_id"] == YT26 and body["citations"][0]["measure_key"] == "2"
    assert "一次性奖励20万元" in body["answer"]


@pytest.mark.parametrize("question,doc_id,keys", [
    # 泰安: 市财政局 in the 责任单位 of 1. 3. 11. 13.
    ("泰安市人工智能OPC实施意见里，市财政局参与哪些举措？", TAIAN, {"1", "3", "11", "13"}),
    # 武汉: 市科创局 in the 责任单位 of 三、五、七、八、九、十、
    ("武汉市科创局负责哪些措施？", WUHAN, {"3", "5", "7", "8", "9", "10"}),
    # 威海: 财政局 in the closing parenthesis of 7. 14. 19.
    ("威海市财政局参与哪些措施？", SEED, {"7", "14", "19"}),
    # 泰安: 市工业和信息化局 in 3. 5. 8. 9. 10. (the province's 省工业和信息化厅 is another body)
    ("泰安市工信局参与哪些举措？", TAIAN, {"3", "5", "8", "9", "10"}),
])
def test_a_place_and_department_list_that_documents_measures(client, question, doc_id, keys):
    body = ask(client, question)
    assert body["intent"] == "department"
    assert keys_by_doc(body) == {doc_id: keys}, body["answer"][:400]
    assert has_count(body["answer"], len(keys))


# --- 2. an ambiguous measure number: every document that has it, grouped and named, with a hint ---------

@pytest.mark.parametrize("question,expected", [
    # 第五条: 海珠区 第五条 全力支持打造OPC加速器; 山东 5. 建设数字化转型促进中心; 泰安 5. 打造综合服务平台;
    # 威海 5. 培育壮大新兴产业; 武汉 五、大力发展OPC生态社区. 环翠区 and 烟台 have four measures only.
    ("第五条是什么内容？", {HAIZHU: "全力支持打造OPC加速器", SHANDONG: "建设数字化转型促进中心",
                          TAIAN: "打造综合服务平台", SEED: "培育壮大新兴产业", WUHAN: "大力发展OPC生态社区"}),
    ("措施3讲的是什么？", {HAIZHU: "打造智能体服务专区", SHANDONG: "加强数字化转型金融支持", TAIAN: "优化算力资源供给",
                        SEED: "加强运行监测协调", HUANCUI: "支持工业互联网平台应用", WUHAN: "支持模型工具研发应用",
                        YT24: "支持数字化改造", YT26: "支持数字化改造"}),
    ("第十条规定了什么？", {HAIZHU: "打造金融综合服务", TAIAN: "构建协同发展生态", SEED: "做强数字经济核心产业",
                         WUHAN: "营造浓厚创新创业氛围"}),
])
def test_an_ambiguous_number_is_answered_for_every_document_that_has_it(client, question, expected):
    body = ask(client, question)
    assert body["found"] is True
    assert {c["doc_id"]: c["measure_title"] for c in body["citations"]} == expected
    number = body["citations"][0]["measure_key"]
    assert all(c["measure_key"] == number for c in body["citations"])
    answer = body["answer"]
    # grouped: each document's block is one run of citations, each named in the answer
    order = [c["doc_id"] for c in body["citations"]]
    assert len(order) == len(set(order))
    for c in body["citations"]:
        assert f"《{c['doc_short_title']}》" in answer
        assert c["measure_title"] in answer
        if c["doc_number"]:
            assert c["doc_number"] in answer
    # a hint how to narrow it down
    assert re.search(r"(写明|指明|注明|说明|加上|指定)[^。]{0,20}(文件|地区|文号|名称)", answer), answer[-200:]


# --- 3. document facts per document ---------------------------------------------------------------------

@pytest.mark.parametrize("question,numbers", [
    ("武汉OPC那个文件的文号是什么？", {WUHAN}),
    ("泰安支持人工智能OPC的实施意见文号是多少？", {TAIAN}),
    ("专精特新那个文件的文号是什么？", {YT24, YT26}),  # two versions: both 文号
    ("威海的文件文号是多少？", {SEED}),  # 威海's own document, not the province's
])
def test_the_doc_number_of_a_document_named_by_topic_or_place(client, question, numbers):
    body = ask(client, question)
    assert body["found"] is True and body["intent"] == "docfact"
    for doc_id in numbers:
        assert DOC_NUMBER[doc_id] in body["answer"]
    others = [n for d, n in DOC_NUMBER.items() if n and d not in numbers]
    assert [n for n in others if n in body["answer"]] == [], body["answer"]
    assert docs_of(body) == numbers


def test_how_many_measures_counts_per_document_and_in_total(client):
    body = ask(client, "一共有多少条措施？")
    answer = body["answer"]
    assert body["found"] is True
    total = sum(MEASURE_COUNT.values())  # 81
    assert re.search(rf"(?<!\d){total}\s*条", answer), answer[:200]
    for doc_id, n in MEASURE_COUNT.items():
        line = line_naming(answer, doc_id, short(body, doc_id))
        assert has_count(line, n), (doc_id, n, line)


@pytest.mark.parametrize("question,doc_id", [
    ("海珠区OPC措施有多少条？", HAIZHU),
    ("泰安市的OPC实施意见一共有几条措施？", TAIAN),  # 1.…13. (发展目标 and 组织保障 carry no number)
    ("环翠区的文件有几条措施？", HUANCUI),  # 一、…四、
])
def test_how_many_measures_one_document_has(client, question, doc_id):
    body = ask(client, question)
    assert body["found"] is True
    n = MEASURE_COUNT[doc_id]
    assert has_count(body["answer"], n), body["answer"][:300]
    assert docs_of(body) == {doc_id}, cited(body)


@pytest.mark.parametrize("question", ["现在库里有哪些文件？", "有哪些文件？"])
def test_the_list_of_documents_gives_doc_numbers_and_dates(client, question):
    body = ask(client, question)
    answer = body["answer"]
    assert body["found"] is True
    assert docs_of(body) == set(MAIN_DOCS)
    for doc_id in MAIN_DOCS:
        mark = DOC_NUMBER[doc_id] or "海珠区"  # 海珠区's notice carries no 文号
        line = next((line for line in answer.splitlines() if mark in line), "")
        assert date_in(line, ISSUED[doc_id]), (doc_id, line)
    # newest first
    positions = [answer.index(DOC_NUMBER[d]) for d in (HUANCUI, SEED, TAIAN, SHANDONG, WUHAN, YT26, YT24)]
    assert positions == sorted(positions)


def test_the_newest_document(client):
    body = ask(client, "最新的文件是哪个？")
    first = body["answer"].splitlines()[0]
    assert "海珠区" in first and date_in(first, "2026-06-24"), first  # 广州市海珠区…（试行）, 2026年6月24日


# --- 4. departments across documents: grouped, counted, levels apart ---------------------------------

def test_a_department_across_documents_is_grouped_by_document_with_counts(client):
    body = ask(client, "财政局负责哪些措施？")
    assert body["intent"] == "department"
    expected = {TAIAN: {"1", "3", "11", "13"}, SEED: {"7", "14", "19"}, WUHAN: {"4", "9"},
                YT24: {"1", "4"}, YT26: {"1", "4"}, HUANCUI: {"1", "4"}}
    by_doc = keys_by_doc(body)
    assert {d: k for d, k in by_doc.items() if d in expected} == expected
    assert SHANDONG not in by_doc  # 省财政厅 is no 财政局
    for doc_id, keys in expected.items():
        line = line_naming(body["answer"], doc_id, short(body, doc_id))
        assert has_count(line, len(keys)), (doc_id, line)
    huancui = line_naming(body["answer"], HUANCUI, None)
    assert "区财政局" in huancui and "市财政局" not in huancui


def test_the_provincial_bureau_is_not_the_citys(client):
    body = ask(client, "省财政厅负责哪些措施？")
    # 山东: （省财政厅…） in 1. 2. 3.
    assert keys_by_doc(body) == {SHANDONG: {"1", "2", "3"}}
    assert has_count(body["answer"], 3)


def test_the_citys_bureau_is_not_the_districts(client):
    body = ask(client, "市财政局负责哪些措施？")
    by_doc = keys_by_doc(body)
    assert by_doc == {TAIAN: {"1", "3", "11", "13"}, SEED: {"7", "14", "19"}, WUHAN: {"4", "9"},
                      YT24: {"1", "4"}, YT26: {"1", "4"}}, body["answer"][:600]


@pytest.mark.parametrize("question,keys", [
    ("环翠区财政局负责哪些？", {"1", "4"}),  # （区工业和信息化局、财政局…）一、 and （区财政局负责）四、
    ("环翠区工信局参与哪些举措？", {"1", "2", "3"}),  # 区工业和信息化局: 一、二、三、
])
def test_a_districts_bureau_is_the_districts(client, question, keys):
    body = ask(client, question)
    assert body["intent"] == "department"
    assert keys_by_doc(body) == {HUANCUI: keys}, body["answer"][:600]


def test_the_department_index_keeps_levels_apart(client):
    departments = {d["name"]: {(m["doc_id"], m["key"]) for m in d["measures"]}
                   for d in client.get("/api/departments").json()["departments"]}
    assert departments["省财政厅"] == {(SHANDONG, "1"), (SHANDONG, "2"), (SHANDONG, "3")}
    assert departments["区财政局"] == {(HUANCUI, "1"), (HUANCUI, "4")}
    assert {d for d, _ in departments["市财政局"]} == {TAIAN, SEED, WUHAN, YT24, YT26}
    assert {d for d, _ in departments["省工业和信息化厅"]} == {SHANDONG}
    assert departments["区工业和信息化局"] == {(HUANCUI, "1"), (HUANCUI, "2"), (HUANCUI, "3")}


# --- 5. places follow the administrative hierarchy ----------------------------------------------------

@pytest.mark.parametrize("question,key,fragment", [
    # 国发〔2018〕39号 （三）: 小微企业…可申请最高不超过300万元的创业担保贷款
    ("成都市的小微企业新招了一批人，创业担保贷款最多能贷多少？", "3", "300万元"),
    # （一）: 对不裁员或少裁员的参保企业，可返还其上年度实际缴纳失业保险费的50%
    ("我们是广州海珠区的企业，今年不裁员，失业保险费能返还多少？", "1", "失业保险费的50%"),
    ("广州市天河区的企业不裁员，稳岗返还标准是多少？", "1", "失业保险费的50%"),
    # （六）: 所需经费按规定从企业职工教育经费中列支
    ("兰州的企业组织职工在岗培训，经费从哪里列支？", "6", "企业职工教育经费"),
])
def test_a_state_council_document_applies_everywhere(national, question, key, fragment):
    body = ask(national, question)
    assert body["found"] is True
    assert cited(body)[0] == (EMPLOY, key), body["answer"][:300]
    assert fragment in body["answer"]


@pytest.mark.parametrize("question", ["就业见习补贴每人每个月发多少钱？", "失业了以后失业保险金一个月能领多少钱？"])
def test_money_a_state_council_document_does_not_state_is_said_to_be_unwritten(national, question):
    # 国发〔2018〕39号 names 就业见习补贴 and 失业保险 but states no monthly amount in 元: quoting its measures would
    # answer what it does not hold
    body = ask(national, question)
    assert body["found"] is False and body["citations"] == [], body["answer"][:300]
    assert "没有写明具体金额" in body["answer"], body["answer"][:300]


@pytest.mark.parametrize("question", ["上海的人工智能一人公司有什么补贴？", "我在成都开了个一人公司，算力能补多少？"])
def test_a_defined_term_of_another_places_document_is_foreign_to_a_place_without_one(national, question):
    # 海珠区's document defines OPC as 人工智能一人公司; the State Council's document, which applies in 上海, has
    # neither: the question names 海珠区's program, not anything 上海's documents hold
    body = ask(national, question)
    assert body["found"] is False and body["citations"] == [], body["answer"][:300]
    assert "OPC" in body["answer"] and "海珠区" in body["answer"], body["answer"]


@pytest.mark.parametrize("question,doc_id,key,fragment", [
    # 山东 1.: 为中小企业免费提供数字化诊断服务
    ("我们是泰安市岱岳区的中小企业，想做数字化诊断，有什么政策？", SHANDONG, "1", "免费提供数字化诊断服务"),
    # 山东 3.: 按照贷款利息的50%给予贴息，单户每年最高50万元
    ("烟台市芝罘区的企业数字化转型贷款有贴息吗？", SHANDONG, "3", "单户每年最高50万元"),
    # 武汉 四、: 给予2年且每月不超过2000元的免租优惠 (a city's document applies to its districts)
    ("武汉市江汉区的OPC创业者租人才公寓有什么优惠？", WUHAN, "4", "每月不超过2000元"),
])
def test_a_higher_level_document_applies_to_the_places_below(client, question, doc_id, key, fragment):
    body = ask(client, question)
    assert body["found"] is True
    assert (doc_id, key) in cited(body), body["answer"][:300]
    assert fragment in body["answer"]


def test_a_sibling_districts_document_does_not_apply(client):
    """文登区 is covered by 威海市 and 山东省, not by 环翠区 (another district of 威海)."""
    body = ask(client, "威海市文登区的企业做数字化改造，有什么支持？")
    assert body["found"] is True
    assert HUANCUI not in docs_of(body)
    assert docs_of(body) <= {SEED, SHANDONG}
    assert (SHANDONG, "2") in cited(body)  # 按照项目软硬件投资额的20%给予最高300万元补助
    assert "最高300万元补助" in body["answer"]


@pytest.mark.parametrize("question,holds", [
    ("广州市天河区有没有OPC算力补贴？", "海珠区"),  # 广州市: only 海珠区 has a document
    ("湖北省宜昌市有没有OPC扶持政策？", "武汉"),  # 湖北省: only 武汉市 has a document
    ("我们在江苏省苏州市吴江区，OPC企业有算力补贴吗？", None),  # nothing in 江苏 at all
    ("成都市有什么人工智能OPC补贴？", None),
    # a place named as a model to compare with is not the asker's (assistant/data/words/place_as_market.txt)
    ("天河区有没有类似海珠那样的OPC算力补贴？", "海珠区"),
])
def test_a_place_no_document_covers_is_refused(client, question, holds):
    body = ask(client, question)
    assert body["found"] is False
    assert body["citations"] == []
    if holds:
        assert holds in body["answer"], body["answer"]
    for word in ("琶洲", "算力服务券", "20万元"):  # nothing of another place's measures is passed off
        assert word not in body["answer"]


# --- 6. versions and validity --------------------------------------------------------------------------

@pytest.mark.parametrize("question,key,fragment", [
    ("烟台对专精特新小巨人企业奖励多少？", "1", "一次性奖励50万元"),  # 2024: 30万元
    ("烟台专精特新企业数字化改造补助比例是多少？", "3", "设备投资额的15%给予最高80万元补助"),  # 2024: 10%, 50万元
    ("烟台专精特新企业首贷贴息比例是多少？", "4", "贷款利息的50%给予贴息"),  # 2024: 30%
])
def test_the_newest_version_in_force_is_preferred_and_the_older_mentioned(client, question, key, fragment):
    body = ask(client, question)
    assert body["found"] is True
    assert cited(body)[0] == (YT26, key), body["answer"][:300]
    assert fragment in body["answer"]
    assert DOC_NUMBER[YT24] in body["answer"]  # the older version is mentioned
    if YT24 in docs_of(body):
        assert EXPIRED_FLAG.search(body["answer"])


@pytest.mark.parametrize("question,key,fragment", [
    ("烟台2024年专精特新措施对省级专精特新企业奖励多少？", "2", "一次性奖励10万元"),
    ("烟政办字〔2024〕8号第一条是什么？", "1", "一次性奖励30万元"),
])
def test_an_expired_document_is_flagged(client, question, key, fragment):
    body = ask(client, question)
    assert cited(body)[0] == (YT24, key)
    assert fragment in body["answer"]
    assert body["citations"][0]["doc_expires_on"] == "2025-12-31"  # 有效期至2025年12月31日
    assert EXPIRED_FLAG.search(body["answer"]), body["answer"][:200]


def test_validity_follows_the_clock(client, on):
    """海珠区: 自印发之日起施行，试行一年 (印发 2026年6月24日): in force on 2026-12-01, ended by 2027-08-01."""
    question = "海珠区OPC大赛活动最高给多少支持？"
    before = ask(client, question)
    assert (HAIZHU, "7") in cited(before)
    assert "给予最高50万元支持" in before["answer"]
    assert not EXPIRED_FLAG.search(before["answer"]), before["answer"][:200]
    on(date(2027, 8, 1))
    after = ask(client, question)
    assert (HAIZHU, "7") in cited(after)
    assert "给予最高50万元支持" in after["answer"]
    assert after["citations"][0]["doc_expires_on"] == "2027-06-23"
    assert EXPIRED_FLAG.search(after["answer"]), after["answer"][:200]
    # a measure asked by number is flagged too
    by_number = ask(client, "海珠区OPC措施第六条讲什么？")
    assert cited(by_number) == [(HAIZHU, "6")] and "每年最高扶持不超过30万元" in by_number["answer"]
    assert EXPIRED_FLAG.search(by_number["answer"])


# --- 7. follow-ups across documents --------------------------------------------------------------------

def turn(question: str, answer: str, doc_id: str, key: str) -> list[dict]:
    return [{"role": "user", "content": question},
            {"role": "assistant", "content": answer, "citations": [{"doc_id": doc_id, "key": key}]}]


@pytest.mark.parametrize("history,question,doc_id,key,expected", [
    (turn("泰安的OPC社区有什么支持？", "根据《泰安市OPC实施意见》第1条「布局建设OPC社区」：对入驻OPC社区并符合条件的OPC主体，提供办公工位……",
          TAIAN, "1"), "这条由谁负责？", TAIAN, "1",
     ["市发展改革委", "市科技局", "市财政局", "市人力资源社会保障局"]),
    (turn("数字化车间有奖励吗？", "根据《环翠区制造业数字化转型若干措施》第2条「支持建设数字化车间」：对新认定的市级以上数字化车间，给予一次性奖励20万元。",
          HUANCUI, "2"), "这条由哪个部门负责？", HUANCUI, "2", ["区工业和信息化局"]),
    (turn("数字化转型贷款有贴息吗？", "根据《山东省中小企业数字化转型若干措施》第3条「加强数字化转型金融支持」：对中小企业数字化转型贷款按照贷款利息的50%给予贴息……",
          SHANDONG, "3"), "这条由谁负责？", SHANDONG, "3",
     ["省财政厅", "省地方金融管理局", "中国人民银行山东省分行"]),
])
def test_who_is_responsible_follows_the_cited_document(client, history, question, doc_id, key, expected):
    body = ask(client, question, history)
    assert cited(body) == [(doc_id, key)]
    for department in expected:
        assert department in body["answer"]


@pytest.mark.parametrize("history,question,doc_id,key,fragment", [
    (turn("烟台2024年专精特新措施第一条是什么？", "根据《烟台市支持专精特新中小企业高质量发展若干措施（2024年）》（烟政办字〔2024〕8号）第1条：对新认定的国家级专精特新“小巨人”企业，给予一次性奖励30万元。",
          YT24, "1"), "第二条呢？", YT24, "2", "一次性奖励10万元"),
    (turn("武汉OPC算力补贴怎么给？", "根据《武汉市OPC若干措施》（武政规〔2026〕4号）第1条「强化算力服务支撑」：使用算力服务费用的50%给予最高20万元补助……",
          WUHAN, "1"), "第二条呢？", WUHAN, "2", "最高200万元补助"),
    (turn("海珠区OPC措施第三条是什么？", "根据《海珠区OPC措施》第三条「打造智能体服务专区」：为OPC主体推介价格合适的孵化空间……",
          HAIZHU, "3"), "第四条呢？", HAIZHU, "4", "最高不超过150万元扶持"),
])
def test_another_number_follows_the_cited_document(client, history, question, doc_id, key, fragment):
    body = ask(client, question, history)
    assert cited(body) == [(doc_id, key)], body["answer"][:300]
    assert fragment in body["answer"]


# --- 8. with several documents, every cited measure names its document -----------------------------------

NAMING_QUESTIONS = [
    "创业担保贷款有什么政策？",  # search over 泰安 and 武汉
    "数字化改造有什么补助？",  # search over 山东, 烟台
    "哪些措施涉及算力？",  # list
    "财政局负责哪些措施？",  # department
    "措施3讲的是什么？",  # measure in many documents
    "烟台对专精特新小巨人企业奖励多少？",  # versions
]

CN = "一二三四五六七八九十"


def chinese(n: int) -> str:
    if n <= 10:
        return CN[n - 1]
    if n < 20:
        return "十" + CN[n - 11]
    return CN[n // 10 - 1] + "十" + (CN[n % 10 - 1] if n % 10 else "")


def expected_label(doc_id: str, key: str) -> str:
    n = int(key)
    if doc_id in (SEED, TAIAN, SHANDONG):
        return f"{n}."
    if doc_id in (WUHAN, HUANCUI, YT24, YT26):
        return f"{chinese(n)}、"
    if doc_id == HAIZHU:
        return f"第{chinese(n)}条"
    return f"（{chinese(n)}）"


@pytest.mark.parametrize("question", NAMING_QUESTIONS)
def test_every_cited_measure_names_its_document(client, question):
    body = ask(client, question)
    assert body["found"] is True and body["citations"]
    for c in body["citations"]:
        assert c["doc_short_title"] and PLACE_WORD[c["doc_id"]] in c["doc_short_title"], c
        assert f"《{c['doc_short_title']}》" in body["answer"]
        assert c["doc_number"] == DOC_NUMBER[c["doc_id"]]
        if c["doc_number"]:
            assert c["doc_number"] in body["answer"]
        assert c["measure_key"] and c["measure_key"] == c["key"]
        if c["measure_key"].isdigit():
            assert c["measure_label"] == expected_label(c["doc_id"], c["measure_key"]), c
        assert c["measure_title"] in body["answer"]


def test_two_versions_are_not_named_alike(client):
    """The two 烟台 titles differ only by （2024年）/（2026年）: a name without the year names both."""
    documents = {d["doc_id"]: d for d in client.get("/api/measures").json()["documents"]}
    assert set(documents) == set(MAIN_DOCS)
    for doc_id, d in documents.items():
        assert d["short_title"] and "（）" not in d["short_title"], d["short_title"]
        assert d["doc_number"] == DOC_NUMBER[doc_id]
    assert documents[YT24]["short_title"] != documents[YT26]["short_title"]


def test_a_place_with_documents_of_its_own_gets_its_own_measure_beside_those_above(client):
    # 环翠区's 数字化转型 measures apply there, and so do 威海's and 山东省's, which may rank first
    body = ask(client, "环翠区的企业能享受哪些数字化支持？")
    docs = [c["doc_id"] for c in body["citations"]]
    assert HUANCUI in docs, docs
    assert set(docs) <= {HUANCUI, SEED, SHANDONG}


def test_a_place_compared_with_leaves_the_askers_own_documents(client):
    # 像泰安那样: 泰安 is the model, 武汉 the asker's place, whose own measure on 算力 answers
    body = ask(client, "武汉有没有像泰安那样的算力支持？")
    assert body["found"] is True and body["citations"][0]["doc_id"] == WUHAN, body["answer"][:200]
    assert TAIAN not in docs_of(body), docs_of(body)


def test_which_documents_have_expired(client):
    # 烟台 2024 (烟政办字〔2024〕8号) ran to 2025-12-31; every other document is in force on TODAY
    body = ask(client, "哪些文件已经过期了？")
    assert body["intent"] == "documents"
    assert [c["doc_id"] for c in body["citations"]] == [YT24]
    body = ask(client, "现行有效的文件有哪些？")
    assert YT24 not in {c["doc_id"] for c in body["citations"]} and len(body["citations"]) == len(MAIN_DOCS) - 1


def test_a_version_named_by_its_year_answers_from_that_version(client):
    # 烟台 2024: 对新认定的国家级专精特新“小巨人”企业，给予一次性奖励30万元 (expired, still asked for by name)
    body = ask(client, "烟台2024年版的小巨人奖励是多少？")
    assert {c["doc_id"] for c in body["citations"]} == {YT24}, body["answer"][:200]
    assert "30万元" in body["answer"]


def test_the_documents_of_a_place_without_its_own_list_those_above_and_say_so(client):
    body = ask(client, "济南有哪些政策？")  # 济南 is in 山东; only 山东省's document applies (no national one here)
    assert body["intent"] == "documents"
    assert [c["doc_id"] for c in body["citations"]] == [SHANDONG]
    assert body["answer"].startswith("没有济南市本地的文件")


@pytest.mark.parametrize("question,key", [("上一条呢？", "17"), ("下一条是什么？", "19")])
def test_the_measure_before_or_after_the_one_cited(client, question, key):
    first = ask(client, "威海的行动方案第18条是什么？")
    history = [{"role": "user", "content": "威海的行动方案第18条是什么？"},
               {"role": "assistant", "content": first["answer"],
                "citations": [{"doc_id": c["doc_id"], "key": c["measure_key"]} for c in first["citations"]]}]
    body = ask(client, question, history)
    assert [(c["doc_id"], c["measure_key"]) for c in body["citations"]] == [(SEED, key)]


def test_the_measure_after_the_last_one_is_said_to_be_none(client):
    first = ask(client, "威海的行动方案第21条是什么？")
    history = [{"role": "user", "content": "威海的行动方案第21条是什么？"},
               {"role": "assistant", "content": first["answer"],
                "citations": [{"doc_id": c["doc_id"], "key": c["measure_key"]} for c in first["citations"]]}]
    body = ask(client, "下一条呢？", history)  # was searched as a question of its own
    assert body["found"] is False and body["citations"] == [] and "没有第22条" in body["answer"], body["answer"]


def test_two_subjects_asked_of_a_place_with_its_own_document_come_from_it(client):
    # 山东省's document applies in 威海 too, but 威海's own measures on each subject are what is asked
    body = ask(client, "威海在人才和金融方面分别有什么支持？")
    cited = [(c["doc_id"], c["measure_key"]) for c in body["citations"]]
    assert {d for d, _ in cited} == {SEED} and (SEED, "15") in cited and (SEED, "14") in cited, cited



def test_a_figure_line_over_two_documents_names_whose_figure_it_is(client):
    body = ask(client, "武汉和海珠的算力补贴分别是多少？")
    line = next(line for line in body["answer"].splitlines() if line.startswith("相关目标"))
    # each document named before its first figure (both set 最高20万元: without the names the line is ambiguous)
    assert "《武汉市OPC若干措施》：" in line and "《海珠区OPC措施》：" in line, line
    assert line.index("《武汉市OPC若干措施》") < line.index("50%") < line.index("《海珠区OPC措施》"), line
    assert "以下称" not in line  # a phrase cut inside a bracket starts after it


@pytest.mark.parametrize("question", ["海珠区的AI一人公司接单多能拿多少奖励？", "海珠区的一人公司能拿到什么奖励？"])
def test_a_documents_purpose_clause_is_not_cited_for_what_it_does_not_say(client, question):
    # 第一条 为抢抓…前瞻布局“人工智能OPC（…一人公司）”…: it names every word of the title, and nothing asked
    body = ask(client, question)
    assert body["found"] is True and cited(body), body["answer"][:300]
    assert (HAIZHU, "1") not in cited(body), body["answer"][:300]
    assert cited(body)[0][0] == HAIZHU


def test_the_documents_held_are_listed_however_jieba_cuts_the_count_word(client):
    # jieba cuts 一共收录 as 一 / 共收录: neither names a topic, so the question asks for the documents held
    body = ask(client, "你这里一共收录了哪些政策文件？")
    assert body["intent"] == "documents" and len(body["citations"]) == len(MAIN_DOCS), body["answer"][:300]


def test_a_unit_asked_what_it_does_about_a_subject_is_answered_from_the_measure(national):
    # no word of responsibility (负责, 参与 …): what the measure says is asked, not the unit's list; and a lookup
    # with a topic keeps only the blocks whose measures hold it (人社部 is also 武汉's and 泰安's 人社局 elsewhere)
    body = ask(national, "人社部对培训合格的失业人员给什么补贴？")
    assert body["intent"] == "search" and cited(body)[0] == (EMPLOY, "7"), body["answer"][:300]
    body = ask(national, "人社部负责哪些跟失业人员培训有关的措施？")
    assert body["intent"] == "department" and (EMPLOY, "7") in cited(body), body["answer"][:300]
    assert all(doc == EMPLOY for doc, _ in cited(body)), body["answer"][:300]
