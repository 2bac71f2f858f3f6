"""Documents in other shapes than the seed, and the parser's guarantees on any text."""

from __future__ import annotations

from pathlib import Path

import docx
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.loading import load_corpus
from corpus.parsing import cn_to_int, parse_document


def squeeze(text: str) -> str:
    return "".join(text.split())


def assert_nothing_lost(document) -> None:
    """Sentences tile the text: only whitespace lies between them, in order."""
    position = 0
    for sentence in document.sentences():
        assert sentence.start >= position
        assert document.text[position:sentence.start].strip() == ""
        assert squeeze(document.text[sentence.start:sentence.end]) == squeeze(sentence.text)
        position = sentence.end
    assert document.text[position:].strip() == ""


PAREN = """关于促进中小企业发展的若干措施

一、加大财政支持
（一）设立专项资金。市财政每年安排资金1000万元，支持中小企业技术改造。（市财政局、工业和信息化局负责）
（二）落实税收优惠。对符合条件的小微企业，按规定减免所得税。
1. 增值税小规模纳税人减按1%征收。
2. 六税两费减半征收。
二、强化融资服务
(一)开展银企对接。每年组织对接活动不少于20场。
(二)扩大信贷投放。
"""


def test_parenthesised_numbering_with_sub_points():
    document = parse_document(PAREN, "paren")
    assert [s.title for s in document.sections] == ["加大财政支持", "强化融资服务"]
    measures = document.measures
    assert [m.label for m in measures] == ["（一）", "（二）", "(一)", "(二)"]
    # numbering restarts per section: numbers as the labels say, keys along the path stay unique
    assert [m.number for m in measures] == [1, 2, 1, 2]
    assert [m.key for m in measures] == ["1.1", "1.2", "2.1", "2.2"]
    assert measures[0].title == "设立专项资金"
    assert measures[0].departments == ["市财政局", "市工业和信息化局"]
    assert measures[0].responsibility == "负责"
    # 1. / 2. inside a （一） measure stay in its text, not separate measures
    assert "1. 增值税小规模纳税人减按1%征收。" in measures[1].text
    assert [(t.value_text, t.unit) for t in measures[2].targets] == [("20", "场")]
    assert_nothing_lost(document)


TRAILING_LABELS = """山东省中小企业数字化推进措施

一、夯实基础

（一）开展免费诊断。每年完成诊断企业5000家以上。责任单位：省工业和信息化厅、省通信管理局（列第一位的为牵头单位，下同）

（二）培育服务商。到2027年培育服务商200家。责任单位：省工业和信息化厅、省大数据局

（三）推动试点建设。每年推广典型案例50个。责任单位：省科技厅，各试点城市人民政府

二、强化保障

（四）降低算力成本。按实际支付费用的30%给予补贴，每家企业每年最高50万元。牵头单位：省大数据局；配合单位：省财政厅、省通信管理局。
"""


def test_responsibility_labels_at_the_end_of_a_measures_line():
    # a 责任单位 line without a closing 。 ends its paragraph (the blank line after it is no page break), a
    # bracketed 列第一位的为牵头单位，下同 note applies to it and to the later ones, and a label after the
    # last sentence (…最高50万元。牵头单位：…；配合单位：…) is read as a marker
    document = parse_document(TRAILING_LABELS, "trailing")
    assert [s.title for s in document.sections] == ["夯实基础", "强化保障"]
    measures = document.measures
    assert [m.label for m in measures] == ["（一）", "（二）", "（三）", "（四）"]
    roles = [[(r.name, r.role) for r in m.roles] for m in measures]
    assert roles[0] == [("省工业和信息化厅", "lead"), ("省通信管理局", "responsible")]
    assert roles[1] == [("省工业和信息化厅", "lead"), ("省大数据局", "responsible")]
    assert roles[2][0] == ("省科技厅", "lead")
    assert roles[3] == [("省大数据局", "lead"), ("省财政厅", "cooperate"), ("省通信管理局", "cooperate")]
    assert "典型案例50个" in measures[2].text and "二、" not in measures[2].text
    assert_nothing_lost(document)


ARTICLES = """威海市企业服务办法

第一章 总则
第一条 为优化营商环境，制定本办法。
第二条 本办法适用于本市行政区域内的企业服务工作。
第二章 服务内容
第三条 市工业和信息化部门负责统筹协调企业服务工作。
第十二条 各部门应当在5个工作日内答复企业诉求。
"""


def test_articles_and_chapters():
    document = parse_document(ARTICLES, "articles")
    assert document.title == "威海市企业服务办法"
    assert [s.title for s in document.sections] == ["总则", "服务内容"]
    assert [m.label for m in document.measures] == ["第一条", "第二条", "第三条"]
    # 第十二条 breaks the sequence: it stays inside 第三条's text, nothing dropped
    assert "第十二条 各部门应当在5个工作日内答复企业诉求。" in document.measures[2].text
    assert_nothing_lost(document)


TRADITIONAL = """關於支持數位轉型的通知

一、總體要求
1. 推動企業數位轉型。支持企業建設智慧工廠，力爭新增智慧工廠10家。（市工業和資訊化局負責）
2. 強化人才支撐。培訓技能人才2000人次。
"""


def test_traditional_characters():
    document = parse_document(TRADITIONAL, "trad")
    assert document.title == "關於支持數位轉型的通知"
    assert [m.title for m in document.measures] == ["推動企業數位轉型", "強化人才支撐"]
    assert document.measures[0].departments == ["市工业和资讯化局"]
    assert document.measures[0].responsibility == "负责"
    assert [(t.value_text, t.unit) for t in document.measures[1].targets] == [("2000", "人次")]
    assert_nothing_lost(document)


def test_full_width_numbering_and_no_sections():
    document = parse_document("措施清单\n1．加强组织领导。成立工作专班。\n2．加大资金投入。安排资金500万元。\n", "fw")
    assert [m.number for m in document.measures] == [1, 2]
    assert document.measures[1].targets[0].value_text == "500"
    assert document.sections[0].title == ""


def test_no_departments_no_problem():
    document = parse_document("一、目标\n1. 提高质量。到2027年，产品合格率达到99%。\n", "nodept", source="nodept.txt")
    assert document.title == "nodept"
    assert document.measures[0].departments == []
    assert document.measures[0].targets[0].text == "99%"


PLAIN = """关于做好春节期间安全生产工作的通知

各单位：春节将至，为切实做好节日期间安全生产工作，现就有关事项通知如下。请各单位高度重视，落实责任。

加强值班值守，确保信息畅通。

特此通知。
"""


def test_no_structure_at_all_keeps_plain_records():
    document = parse_document(PLAIN, "plain")
    assert document.title == "关于做好春节期间安全生产工作的通知"
    records = document.measures
    assert [m.number for m in records] == [None, None, None]
    assert [m.key for m in records] == ["r1", "r2", "r3"]
    assert records[1].text == "加强值班值守，确保信息畅通。"
    assert any("plain records" in p for p in document.problems)
    assert_nothing_lost(document)


def test_chinese_numerals():
    assert [cn_to_int(x) for x in ["一", "十", "十四", "二十一", "一百零二", "21"]] == [1, 10, 14, 21, 102, 21]


def test_folder_of_many_shapes(tmp_path: Path):
    (tmp_path / "a.txt").write_text(PAREN, encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes(ARTICLES.encode("gbk"))
    (tmp_path / "notes.md").write_text("# 说明\n\n" + PLAIN, encoding="utf-8")
    word = docx.Document()
    for line in TRADITIONAL.splitlines():
        word.add_paragraph(line)
    word.save(tmp_path / "trad.docx")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "nostructure.txt").write_text("只有一句话，没有任何措施。", encoding="utf-8")

    load = load_corpus(tmp_path)
    ids = {d.doc_id: d for d in load.documents}
    assert set(ids) == {"a", "gbk", "notes", "trad", "nostructure"}
    assert ids["gbk"].measures[2].text.startswith("市工业和信息化部门负责")
    assert ids["trad"].measures[0].departments == ["市工业和资讯化局"]
    problems = "\n".join(load.problems)
    assert "empty.txt" in problems and "binary.txt" in problems
    assert "nostructure.txt: no numbered sections or measures recognised" in problems
    # stable ids and hashes: the same folder loads the same way twice
    again = load_corpus(tmp_path)
    assert [d.doc_id for d in again.documents] == [d.doc_id for d in load.documents]
    assert again.corpus_hash == load.corpus_hash


def test_sidecar_adds_facts_without_touching_the_text(tmp_path: Path):
    (tmp_path / "plan.txt").write_text(PAREN, encoding="utf-8")
    (tmp_path / "plan.txt.meta.json").write_text('{"doc_id": "sme-2026", "issued_on": "2026-01-02"}', encoding="utf-8")
    (document,) = load_corpus(tmp_path).documents
    assert document.doc_id == "sme-2026"
    assert document.issued_on == "2026-01-02"
    assert document.text == PAREN


PIECES = list("一二三四五六七十、。，；：（）()“”《》市局负责按职责分工第条章1234567890.．% \t年月日亿元家个项万人次") + [
    "\n", "\n\n", "\n1. ", "\n（一）", "\n一、", "\n第三条 ", "（市工业和信息化局、\n\n商务局按职责分工负责）",
]
CHINESE_LOOKING = st.lists(st.sampled_from(PIECES), max_size=150).map("".join)


@settings(max_examples=300, deadline=None)
@given(CHINESE_LOOKING)
def test_offsets_rebuild_any_text(text):
    document = parse_document(text, "prop")
    assert_nothing_lost(document)
    for measure in document.measures:
        for target in measure.targets:
            assert text[target.start:target.end] == target.text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_raises(text):
    document = parse_document(text, "any")
    assert document.text == text
    assert_nothing_lost(document)


def test_collective_government_of_two_levels_is_one_unit():
    # 各区、市政府 names the governments of the districts and county-level cities: a bare 各区 is no unit
    document = parse_document("关于稳增长的若干措施\n\n一、扩大投资\n（一）加快项目建设。年内开工项目100个。"
                              "（责任单位：各区、市政府，市发展改革委）\n（二）保障用地。（责任单位：各县（市、区）人民政府、市财政局）\n",
                              "levels")
    assert [m.departments for m in document.measures] == [["各区市政府", "市发展改革委"],
                                                           ["各县（市、区）人民政府", "市财政局"]]



def test_joint_issuers_are_kept_apart():
    # two issuers on one line, set apart by a space: one place (浙江省), two names, not run together
    text = ("浙江省财政厅 浙江省经济和信息化厅关于印发《浙江省中小企业发展专项资金管理办法》的通知\n\n浙财企〔2025〕6号\n\n"
            "各市财政局、经信局：\n现印发给你们，请遵照执行。\n\n浙江省财政厅 浙江省经济和信息化厅\n2025年2月10日\n\n"
            "浙江省中小企业发展专项资金管理办法\n\n第一条 为规范管理，制定本办法。\n第二条 本办法自2025年3月1日起施行。\n")
    document = parse_document(text, "joint")
    assert document.issuer == "浙江省财政厅、浙江省经济和信息化厅"
    assert document.place == "浙江省" and document.doc_number == "浙财企〔2025〕6号"
