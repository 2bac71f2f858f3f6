"""The seed document parsed into records, checked by hand against its text."""

from __future__ import annotations

import pytest

from corpus.loading import BUNDLED_CORPUS, load_corpus

SEED_ID = "weihai-2026-industrial-action-plan"

IT = "市工业和信息化局"
DRC = "市发展改革委"
# Read off each measure's closing parenthesis by hand.
DEPARTMENTS = {
    1: ([IT], "负责"),
    2: ([DRC, IT, "市自然资源和规划局", "市生态环境局", "市商务局"], "按职责分工负责"),
    3: ([IT], "负责"),
    4: ([IT, "市农业农村局", "市海洋发展局"], "按职责分工负责"),
    5: ([DRC, IT, "市海洋发展局"], "按职责分工负责"),
    6: ([DRC, "市科技局", IT], "按职责分工负责"),
    7: ([DRC, "市科技局", IT, "市财政局", "市商务局"], "按职责分工负责"),
    8: ([DRC, IT], "按职责分工负责"),
    9: ([IT, "市农业农村局"], "按职责分工负责"),
    10: (["市科技局", IT, "市大数据局"], "按职责分工负责"),
    11: (["市科技局", IT, "市市场监管局"], "按职责分工负责"),
    12: ([IT, "市商务局", "市市场监管局"], "按职责分工负责"),
    13: ([IT, "市交通运输局", "市商务局", "威海海关"], "按职责分工负责"),
    14: ([IT, "市财政局", "人民银行威海市分行"], "按职责分工负责"),
    15: (["市委组织部", "市科技局", IT, "市人力资源社会保障局"], "按职责分工负责"),
    16: ([DRC, IT, "市生态环境局", "市市场监管局", "人民银行威海市分行"], "按职责分工负责"),
    17: ([IT, "市生态环境局", "市市场监管局"], "按职责分工负责"),
    18: ([IT, "市商务局"], "按职责分工负责"),
    19: ([DRC, IT, "市财政局", "市国资委"], "按职责分工负责"),
    20: ([DRC, IT], "按职责分工负责"),
    21: ([DRC, IT, "市司法局"], "按职责分工负责"),
    None: ([IT, "市司法局", "市应急局"], "按职责分工负责"),
}
TITLES = {
    1: "推动重点行业稳增长", 2: "着力扩大有效投资", 3: "加强运行监测协调", 4: "优化提升传统产业",
    5: "培育壮大新兴产业", 6: "前瞻布局未来产业", 7: "着力培育服务型制造", 8: "实施“人工智能+制造”行动",
    9: "加力推进智改数转网联", 10: "做强数字经济核心产业", 11: "强化科工一体", 12: "强化工贸协同",
    13: "强化产供衔接", 14: "强化金融助力", 15: "强化人才支撑", 16: "聚力推动工业节能降碳",
    17: "全面提高绿色制造水平", 18: "加速化工园区提档升级", 19: "健全梯度培育体系",
    20: "畅通政企沟通渠道", 21: "优化企业服务体系", None: "保障措施",
}
SECTION_OF = {**{n: 1 for n in (1, 2, 3)}, **{n: 2 for n in (4, 5, 6, 7)}, **{n: 3 for n in (8, 9, 10)},
              **{n: 4 for n in range(11, 16)}, **{n: 5 for n in (16, 17, 18)}, **{n: 6 for n in (19, 20, 21)},
              None: 7}


@pytest.fixture(scope="module")
def seed():
    load = load_corpus(BUNDLED_CORPUS)
    assert load.problems == []
    (document,) = [d for d in load.documents if d.doc_id == SEED_ID]
    return document


def test_document_facts(seed):
    assert seed.title == "威海市大力实施工业经济“头号工程”2026年行动方案"
    assert seed.doc_number == "威政办字〔2026〕10号"
    assert seed.issuer == "威海市人民政府办公室"
    assert seed.issued_on == "2026-05-16"
    assert seed.notice_title.startswith("威海市人民政府办公室关于印发")
    assert seed.notice_title.endswith("行动方案的通知")


def test_preamble_is_kept(seed):
    preamble = "".join(s.text for s in seed.preamble)
    assert "各区市人民政府" in preamble
    assert "为进一步树牢“大抓经济”鲜明导向" in preamble
    assert "制定本行动方案。" in preamble


def test_sections(seed):
    assert [s.number for s in seed.sections] == [1, 2, 3, 4, 5, 6, 7]
    assert seed.sections[0].title == "强化经济运行组织调控，夯实工业经济基本盘"
    assert seed.sections[6].title == "保障措施"


def test_twenty_two_records_with_exact_departments(seed):
    measures = seed.measures
    assert [m.number for m in measures] == list(range(1, 22)) + [None]
    for measure in measures:
        departments, wording = DEPARTMENTS[measure.number]
        assert measure.departments == departments, measure.number
        assert measure.responsibility == wording, measure.number
        assert measure.title == TITLES[measure.number], measure.number
        assert measure.section == seed.sections[SECTION_OF[measure.number] - 1].title


def test_measure_text_and_sentences(seed):
    m9 = seed.measure(9)
    assert m9.text.startswith("加力推进智改数转网联。构建智能制造梯度培育体系")
    assert m9.text.endswith("（市工业和信息化局、农业农村局按职责分工负责）")
    assert m9.sentences[0].kind == "heading"
    assert m9.sentences[-1].kind == "departments"
    assert "构建智能制造梯度培育体系，引导企业加快推进智能制造，力争培育2家卓越级智能工厂、5家先进级智能工厂。" in [
        s.text for s in m9.sentences
    ]
    for sentence in m9.sentences:
        raw = seed.text[sentence.start:sentence.end]
        assert raw.replace("\n", "") .replace(" ", "") == sentence.text.replace(" ", "")


# Figures checked by hand: (measure, value_text, unit, qualifier, a word of the phrase)
TARGETS = [
    (1, "190", "亿元", None, "新增产值"),
    (1, "7", "%", "以上", "增长"),
    (2, "382", "个", None, "重点项目"),
    (2, "400", "个", None, "技改项目"),
    (2, "4000", "台（套）", None, "设备更新"),
    (4, "190", "家", "以上", "龙头企业"),
    (7, "10", "家", None, "工业设计中心"),
    (8, "5", "个", None, "示范标杆"),
    (9, "2", "家", None, "卓越级智能工厂"),
    (9, "5", "家", None, "先进级智能工厂"),
    (9, "98", "%", None, "覆盖率"),
    (10, "60", "个", None, "产业重点项目"),
    (11, "150", "项", "以上", "技术创新项目"),
    (11, "70", "%", "左右", "产值占比"),
    (12, "168", "场", None, "境外展会"),
    (13, "30", "场", None, "供需对接"),
    (15, "30", "人", None, "高层次人才"),
    (15, "2.4", "万人次", None, "职业技能培训"),
    (16, "960", "万千瓦", None, "装机"),
    (17, "45", "%", "以上", "营收占比"),
    (18, "80", "%", None, "高端化工"),
    (18, "63.5", "%", None, "入园率"),
    (19, "150", "家", None, "规上工业企业"),
    (19, "400", "人次", "以上", "培训企业家"),
    (20, "95", "%", None, "办结率"),
]


@pytest.mark.parametrize("number,value_text,unit,qualifier,word", TARGETS)
def test_targets(seed, number, value_text, unit, qualifier, word):
    targets = seed.measure(number).targets
    matching = [t for t in targets if t.value_text == value_text and t.unit == unit and word in t.phrase]
    assert matching, [(t.value_text, t.unit, t.phrase) for t in targets]
    target = matching[0]
    assert target.value == float(value_text)
    assert target.qualifier == qualifier
    assert seed.text[target.start:target.end] == target.text


def test_years_and_model_numbers_are_not_targets(seed):
    all_targets = [t for m in seed.measures for t in m.targets]
    assert not [t for t in all_targets if t.value_text in ("2026", "1000")]


PAGE_BREAKS = [
    (2, "要素\n\n保障", "要素保障"),
    (4, "提档\n\n升级", "提档升级"),
    (6, "先导性产\n\n业", "先导性产业"),
    (11, "创新\n\n中心", "创新中心"),
    (17, "金融项\n\n目库", "金融项目库"),
    (20, "交流\n\n平台", "交流平台"),
    (15, "技能\n\n兴威", "技能兴威"),
    (12, "市工业和信息化局、\n\n商务局", "市工业和信息化局、商务局"),
]


@pytest.mark.parametrize("number,broken,joined", PAGE_BREAKS)
def test_page_breaks_repaired(seed, number, broken, joined):
    assert broken in seed.text  # the original keeps the break ...
    measure = seed.measure(number)
    assert joined in measure.text  # ... the record reads joined
    assert "\n" not in measure.text
    assert any(joined in s.text for s in measure.sentences)


def test_department_list_split_by_page_break(seed):
    assert seed.measure(12).departments_text == "市工业和信息化局、商务局、市场监管局按职责分工负责"


def test_sentences_rebuild_the_original(seed):
    position = 0
    for sentence in seed.sentences():
        assert seed.text[position:sentence.start].strip() == ""
        position = sentence.end
    assert seed.text[position:].strip() == ""


def test_nothing_reordered(seed):
    starts = [s.start for s in seed.sentences()]
    assert starts == sorted(starts)
    squeezed = "".join(seed.text.split())
    assert "".join("".join(s.text.split()) for s in seed.sentences()) == squeezed
