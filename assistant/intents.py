"""What a question asks for, decided before any retrieval.

Routing is by the *form* of the question (a measure number, a part of a document, a department
with a list word, a document fact, a list-all word), never by recognising particular questions.
Everything else goes to hybrid retrieval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.attributes import unstated
from assistant.catalog import DOC_TYPES
from assistant.catalog import DOC_WORDS as DOCUMENT_WORDS
from corpus.departments import find_departments as _find_departments
from corpus.numerals import to_int, to_number
from index.tokenization import normalize_text

WORDS = Path(__file__).parent / "data" / "words"


def _words(name: str) -> frozenset[str]:
    """The words of ``assistant/data/words/<name>`` (whitespace-separated; ``#`` starts a comment line)."""
    lines = (WORDS / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.lstrip().startswith("#") for w in line.split())

IntentKind = Literal["measure", "part", "department", "list", "topics", "docfact", "documents", "followup", "search"]
Fact = Literal["doc_number", "issued_on", "issuer", "count", "parts", "title", "recipients", "publicity",
               "approval", "validity"]

NUMERAL = r"[0-9０-９一二三四五六七八九十百两]+"
MEASURE_REF = re.compile(
    rf"第\s*(?P<a>{NUMERAL})\s*(?:条|條|項|项|点)|(?:措施|条款)\s*(?P<b>{NUMERAL})(?![0-9０-９%％万亿个家项共起些下直样般定切律])"
    rf"|(?P<c>{NUMERAL})\s*号措施"
    # a measure's label as the document writes it: （十三）讲什么？ 福山区措施（十三）
    r"|[（(](?P<d>[一二三四五六七八九十]{1,3})[）)](?=\s*(?:是|讲|说|规定|的内容|内容|怎么|有什么|呢|由|条|项|$|[？?]))"
)
PART_REF = re.compile(rf"第\s*(?P<n>{NUMERAL})\s*(?:部分|章|节|大项|板块|方面)")
LAST_PART = re.compile(r"最后(?:一个|一)?(?:部分|章|节|板块)|倒数第\s*(?P<n>[一二三四五六七八九十\d]+)\s*(?:个)?(?:部分|章|节|板块)")
# 第三部分第二条: the second measure counted inside part three (not the document's 第2条)
WITHIN_PART = re.compile(rf"第\s*(?P<part>{NUMERAL})\s*(?:部分|章|节|板块)\s*(?:的|中的?|里的?)?\s*"
                         rf"(?:第\s*(?P<n>{NUMERAL})|(?P<last>最后一))\s*(?:条|项|个|点|项措施|条措施)")
# 绿色低碳那一部分有哪些措施？ a part by the words of its heading
PART_BY_HEADING = re.compile(r"(?P<topic>[\u4e00-\u9fffA-Za-z]{2,16}?)(?:的|那|这)?(?:一)?(?:个)?(?:部分|板块|块)"
                             r"(?=.*(?:哪些|什么|几|讲|包括|内容|措施|任务))")
SAFEGUARDS = re.compile(r"保障措施")

DOC_FACTS: dict[str, re.Pattern[str]] = {
    "doc_number": re.compile(r"文号|发文字号|文件号|字号|编号"),
    "validity": re.compile(r"有效期|施行日期|生效|(?:什么时候|何时|哪天|几号)(?:开始|起)?(?:施行|实施|执行|生效)"
                           r"|试行(?:多长|多久|期)|实施期限|期限多长|还有效|是否有效|过期|失效|到期"),
    "issued_on": re.compile(r"印发日期|发布日期|发文日期|成文日期|印发时间|发布时间|出台时间"
                            r"|(?:什么时候|哪天|哪一天|什么时间|何时|几号)(?:印发|发布|出台|下发|发的|修订|修正|通过|公布)"
                            r"|(?:印发|发布|出台|修订|修正|通过)(?:于|是在|是)?(?:哪天|哪一天|何时|什么时候)|日期"),
    "issuer": re.compile(r"发文机关|发文单位|发布单位|印发单位|哪个(?:单位|部门|机关)(?:印发|发布|发的)|谁(?:印发|发布|发的)"
                         r"|以(?:谁|哪个(?:单位|部门|机关)|什么(?:单位|机关))的?名义"),
    # 这几方面 / 那几条 point at what was named (能否在这几方面给予保障？), they ask no count
    # 第几条 asks which measure (个税办法里关于住房租金是第几条？), a search; 哪几项 asks for them (a list); 这几方面 /
    # 那几条 point back
    "count": re.compile(r"(?<![这那第哪])(?:多少|几)(?:条|條|项|個|个)(?:措施|任务)?|(?:措施|任务|条款|條文)(?:一共|总共|共)?有?(?:多少|几)"),
    # 有几个部分 / 一共有哪几大部分 / 包括哪些章节 / 分哪几块 / 方案的主要内容 (not 这几方面, not 几块钱)
    "parts": re.compile(r"(?<![这那])(?:多少|几)(?:个|大)?(?:部分|章|板块|方面)|哪(?:几|些)(?:个|大)?(?:部分|章节|板块)"
                        r"|(?:包括|包含|分为|分成|分)(?:哪)?(?:几|些)(?:个|大)?(?:部分|章节|块|板块|方面)"
                        r"|(?:方案|文件|通知|意见|办法)(?:的)?主要内容"),
    "title": re.compile(r"文件(?:名称|标题|全称)|叫什么(?:文件|名字)?|(?:标题|名称|全称)是什么|是(?:什么|哪个|哪份)(?:文件|政策|规定)"),
    "recipients": re.compile(r"发给|主送|下发给|发至|印发给"),
    # the document's own publicity (这份文件能公开吗？), not what may be opened (能公开的数据)
    "publicity": re.compile(r"公开发布|是否公开|公开的吗|(?:能|可以|能否|能不能|可不可以)公开(?![的了])"
                            r"|(?:文件|方案|计划|意见|措施|办法|条例|通知)[^，。？?]{0,2}公开(?:了吗|方式|属性|形式)"),
    "approval": re.compile(r"(?:谁|哪里|哪个)(?:同意|批准)|经过.{0,6}(?:同意|批准)"),
}
# what else runs out: a loan, a contract, a licence (贷款快到期了 asks for 续贷, not the document's validity)
OTHER_EXPIRY = re.compile(r"(?:贷款|借款|贷|合同|许可证?|执照|证书|证件|证|租约|租期|租金|债券|债|票据|承兑|汇票|保险)"
                          r"[^，,。？?]{0,3}(?:到期|过期|失效)")
# a list question with no topic that asks for every measure (方案一共有哪些措施？ 列出全部措施 帮我列个清单), not a
# follow-up's 还有哪些措施？
EVERY_MEASURE = re.compile(r"全部|所有|列出|列举|列一下|列个|一共|总共|清单|方案|文件|通知|意见|办法|条例|计划|这份")
DOC_WORDS = re.compile(r"文件|方案|政策|文|通知|这份|办法|意见|措施|条例|规定|细则|计划")
DOCUMENT_LIST = re.compile(r"(?:有|收录|包括|包含|发了|发布了|出台了|有没有)(?:了)?(?:哪些|什么|几个|多少|几份).{0,12}?"
                           r"(?:文件|政策文件|法规|规章|条例|办法|政策)|(?:文件|政策|法规)(?:有|都有)(?:哪些|什么)"
                           r"|最新的?(?:文件|政策|法规)|哪些(?:文件|法规)|文件(?:列表|清单|目录)")
DOC_BY_TOPIC = re.compile(r"(?P<topic>[\u4e00-\u9fffA-Za-z0-9]{2,12}?)(?:方面)?的?(?:那个|那份|这个|这份)"
                          r"(?:文件|通知|政策|方案|意见|办法|措施|规定|计划)")
DOCUMENTS_ABOUT = re.compile(r"(?:关于|有关|涉及|针对|支持)(?P<topic>[^，。？?]{1,15}?)(?:方面)?的(?:政策)?(?:文件|法规|政策)"
                             # 哪些文件涉及OPC？ the topic after the documents
                             r"|(?:文件|法规)(?:涉及|提到|提及|讲到|写到|关于|有关)了?(?P<after>[^，。？?]{1,15}?)"
                             r"(?:的内容|方面的?内容|方面)?(?:[？?。]|$)")
# Words of a document-list question that name no topic (the documents' issuers and places are scopes).
DOCUMENT_LIST_WORDS = _words("document_list.txt")
RESPONSIBILITY = re.compile(r"负责|参与|承担|牵头|配合|职责|主管|分管")
DEPARTMENT_LIST = re.compile(r"负责|参与|承担|牵头|管|涉及|职责|有哪些|哪些|什么|多少|几条|几项|相关")
LIST_WORDS = re.compile(
    r"哪些(?:扶持|支持|优惠|奖补|惠企)?(?:措施|条(?!件)|政策|条款|任务|举措)|哪些(?:关于|有关|涉及|针对|跟|和|与)[^，。？?]{1,12}?的?(?:措施|条款|任务|举措|政策)|哪几[条项](?!(?:事项|内容|信息|情形|要求|材料|条件|标准|费用|指标))|(?:有关|相关|涉及|关于|提到).{0,6}(?:措施|条款)(?:都)?有哪些|(?:所有|全部)(?=[^，。？?]{0,12}(?:措施|条款|任务|政策|举措|条(?!件)|内容))|列出|列举|列一下|列个清单|都有哪些|有几条|一共有几|总共有几|涉及.{0,12}的(?:措施|条款)"
)
# Words around the subject of a list question (所有跟新能源有关的措施有哪些 → 新能源).
LIST_WORDS_AROUND = _words("list_around.txt")
LIST_SEPARATORS = frozenset("、 / 和 与 及 以及 或 或者 ， ,".split())
FOLLOWUP = re.compile(r"^(?:那|那么|还有|另外|再|其他|其它|别的|具体|这|该|它|上述|刚才|上面|前面)|这条|该条|这项|这个|这些|上述|刚才|它的|还有")
ASK_DEPARTMENT = re.compile(r"(?:哪个|哪些|哪几个|什么|哪家)(?:部门|单位|机构|机关)|谁负责|谁管|找谁|找哪|责任单位|负责单位|牵头单位|配合单位|参与单位|协办单位|主管部门|归谁|归哪|由谁")
# 牵头单位是谁？ asks for the lead alone; 由谁牵头，哪些单位负责？ asks for the others too
ASK_OTHERS = re.compile(r"配合|参与|协同|责任单位|哪些单位负责|其他|其余|还有")


def asks_lead_only(question: str) -> bool:
    """Whether ``question`` asks who leads (牵头) and not also who else takes part."""
    return "牵头" in question and not ASK_OTHERS.search(question)


# a unit asked about by name (济南市财政局负责哪些…, 省财政厅参与了什么): a place or level, a core, a unit word
# 和 inside a unit's name (经济和信息化厅) but not between two units (财政局和工信局)
UNIT_ASKED = re.compile(r"(?P<unit>(?:(?![由哪些的是和及与在对给个])[\u4e00-\u9fff]|(?<![局厅委办部会心署])和){1,12}?"
                        r"(?:局|厅|委员会|办公室|管委会|中心|总署|署|部))"
                        r"(?:在[^，。？?]{0,20})?(?:负责|参与|牵头|配合|管)")
# 规模 and 标准 name things as well (规模以上企业, 扩大规模, 工装标准化): a size is asked as 多大, a standard as 标准 (not 标准化)
ASK_FIGURE = re.compile(r"多少|几成|几家|几个|几项|几场|几台|目标|指标|比例|比重|占比|达到|数量|多大|多高|百分之|最高|额度|金额"
                        r"|标准(?!化)")
# a figure of the text asked back (95%指的是什么？ 190是指什么？ 2.4万是什么 每平方米1000元是什么): with a unit, or a
# bare number of two digits or more (a single digit is too common to point at one figure); not a year (2026是什么),
# not a code (T1000)
_NOT_A_YEAR = r"(?!(?:19|20)\d\d(?![\d.%％万亿元家个项人]))"
FIGURE_ASKED = re.compile(r"(?<![\d.第A-Za-z])" + _NOT_A_YEAR +
                          r"(?P<figure>(?:每(?:平方米|平米|人|户|家|月|年|亩|台|套|次|项)\s*)?\d+(?:\.\d+)?\s*"
                          r"(?:%|％|万元|亿元|元|万人次|人次|万人|人|家|个|项|场|台（套）|台|套"
                          r"|万千瓦|千瓦|万吨|吨|万平方米|平方米|亩|所|座|处|批|万|亿)|\d{2,}(?:\.\d+)?|\d\.\d+)"
                          r"\s*(?:这个数字?|这一数字|这个数据)?"
                          r"(?:指的是|是指|指|说的是|讲的是|对应的是|对应|是)的?(?:什么|哪个|哪项|哪一项|哪方面|哪类|啥)")
EACH = re.compile(r"分别|各自|各是")
# a clause that tells what happened, not what is asked (去年我们给市里提了几个问题，… ; 2025年给几个部门写过意见，…):
# not the last clause, no question mark or asking word of its own, and an aspect (了, 过) or a time gone by
# (几 is left out: 提了几个, 少了几成 count what happened; 多少 is seldom said but asked, 没多少 aside)
_ASKS_IN_CLAUSE = re.compile(r"[吗呢么吧]|(?<!没)多少|哪|谁|什么|怎么|怎样|如何|啥|咋|是否|能否|可否|有没有|能不能"
                             r"|可不可以|多大|多久|多长|多高")
_TOLD = re.compile(r"了|过|去年|前年|上个?月|之前|以前|已经|曾经")
_CLAUSES = re.compile(r"([^，,；;。！!？?]*)([，,；;。！!？?]?)")


def without_story(question: str) -> str:
    """``question`` without the clauses that tell the asker's story: 去年我们给市里提了几个问题，一直没人回音，有没有反映
    的渠道？ → 一直没人回音，有没有反映的渠道？. Counts, years and amounts in those clauses (提了几个, 少了几成, 给过
    几个部门) say what happened; read as asked they had routed the question to a count of measures, a past year's
    figure or an amount the plan does not state. The last clause and any clause ending in ？ are kept."""
    parts = [(c, p) for c, p in _CLAUSES.findall(question) if c or p]
    last = max((i for i, (clause, _) in enumerate(parts) if clause.strip()), default=-1)
    kept = [clause + mark for i, (clause, mark) in enumerate(parts)
            if i >= last or mark in "？?" or not _TOLD.search(clause) or _ASKS_IN_CLAUSE.search(clause)]
    return "".join(kept) or question


CLAUSE_BREAK = re.compile(r"[、，,；;？?]")
ASKING_PART = re.compile(r"哪|谁|什么|多少|几|吗|怎么|如何|啥")
SUBJECT_MAX = 12  # characters of one subject of a two-subject question (“数据要素×”行动 has 8)
SEVERAL = re.compile(r"和|与|及|、|以及|还有")
POINTS_BACK = re.compile(r"这条|该条|这项|该项|这个措施|该措施|上述|刚才|这些措施|它|那条|那项|上面|前面|这个|这一[条项]|那一[条项]|他们|她们"
                         r"|^第[一二三四五六七八九十\d]{1,2}个呢")
QUOTED_TOPIC = re.compile(r"[“\"「『]([^”\"」』]{2,30})[”\"」』]")
ASK_MORE = re.compile(r"还有(?:别的|其他|其它|什么|吗|呢)|别的|其他|其它|另外")


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    numbers: tuple[int, ...] = ()  # measure numbers asked for (第9条), or the part number (第五部分; -1: the last,
    # -2: the one before it)
    within: int | None = None  # the measure counted inside the part (第三部分第二条 → 2; -1: its last)
    safeguards: bool = False  # 保障措施 asked for by name
    departments: tuple[str, ...] = ()  # full names, as the routing's department list knows them
    mentions: tuple[str, ...] = ()  # department names as written in the question (工信局)
    fact: Fact | None = None
    topic: str = ""  # the subject of a list question
    asks_department: bool = False
    asks_figure: bool = False
    asks_more: bool = False
    latest: bool = False  # 最新的文件
    facts: tuple[Fact, ...] = ()  # every document fact asked (fact is the first of them)


def _numbers(pattern: re.Pattern[str], text: str) -> tuple[int, ...]:
    numbers: list[int] = []
    for match in pattern.finditer(text):
        raw = next(g for g in match.groups() if g)
        number = to_int(raw)
        if number is not None and number not in numbers:
            numbers.append(number)
    return tuple(numbers)


def measure_numbers(text: str) -> tuple[int, ...]:
    return _numbers(MEASURE_REF, text)


# Words that ask something without naming a topic (目标是多少？ 谁负责？): on their own,
# after an earlier question, they refer back to it.
GENERIC_ASKING = _words("asking.txt")


def topic_words(question: str, words) -> list[str]:
    """The words of ``question`` that name a subject (贷款, 智能工厂), not the asking."""
    return [w for w in words(question) if re.search(r"\w", w) and w not in GENERIC_ASKING
            and w not in LIST_WORDS_AROUND]


def list_topic(question: str, words) -> str:
    """The subject of a list question; alternatives kept apart by 、 (钓具、渔具).

    ``words`` cuts text into words (jieba): the words around the subject are
    dropped whole, so 能 in 新能源 or 中 in 中小企业 stay.
    """
    parts: list[str] = []
    current: list[str] = []
    for word in [*words(question), "、"]:
        if word in LIST_SEPARATORS:
            if current:
                parts.append("".join(current))
            current = []
        elif word not in LIST_WORDS_AROUND and re.search(r"\w", word):
            current.append(word)
    return "、".join(parts)


def without_names(question: str, names: tuple[str, ...]) -> str:
    """``question`` without the words that name its documents (places, titles, 文号) and the words for a kind
    of document (行动方案, 实施意见): what it asks about. 个人所得税专项附加扣除办法里，大病医疗是怎么扣除的？ with
    the title named → 里，大病医疗是怎么扣除的？ (the title's words would otherwise favour the article that
    repeats the title, 第二条, over the one on 大病医疗)."""
    topic = question
    for name in sorted(names, key=len, reverse=True):  # a 的 may sit inside it: 泰安市的OPC实施意见
        topic = re.sub("的?".join(re.escape(c) for c in name), " ", topic, flags=re.IGNORECASE)
    for kind in DOC_TYPES:  # 行动方案, 实施意见: what kind of document, not what it is about
        topic = topic.replace(kind, " ")
    if names:  # 那个文件, 这份 after the words that named it: pointing at the document, no topic either
        for word in sorted((w for w in DOCUMENT_WORDS if len(w) >= 2), key=len, reverse=True):
            topic = topic.replace(word, " ")
    return topic


def route(question: str, known_departments: list[str], has_history: bool = False, words=None,
          strip: tuple[str, ...] = (), find_departments=None) -> Intent:
    """The intent of ``question``.

    ``words`` cuts text into words (the index's jieba); by default characters. ``strip``:
    words that name the question's documents (places, titles) and so are not its topic.
    ``find_departments(question)`` → the departments it names (default: by ``known_departments``).
    """
    words = words or list
    q = question.strip()
    topic_q = without_names(q, strip)
    asked_q = without_story(q)  # what is asked, without the asker's story (figures, counts and facts are read there)
    flags = dict(asks_department=bool(ASK_DEPARTMENT.search(q)), asks_figure=bool(ASK_FIGURE.search(asked_q)),
                 asks_more=bool(ASK_MORE.search(q)))

    latest = bool(re.search(r"最新|最近", q))
    if DOCUMENT_LIST.search(q) and not MEASURE_REF.search(q):
        if not [w for w in topic_words(topic_q, words) if w not in DOCUMENT_LIST_WORDS]:
            return Intent("documents", latest=latest, **flags)
        about = DOCUMENTS_ABOUT.search(topic_q)
        if about:  # 关于人工智能OPC的文件有哪些: the documents on a topic
            return Intent("documents", topic=(about.group("topic") or about.group("after")).strip(), latest=latest,
                          **flags)

    within = WITHIN_PART.search(q)
    if within and to_int(within.group("part")) and (within.group("last") or to_int(within.group("n"))):
        return Intent("part", numbers=(to_int(within.group("part")),),
                      within=-1 if within.group("last") else to_int(within.group("n")), **flags)
    numbers = measure_numbers(q)
    if numbers or (SAFEGUARDS.search(q) and not LIST_WORDS.search(q)):
        return Intent("measure", numbers=numbers, safeguards=bool(SAFEGUARDS.search(q)), **flags)

    last = LAST_PART.search(q)
    parts = _numbers(PART_REF, q) if not (last and last.group("n")) else ()
    if last:  # 最后一部分 → -1, 倒数第二部分 → -2
        parts += (-(to_int(last.group("n")) or 1) if last.group("n") else -1,)
    if parts:
        return Intent("part", numbers=parts, **flags)
    heading = PART_BY_HEADING.search(topic_q)
    if heading and topic_words(heading.group("topic"), words):
        return Intent("part", topic=heading.group("topic"), **flags)

    departments = tuple(find_departments(q) if find_departments else _find_departments(q, known_departments))
    facts: list[Fact] = []
    sq = normalize_text(asked_q)  # 辦法 → 办法, 修正 in traditional script: the patterns are written in simplified
    for fact, pattern in DOC_FACTS.items():
        if pattern.search(sq) and (fact != "count" or re.search(r"措施|任务|条(?!件)", sq)) and (
            fact in ("doc_number", "issuer", "recipients", "publicity", "approval", "count", "parts")
            or DOC_WORDS.search(sq) or (fact == "issued_on" and re.search(r"印发|发布|发文|成文|出台|修订|修正", sq))
        ):
            if fact == "validity" and OTHER_EXPIRY.search(sq):
                continue  # 贷款快到期了…有啥政策: a loan's term, not the document's
            if fact == "count" and LIST_WORDS.search(q) and list_topic(topic_q, words):
                continue  # 有几条涉及人工智能 → a list question with a count
            if fact == "count" and departments and RESPONSIBILITY.search(q):
                continue  # 人行参与了多少项措施？ → the unit's measures, counted
            if fact == "title" and _asks_about_a_topic(topic_q, words) and not DOC_BY_TOPIC.search(q):
                continue  # 国家层面对农机购置补贴是什么政策？ asks what the policy says, not its title
            facts.append(fact)
    if facts:  # 哪个机关发的？一共有多少项措施？ → each fact asked, in the order of DOC_FACTS
        by_topic = DOC_BY_TOPIC.search(topic_q)  # 外贸那个文件的文号: the document on that topic
        return Intent("docfact", fact=facts[0], facts=tuple(facts), topic=by_topic.group("topic") if by_topic else "",
                      **flags)

    # 医保报销比例是多少？ asks a figure of a subject that a unit's short name (医保) is part of, not what the
    # unit answers for: without a word of responsibility and with a subject of its own, it is searched
    of_a_subject = flags["asks_figure"] and not RESPONSIBILITY.search(q) and topic_words(
        without_names(topic_q, departments), words)
    # 市工业和信息化局的负责人叫什么？ asks a person's name (assistant/data/asked_attributes.tsv), not the unit's measures
    of_an_attribute = unstated(q, []) is not None
    if departments and not flags["asks_department"] and not of_a_subject and not of_an_attribute and (
            DEPARTMENT_LIST.search(q) or bare_keyword(q)):
        return Intent("department", departments=departments, **flags)
    unit = None if departments else UNIT_ASKED.search(q)
    if unit and DEPARTMENT_LIST.search(q):  # 市火星局负责哪些措施？: a unit no document names
        return Intent("department", mentions=(unit.group("unit"),), **flags)

    if LIST_WORDS.search(q):
        quoted = QUOTED_TOPIC.findall(q)
        topic = "、".join(quoted) if quoted else list_topic(topic_q, words)
        # 我是做钓具的，有哪些政策，联系哪个单位，什么时候截止？: the clauses that ask are no part of the subject
        parts = [p for p in topic.split("、") if p and not ASKING_PART.search(p)]
        topic = "、".join(parts) if parts else topic
        if topic or strip:  # 泰安实施意见有哪些措施？ (a document named, no topic): all of its measures
            return Intent("list", topic=topic, **flags)
        if not has_history and EVERY_MEASURE.search(q):  # 方案一共有哪些措施？ 列出全部措施: every measure in scope
            return Intent("list", topic="", **flags)

    figure = FIGURE_ASKED.search(percent_in_digits(q))
    if figure:  # 95%指的是什么？ 百分之七是什么目标？ → the measures that state that figure
        return Intent("list", topic=figure.group("figure"), **flags)

    subjects = ["".join(w for w in words(t) if w not in GENERIC_ASKING) for t in list_topic(topic_q, words).split("、")]
    subjects = [t for t in subjects if t]
    # 低空经济和跨境电商分别由哪些部门负责？ → each subject on its own. A figure asked without 分别 is one
    # subject (培训企业家及经营管理人员多少人次, 金融和税收上有什么照顾)
    # 每平方米补贴多少钱、一次最多补多少、找哪个部门申报？: clauses asking different things (an amount, a unit)
    # are several asks of one subject, not one ask of several subjects
    asks = {("figure" if ASK_FIGURE.search(c) else "") + ("department" if ASK_DEPARTMENT.search(c) else "")
            for c in CLAUSE_BREAK.split(q)} - {""}
    # subjects are names of things (低空经济, 工业设计大赛), not clauses of a run-on question (我们公司做轮胎想了解有没有…)
    short = all(len(t) <= SUBJECT_MAX for t in subjects)
    if len(subjects) >= 2 and (EACH.search(q) or flags["asks_department"]) and SEVERAL.search(q) and len(asks) < 2 \
            and short:
        return Intent("topics", topic="、".join(subjects), **flags)

    # 这些 after a subject of its own (专精特新、单项冠军这些优质企业要创建多少家) asks anew, not back;
    # 这方面 (这方面今年计划培训多少人次) points back
    points = [m for m in FOLLOWUP.finditer(q) if not (m.group() == "这些" and m.start() > 0)]
    if has_history and (points or not topic_words(topic_q, words)):
        return Intent("followup", **flags)
    asks_of_nothing = (flags["asks_department"] or flags["asks_figure"]) and not strip  # no document named
    if (POINTS_BACK.search(q) or FOLLOWUP.search(q) or asks_of_nothing) and not topic_words(topic_q, words):
        # 这条由哪个部门负责？ / 配合单位有哪些？ / 最高多少钱？ with nothing before them: ask which one
        return Intent("followup", **flags)
    bare = bare_keyword(q)
    if bare:  # 房车, LNG, 碳纤: every measure that mentions it, as the lookup lists them
        return Intent("list", topic=bare, **flags)
    return Intent("search", departments=departments, **flags)


PERCENT_WORDS = re.compile(r"百分之(?P<n>[零〇一二两三四五六七八九十百点]+)")


def percent_in_digits(question: str) -> str:
    """百分之七 → 7%, 百分之九十五 → 95%, 百分之二点五 → 2.5%, and a figure in Chinese numerals asked back as
    digits (一百九十是什么 → 190是什么, 一百万元是什么 → 100万元是什么; cn2an); other text unchanged."""
    def digits(match: re.Match) -> str:
        whole, _, fraction = match.group("n").partition("点")
        value = to_number(whole)
        places = [to_number(c) for c in fraction]
        if value is None or None in places:
            return match.group()
        return f"{value:g}" + ("." + "".join(str(int(p)) for p in places) if places else "") + "%"

    question = PERCENT_WORDS.sub(digits, question)
    return NUMERAL_ASKED.sub(_numeral_digits, question)


# a figure in Chinese numerals asked back (一百九十是什么？ 一百万元是什么？): read as digits; not after 第 (第五条)
NUMERAL_ASKED = re.compile(r"(?<![第\u4e00-\u9fff])(?P<n>[零〇一二两三四五六七八九十百千点]{2,})(?=[万亿元家个项人场台套%]*"
                           r"(?:这个数字?)?(?:指的是|是指|指|说的是|是)的?(?:什么|哪个|哪项|啥))")


def _numeral_digits(match: re.Match) -> str:
    value = to_number(match.group("n").replace("点", "."))
    return match.group() if value is None else f"{value:g}"


def _asks_about_a_topic(topic_q: str, words) -> bool:
    """Whether a question words a subject besides the document itself (对农机购置补贴是什么政策)."""
    return any(w not in DOCUMENT_LIST_WORDS and not DOC_WORDS.fullmatch(w)
               for w in topic_words(topic_q, words))


CODE_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-/]*")  # LNG, T1000, 5G


def bare_keyword(question: str) -> str | None:
    """A question that is only a keyword or a code (房车, 碳纤, LNG, T1000), without asking words."""
    parts = question.split()
    if len(parts) >= 2:  # a lookup typed with spaces (隐形冠军 培育, 国产打印机 扶持, LNG T1000)
        content = [p for p in parts if p.strip("？?！!。.,，") not in GENERIC_ASKING | LIST_WORDS_AROUND]
        if len(content) == 1:  # 国产打印机 扶持: the keyword, the generic word dropped
            question = content[0]
        elif content and not all(CODE_TERM.fullmatch(p) for p in content):
            return None  # words apart by spaces all count (隐形冠军 培育): searched, not a list of either
    # codes apart by spaces are alternatives (LNG T1000 → LNG、T1000)
    spaced = re.sub(r"(?<=\S)\s+(?=\S)", "、", question.strip())
    stripped = re.sub(r"[\s？?！!。.,，：:；;“”\"'（）()《》]+", "", spaced)
    # up to 8 characters, or up to three such terms joined (LNG和T1000, 房车、钓具)
    terms = [t for t in re.split(r"和|与|及|、", stripped) if t]
    too_long = len(stripped) > 8 and (len(terms) > 3 or any(len(t) > 8 for t in terms))
    if not stripped or too_long or re.search(r"[吗呢吧啥么哪谁怎几多]|什么|如何|是否|有没有|可以|能否", stripped):
        return None
    if all(EACH.fullmatch(t) for t in terms):  # 分别 alone names no topic (it was looked up in 8 measures)
        return None
    return stripped


FOREIGN_MEASURE = re.compile(r"(?:measure|article|item|no\.)\s*(?P<n>\d{1,3})|제\s*(?P<k>\d{1,3})\s*(?:조|항)", re.IGNORECASE)
FOREIGN_DEPARTMENT = re.compile(r"which (?:department|agency|office|bureau)|who is (?:responsible|in charge)|responsible for"
                                r"|in charge of|담당|부서|책임|어느 기관", re.IGNORECASE)
FOREIGN_FIGURE = re.compile(r"how (?:much|many)|target|goal|percent|rate|목표|얼마|몇", re.IGNORECASE)


# facts about a document asked in English or Korean (What is the document number of the Jiangsu policy?)
FOREIGN_FACTS = (
    (re.compile(r"document (?:number|no\.?)|reference number|file number|문서\s*번호|발문\s*번호", re.IGNORECASE),
     "doc_number"),
    (re.compile(r"expir|valid until|validity|still valid|in force|take effect|유효|만료", re.IGNORECASE), "validity"),
    (re.compile(r"how many (?:measures|articles|items)|number of (?:measures|articles)|조치.{0,6}몇|몇\s*개의?\s*조치",
                re.IGNORECASE), "count"),
    (re.compile(r"(?:when was|when were).{0,60}(?:issued|published|released)|issue date|date of issue|발행일|발표일",
                re.IGNORECASE), "issued_on"),
    (re.compile(r"who issued|issuing (?:body|authority|department)|issuer|발행\s*기관", re.IGNORECASE), "issuer"),
)
FOREIGN_DOCUMENTS = re.compile(r"which (?:documents|policies)|what (?:documents|policies) (?:are|do)|list (?:of )?(?:the )?"
                               r"(?:documents|policies)|어떤 문서|문서 목록", re.IGNORECASE)


# which measures a named unit answers for: Which measures is the Justice Bureau responsible for? 사법국은 어떤 조치를 담당합니까?
FOREIGN_UNIT_LIST = re.compile(r"which (?:measures|tasks|items)|what (?:measures|tasks) (?:is|are|does|do)"
                               r"|어떤 (?:조치|과제|업무)를?\s*담당|무엇을\s*담당|담당하는 (?:조치|과제)", re.IGNORECASE)
_ORDINALS = {w: i for i, w in enumerate(("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                                          "ninth", "tenth"), start=1)}
FOREIGN_PART = re.compile(r"(?:part|section|chapter)\s*(?P<n>\d{1,2})\b|(?P<o>first|second|third|fourth|fifth|sixth"
                          r"|seventh|eighth|ninth|tenth|last)\s+(?:part|section|chapter)|제\s*(?P<k>\d{1,2})\s*(?:부분|장|편)",
                          re.IGNORECASE)
_KO_ORDINALS = {w: i for i, w in enumerate(("첫", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열"), start=1)}
# the n-th measure inside a part: What is the second measure in part 5? 제5부분의 두 번째 조치는 무엇입니까?
FOREIGN_WITHIN = re.compile(r"(?P<o>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d{1,2}(?:st|nd|rd|th))"
                            r"\s+(?:measure|item|article)\s+(?:in|of)\s+(?:the\s+)?(?:part|section|chapter)\s*(?P<p>\d{1,2})"
                            r"|제\s*(?P<kp>\d{1,2})\s*(?:부분|장|편)의?\s*(?P<ko>첫|두|세|네|다섯|여섯|일곱|여덟|아홉|열|마지막)\s*"
                            r"(?:번째)?\s*(?:조치|항목|조)", re.IGNORECASE)
# a figure of the text asked back: What does 98% refer to? 98%는 무엇을 의미합니까?
FOREIGN_FIGURE_ASKED = re.compile(r"what (?:does|is)\s+(?:the\s+)?" + _NOT_A_YEAR +
                                  r"(?P<f>\d+(?:\.\d+)?\s*%|\d{2,}(?:\.\d+)?)(?![\d.])"
                                  r"|(?<![\d.])" + _NOT_A_YEAR +
                                  r"(?P<k>\d+(?:\.\d+)?\s*%|\d{2,}(?:\.\d+)?)\s*(?:은|는|이|가)?\s*(?:무엇|뭐|어떤)",
                                  re.IGNORECASE)


def route_foreign(question: str) -> Intent:
    """The intent of a question in English or Korean: a measure by number, the list of documents, a fact
    about a document (its 文号, validity, number of measures, date, issuer), else retrieval."""
    flags = dict(asks_department=bool(FOREIGN_DEPARTMENT.search(question)),
                 asks_figure=bool(FOREIGN_FIGURE.search(question)))
    numbers = tuple(dict.fromkeys(int(m.group("n") or m.group("k")) for m in FOREIGN_MEASURE.finditer(question)))
    if numbers:
        return Intent("measure", numbers=numbers, **flags)
    within = FOREIGN_WITHIN.search(question)
    if within:
        if within.group("p"):
            word = within.group("o").lower()
            n = -1 if word == "last" else _ORDINALS.get(word) or int(re.sub(r"\D", "", word))
            return Intent("part", numbers=(int(within.group("p")),), within=n, **flags)
        word = within.group("ko")
        return Intent("part", numbers=(int(within.group("kp")),), within=-1 if word == "마지막" else _KO_ORDINALS[word],
                      **flags)
    part = FOREIGN_PART.search(question)
    if part:
        number = int(part.group("n") or part.group("k")) if (part.group("n") or part.group("k")) else \
            _ORDINALS.get(part.group("o").lower(), -1)  # the last part: -1
        return Intent("part", numbers=(number,), **flags)
    figure = FOREIGN_FIGURE_ASKED.search(question)
    if figure:
        return Intent("list", topic=re.sub(r"\s+", "", figure.group("f") or figure.group("k")), **flags)
    if FOREIGN_DOCUMENTS.search(question):
        return Intent("documents", **flags)
    facts = tuple(fact for pattern, fact in FOREIGN_FACTS if pattern.search(question))
    if facts:
        return Intent("docfact", fact=facts[0], facts=facts, **flags)
    return Intent("search", **flags)
