"""Which unit a department question asks about, when the words that name the document stand beside it.

- A document's title may itself hold a unit's name: 《国务院办公厅关于对…真抓实干成效明显地方进一步加大激励支持力度的
  通知》 (国办发〔2018〕117号) names 国务院办公厅. …通知里财政部负责什么？ asks about 财政部, not the issuer.
- Naming words left in a question (OPC, 实施意见) are not a topic that narrows the unit's list, nor one no
  measure speaks of (which used to refuse the question).
- Units are blanked longest first across documents: 国家发展改革委 (117号) is not read as 发展改革委 (the
  bonded-zone opinions, 国发〔2019〕3号) plus a topic 国家.

How the answer to 由谁负责 reads:

- asked for the 牵头单位, the answer names the lead and counts the others (牵头单位：财政部，另有3个单位参与),
  which the citation lists;
- where each clause of a measure has its own 责任单位 (武汉), the units of the clause asked about;
- 由哪些单位负责 asks for units as 由哪些部门负责 does;
- units of two cited measures are never merged into one list.

Every expected key below was read off the documents' text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus_client import ask, client_over, corpus_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "corpus" / "samples"
SUPERVISION = "national_2018_supervision-incentive-measures"
BONDED = "national_2019_bonded-zone-opinions"
TAIAN = "taian_2026_ai-opc-opinions"
WUHAN = "wuhan_2026_ai-opc-measures"
EMPLOY = "national_2018_employment-opinions"
TAICANG = "taicang_2026_ai-opc-action-plan"


@pytest.fixture(scope="module")
def client(tmp_path_factory, policyqa_home):
    files = [SAMPLES / f"{doc}.txt" for doc in (SUPERVISION, BONDED, TAIAN, WUHAN, EMPLOY, TAICANG)]
    folder = corpus_of(tmp_path_factory.mktemp("department-naming"), files)
    (folder / f"{FUND}.txt").write_text(FUND_TEXT, encoding="utf-8")
    (folder / f"{SUZHOU}.txt").write_text(SUZHOU_TEXT, encoding="utf-8")
    with client_over(folder, policyqa_home) as test_client:
        yield test_client


# a plan of the city above 太仓 that names 太仓's government as a 配合单位
SUZHOU = "suzhou_port_plan"
SUZHOU_TEXT = """苏州市港口物流提升工作方案

一、重点任务
1. 建设港口物流园区。推动太仓港建设集装箱物流园区，新增堆场面积10万平方米。
牵头单位：市交通运输局；配合单位：太仓市人民政府、市商务局
2. 发展海铁联运。开通海铁联运班列5条。
牵头单位：市交通运输局；配合单位：苏州海关
"""


# a 办法 whose articles name their units only in the text (no 责任单位 line anywhere)
FUND = "zhejiang_fund_rules"
FUND_TEXT = """浙江省中小企业专项资金管理办法

第一条 为规范和加强浙江省中小企业发展专项资金（以下简称专项资金）管理，制定本办法。
第二条 本办法适用于省级财政安排的专项资金。
第三条 省财政厅负责专项资金的预算管理，会同省经济和信息化厅制定资金分配方案。
第四条 省经济和信息化厅负责提出年度支持重点，组织项目申报和审核。
第五条 对国家级专精特新“小巨人”企业给予一次性奖励100万元。
第六条 评审结果在省经济和信息化厅网站公示，公示期不少于5个工作日。
第七条 对企业给予补助：（一）开展技术改造的，按投资额的10%给予补助；（二）购置检测设备开展智能化改造、员工九人以下者，每案最高30万元；员工十人以上者，每案最高50万元。
"""


def keys_of(body: dict, doc_id: str) -> set[str]:
    return {c["measure_key"] for c in body["citations"] if c["doc_id"] == doc_id}


def test_a_unit_in_the_documents_title_is_not_the_unit_asked_about(client):
    # 财政部 in 五、六、十三、十八、二十一、二十二、二十四 … 二十九 of 117号; 国务院办公厅 only in its closing item
    body = ask(client, "国务院办公厅对真抓实干成效明显地方通知里财政部负责什么？")
    assert body["intent"] == "department"
    assert {c["doc_id"] for c in body["citations"]} == {SUPERVISION}
    assert keys_of(body, SUPERVISION) == {"5", "6", "13", "18", "21", "22", "24", "25", "26", "27", "28", "29"}
    assert "财政部负责或参与的措施共12项" in body["answer"]


@pytest.mark.parametrize("question,keys", [
    # 泰安: 市财政局 in the 责任单位 of 1. 3. 11. 13.
    ("泰安市财政局在OPC实施意见里负责什么？", {"1", "3", "11", "13"}),
    # 泰安: 市科技局 in 1. 2. 5. 7. 8. 9. 10. 13.
    ("泰安的OPC文件中市科技局管哪些事？", {"1", "2", "5", "7", "8", "9", "10", "13"}),
])
def test_naming_words_left_in_the_question_do_not_narrow_or_refuse(client, question, keys):
    body = ask(client, question)
    assert body["found"] is True, body["answer"]
    assert body["intent"] == "department"
    assert keys_of(body, TAIAN) == keys
    assert "涉及“" not in body["answer"]


def test_a_longer_unit_name_is_not_split_into_a_shorter_one_and_a_topic(client):
    body = ask(client, "国家发展改革委负责哪些任务？")
    assert body["intent"] == "department"
    assert "涉及“" not in body["answer"]  # no stray 国家 narrowing the bonded-zone document's list
    # 国家发展改革委 in 三、四、七、十四、十六、十七、十八、二十三、二十四、二十六 of 117号
    assert keys_of(body, SUPERVISION) == {"3", "4", "7", "14", "16", "17", "18", "23", "24", "26"}


def first_line(body: dict) -> str:
    return body["answer"].splitlines()[0]


def test_asked_for_the_lead_the_first_line_names_the_lead(client):
    # 国发〔2018〕39号 （三）…（财政部、人力资源社会保障部、人民银行、银保监会负责）, and （一） says
    # 列第一位者为牵头单位，下同
    body = ask(client, "国务院就业意见第3条的牵头单位是谁？")
    assert first_line(body).startswith("牵头单位：财政部，另有3个单位参与（见"), body["answer"][:200]
    assert "人民银行" not in body["answer"]  # asked for the lead: the others are counted, listed in the citation
    assert set(body["citations"][0]["departments"]) == {"财政部", "人力资源社会保障部", "人民银行", "银保监会"}
    from assistant.answers import unsupported_figures
    from assistant.models import Citation

    citations = [Citation(**c) for c in body["citations"]]
    assert unsupported_figures(body["answer"], citations) == []  # 另有3个 is a count the answer made
    # 泰安's 责任单位 name no lead: the line says so and gives the units
    body = ask(client, "泰安OPC实施意见第3条的牵头单位是谁？")
    assert first_line(body).startswith("未列明牵头单位，责任单位：市大数据局、市工业和信息化局、市财政局"), body["answer"][:200]


def test_the_units_of_the_clause_asked_about(client):
    # 武汉 一、: 设立算力服务券…（责任单位：市数据局、市经信局） then 各区…（责任单位：各区人民政府…）
    body = ask(client, "武汉的算力服务券由哪个部门负责？")
    assert [c["measure_key"] for c in body["citations"]][:1] == ["1"]
    line = first_line(body)
    assert line.startswith("责任单位：市数据局、市经信局（"), line
    assert "各区人民政府" in line.split("整体")[1]  # the whole measure's units are given, and said to be such


@pytest.mark.parametrize("question", ["泰安OPC创业担保贷款贴息的事由哪些单位负责？", "泰安OPC创业担保贷款贴息归哪个机构管？"])
def test_which_units_asks_for_departments_and_keeps_each_measures_own(client, question):
    body = ask(client, question)
    assert body["citations"][0]["doc_id"] == TAIAN and body["citations"][0]["measure_key"] == "11"
    line = first_line(body)
    assert "市人力资源社会保障局、市财政局、中国人民银行泰安市分行" in line, line
    if len(body["citations"]) > 1:  # each measure's units after its own name, none lent to another
        assert "第11条「优化创业担保贷款服务」：责任单位：市人力资源社会保障局" in line, line


def test_units_after_a_lead_are_not_labelled_leads_too(client):
    # 太仓: each task names its 牵头单位 and then its 责任单位; 市人社局 is never a lead
    body = ask(client, "太仓人社局负责什么？")
    assert body["intent"] == "department" and body["citations"]
    assert "（牵头）" not in body["answer"] and "（责任单位）" in body["answer"]


def test_which_measures_a_unit_leads(client):
    everything = ask(client, "太仓市工信局负责哪些任务？")
    led = ask(client, "太仓市工信局牵头哪些任务？")
    led_keys = {c["measure_key"] for c in led["citations"]}
    assert led_keys and led_keys < {c["measure_key"] for c in everything["citations"]}
    lines = [line for line in led["answer"].splitlines() if line[:1].isdigit()]
    assert lines and all(line.endswith("（牵头）") for line in lines)
    # a document that names no lead says so, and lists what the unit answers for
    body = ask(client, "泰安市财政局牵头哪些任务？")
    assert "未区分牵头与配合" in body["answer"] and {c["measure_key"] for c in body["citations"]} == {"1", "3", "11", "13"}


def test_asked_for_the_lead_and_the_others_both_are_named(client):
    body = ask(client, "国务院就业意见第3条由谁牵头，还有哪些单位配合？")
    line = first_line(body)
    assert "财政部" in line and "人民银行" in line and "银保监会" in line, line


def test_two_topics_keep_each_documents_units(client):
    # 创业担保贷款 is in 国发〔2018〕39号 （三）, 泰安 11. and 武汉 九、; each keeps its own units
    body = ask(client, "创业担保贷款和算力补贴分别由哪些部门负责？")
    first = body["answer"].splitlines()[0]
    assert "第11条「优化创业担保贷款服务」，责任单位：市人力资源社会保障局、市财政局、中国人民银行泰安市分行" in first
    assert "第3条「加大创业担保贷款贴息及奖补政策支持力度」，责任单位：财政部牵头" in first


@pytest.mark.parametrize("question,unit,same_kind", [
    ("市火星局负责哪些措施？", "市火星局", None),
    ("哪些措施由济南市财政局负责？", "济南市财政局", "市财政局"),  # 泰安's 市财政局 is another city's
])
def test_a_unit_no_document_names_is_said_to_be_absent(client, question, unit, same_kind):
    body = ask(client, question)
    assert body["found"] is False and body["citations"] == []
    assert f"没有由“{unit}”负责或参与的措施" in body["answer"]
    if same_kind:
        assert f"同类单位有：{same_kind}" in body["answer"] and "不能代替" in body["answer"]


def test_a_unit_named_only_in_the_articles_text_is_found_there(client):
    # no article lists 省财政厅 as its 责任单位; the text says what it does: quoted, and said to be the text
    body = ask(client, "省经济和信息化厅负责什么？")
    assert body["found"] is True and keys_of(body, FUND) == {"3", "4", "6"}, body["answer"]
    assert "正文中写到省经济和信息化厅" in body["answer"] and "未列为其责任单位" in body["answer"]
    body = ask(client, "浙江省财政厅负责哪些条款？")  # the articles write 省财政厅
    assert keys_of(body, FUND) == {"3"} and "省财政厅负责专项资金的预算管理" in body["answer"]
    # a unit of another place is not found through the level alone (泰安's documents say 市财政局)
    body = ask(client, "济南市财政局负责哪些措施？")
    assert body["found"] is False and "没有由“济南市财政局”" in body["answer"]


def test_a_term_the_document_abbreviates_finds_the_article_on_what_is_asked(client):
    # 专项资金 (以下简称) is used by every article: the one defining it is not favoured
    body = ask(client, "专项资金评审结果公示几天？")
    assert body["citations"][0]["doc_id"] == FUND and body["citations"][0]["measure_key"] == "6", body["answer"]


def test_a_lay_word_names_no_document_unless_a_document_is_spoken_of(client):
    # 奖励 stands for 专项资金 (index/data/expansion.tsv), a word of the 办法's title; 哪些措施 speaks of
    # no document, so every document that names 奖励 is listed, not the 办法 alone
    body = ask(client, "哪些措施有奖励？")
    assert body["intent"] == "list" and FUND in {c["doc_id"] for c in body["citations"]}
    assert {SUPERVISION, WUHAN} <= {c["doc_id"] for c in body["citations"]}, body["answer"][:300]


def test_a_list_asked_with_the_topic_after_which(client):
    # 有哪些关于X的措施 / 哪些跟X有关的条款 are lists (they were searched, cut at the relevance band)
    body = ask(client, "有哪些关于专项资金的条款？")
    assert body["intent"] == "list" and keys_of(body, FUND) >= {"1", "2", "3"}, body["answer"][:300]


def test_a_places_unit_named_by_the_level_above_is_found_there(client):
    # 太仓 has a document of its own, but only 苏州's plan names 太仓市人民政府 (as 配合单位)
    body = ask(client, "太仓市人民政府配合哪些任务？")
    assert body["found"] is True and keys_of(body, SUZHOU) == {"1"}, body["answer"][:300]


@pytest.mark.parametrize("question", ["苏州港口物流方案（二）讲什么？", "（二）是什么？"])
def test_a_measure_asked_by_its_label_as_written(client, question):
    body = ask(client, question)
    assert body["intent"] == "measure" and "2" in keys_of(body, SUZHOU), body["answer"][:300]


def test_a_figure_clause_cut_at_a_semicolon_is_quoted_with_its_other_tiers(client):
    # the tier that fits the asker (十几个人 → 十人以上) is in the second clause of the sentence
    body = ask(client, "我们公司十几个人，买检测设备搞智能化改造最高补助多少？")
    assert body["citations"][0]["doc_id"] == FUND and body["citations"][0]["measure_key"] == "7", body["answer"][:300]
    assert "30万元" in body["answer"] and "50万元" in body["answer"], body["answer"][:400]


@pytest.mark.parametrize("question", ["昆山的OPC有什么支持政策？", "昆山OPC补贴"])
def test_a_county_beside_a_loaded_county_is_a_place(client, question):
    # 昆山 and 太仓 are both in 苏州: 昆山 is scoped (national documents only apply), not read as no place,
    # so 太仓's and 武汉's OPC measures are not offered as 昆山's
    body = ask(client, question)
    assert body["found"] is False and body["citations"] == [], body["answer"][:300]


@pytest.mark.parametrize("question", ["哪些文件涉及OPC？", "哪些文件提到了OPC？", "关于OPC的文件有哪些？"])
def test_the_documents_on_a_topic_asked_either_way(client, question):
    body = ask(client, question)
    assert body["intent"] == "documents" and body["answer"].startswith("涉及“OPC”的文件共3份"), body["answer"][:200]
    assert {c["doc_id"] for c in body["citations"]} == {TAIAN, WUHAN, TAICANG}


def test_a_document_named_by_the_common_short_form_of_its_subject(client):
    # 综保区 is 综合保税区 (index/data/expansion.tsv); with 意见 it names 国发〔2019〕3号, whose title's words are
    # 综合 + 保税区
    body = ask(client, "综保区意见第12条是什么？")
    assert [(c["doc_id"], c["measure_key"]) for c in body["citations"]] == [(BONDED, "12")], body["answer"][:200]
    body = ask(client, "综保区意见里税务总局牵头哪些任务？")
    assert body["found"] is True and keys_of(body, BONDED) == {"1"}, body["answer"][:200]


def test_the_documents_an_issuer_sent(client):
    # the issuer's words (人民政府办公室) name no topic: its place scopes the list
    body = ask(client, "泰安市人民政府办公室发了哪些文件？")
    assert body["intent"] == "documents" and [c["doc_id"] for c in body["citations"]] == [TAIAN], body["answer"][:200]


def test_every_measure_of_a_document_named_without_a_topic(client):
    body = ask(client, "泰安实施意见有哪些措施？")
    assert body["intent"] == "list" and keys_of(body, TAIAN) == {str(n) for n in range(1, 14)}, body["answer"][:200]
    assert body["answer"].startswith("《泰安市OPC实施意见》（泰政办发〔2026〕1号）共13项措施：")


@pytest.mark.parametrize("question,kind", [("哪些文件已經過期了？", "documents"), ("牽頭單位是誰？", "followup"),
                                           ("泰安實施意見第二項是什麼？", "measure")])
def test_questions_in_traditional_script_are_routed_as_in_simplified(client, question, kind):
    assert ask(client, question)["intent"] == kind


def test_a_list_asked_of_the_articles_in_traditional_script(client):
    # 哪些條文 is 哪些条文 (a list); 条文 is a word around the subject, not part of it
    body = ask(client, "省中小企業專項資金管理辦法中哪些條文涉及公示？")
    assert body["intent"] == "list" and keys_of(body, FUND) == {"6"}, body["answer"][:200]
