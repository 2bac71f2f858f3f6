"""Everything else: hybrid retrieval in the question's scope, then the best sentences per measure.

When several documents answer, they are ranked by fit; of two versions of one plan the newest is
kept and the older one mentioned; a document whose validity has ended is flagged.
"""

from __future__ import annotations

import re

from assistant import answers
from assistant.answers import Evidence
from assistant.attributes import unstated
from assistant.handlers.base import Asked, Context, body, has_target
from assistant.intents import asks_lead_only, topic_words, without_names, without_story
from assistant.language import template
from assistant.models import AskResponse
from assistant.scope import in_a_phrase
from corpus.records import Measure
from index.expansion import with_defined_terms
from index.hybrid import MeasureHit
from index.tokenization import normalize_text


def not_applicable(foreign: list[str], holders, asked: Asked, context: Context) -> str:
    """What to say when the words asked about occur only in documents of other places."""
    where = "、".join(p.name for p in asked.scope.places) or "所问地区"
    terms = "、".join(f"“{w}”" for w in foreign[:3])
    held = "、".join(f"《{i.short_title}》（适用于{i.place.name if i.place else '全国'}）" for i in holders[:4])
    text = f"已收录的文件中，适用于{where}的文件没有涉及{terms}的内容，无法据此回答。"
    if held:
        text += f"涉及这些内容的是{held}，{'它们' if len(holders) > 1 else '它'}不适用于{where}。"
    return text + "如需了解当地政策，请咨询当地主管部门。"


def newest_versions(hits: list[MeasureHit], context: Context) -> list[MeasureHit]:
    """Drop hits of a document when a newer version of the same plan is among the hits."""
    present = {h.doc_id for h in hits}
    return [h for h in hits if not any(n in present for n in context.catalog.info(h.doc_id).newer)]


def retrieve(asked: Asked, context: Context, question: str) -> list[MeasureHit] | None:
    """The measures that answer ``question`` in its scope, best first; None when it reads as out of scope.

    Once the question has named its documents (a title, a place), it is searched without the words that named
    them: a title's words favour the article that repeats the title (个税办法's 第二条 lists every deduction)
    over the one on what is asked. If that alone reads as out of scope and the names may carry the topic (a
    title, a 文号, a place inside a phrase of the documents, or nothing else asked), it is searched as asked.
    """
    tries = []
    if asked.lang == "zh" and asked.scope.names and not asked.scope.everything:
        topic = without_names(question, asked.scope.names)
        if context.searcher.tokenizer(topic):
            tries.append((topic, topic))
    # a place or a year named says where and when, not what: searched as asked, 威海 would make any question read
    # as closer to the corpus (the plan names 威海 throughout: 在威海买房有补贴吗？ was answered with 第15条); only a
    # title's words, a 文号 or a place inside a phrase of the documents (威海企业家日) may carry the topic, or the
    # place's document when nothing else is asked of (历下区办法由谁牵头？), so only then is it tried again as asked
    if not tries or not set(asked.scope.named) <= WHERE_AND_WHEN or \
            not topic_words(tries[0][0], context.searcher.tokenizer.words) or \
            in_a_phrase(question, asked.scope.names, context.catalog):
        tries.append((question, asked.text))  # the meaning side reads the question as asked, in any language
    for lexical, meaning in tries:
        # a term the documents define (一人公司 for OPC) is searched in both forms, on both sides
        vector = context.searcher.encode(with_defined_terms(meaning, context.catalog.defined_terms))
        # deeper when the place named has documents of its own: its best measure may rank below the top k
        depth = max(asked.top_k, OWN_DEPTH if asked.scope.own else 1)
        hits = context.search(lexical, k=max(depth, HELD_DEPTH), scope=asked.scope, vector=vector)
        if hits and context.in_scope(lexical, vector, hits, asked.scope, asked.lang):
            return hits[:depth]
        # 老设备换新 有啥支持: the meaning side put 第12条 first and the model refused it; 第2条, a close second,
        # holds every topic word (设备更新 for 老设备换新): that one answers
        held = next((h for h in hits[1:HELD_DEPTH] if asked.lang == "zh" and context.holds_topic(lexical, vector, h,
                                                                                               asked.scope)), None)
        if held is not None:
            return [held] + [h for h in hits if h is not held]
    return None


WHERE_AND_WHEN = {"地点", "年份"}  # the ways of naming documents (Scope.named) that carry no topic
HELD_DEPTH = 3  # hits looked at for one that holds every topic word when the best one reads as out of scope


# a document's opening clause that gives only its purpose or legal basis (第一条 为了…，根据…，制定本办法。 本辦法依
# …規定訂定之。): it repeats the title's words, so a question naming the document ranks it high, but it answers
# nothing asked of the document's content
PURPOSE_CLAUSE = re.compile(r"^(?:为了?|為了?|根据|根據|依据|依據|依照|本(?:办法|辦法|条例|條例|规定|規定|措施|意见|意見)依)"
                            r"[^。]{0,250}?(?:制定|订定|訂定|制订|制訂)(?:本|之|如下|以下)")
PURPOSE_ASKED = re.compile(r"目的|宗旨|为什么|為什麼|为何|为了什么|依据|依據|根据(?:什么|哪)|依照(?:什么|哪)|法律依据|上位法"
                           r"|why|purpose|basis|목적|근거")


def purpose_clause(document) -> Measure | None:
    """The document's first record when it gives only the purpose or legal basis (PURPOSE_CLAUSE), else None."""
    if document is None or not document.measures:
        return None
    first = document.measures[0]
    return first if PURPOSE_CLAUSE.search(first.text.strip()) else None  # the text is without its label


def without_purpose(hits: list[MeasureHit], question: str, context: Context) -> list[MeasureHit]:
    """The hits without their documents' purpose clauses, unless the question asks for a purpose or basis:
    海珠区的AI一人公司接单多能拿多少奖励？ cited 第一条 (为抢抓…前瞻布局“人工智能OPC”…) alone, which names every word
    of the title and answers nothing asked. When a purpose or basis is asked, the best hit's document's purpose
    clause comes first (北京条例的目的是什么？ cited 第二十条, 不以营利为目的)."""
    def is_purpose(hit: MeasureHit) -> bool:
        clause = purpose_clause(context.catalog.document(hit.doc_id))
        return clause is not None and clause.key == hit.measure_key

    if PURPOSE_ASKED.search(question.lower()):
        clause = purpose_clause(context.catalog.document(hits[0].doc_id)) if hits else None
        if clause is None:
            return hits
        first = [h for h in hits if h.doc_id == hits[0].doc_id and h.measure_key == clause.key] or [
            MeasureHit(hits[0].doc_id, clause.key, hits[0].score, 0.0, -1.0)]
        return first + [h for h in hits if h is not first[0]]
    kept = [h for h in hits if not is_purpose(h)]
    return kept or hits


QUOTED_NAME = re.compile(r"[“\"「]([^”\"」\n]{3,20})[”\"」]")


def named_first(hits: list[MeasureHit], question: str, context: Context) -> list[MeasureHit]:
    """A name the documents put in quotation marks (“威海企业家日”, “一业一策”, “威企通”) that the question writes
    out: the first hit that names it goes first when the best one does not (威海企业家日是干啥的？ cited 第19条,
    which trains 企业家, above 第20条, which holds the day)."""
    asked = normalize_text(question)
    def names(hit: MeasureHit) -> set[str]:
        measure = context.catalog.measure(hit.doc_id, hit.measure_key)
        return {normalize_text(n) for n in QUOTED_NAME.findall(measure.text)} if measure is not None else set()

    if not hits or any(n in asked for n in names(hits[0])):
        return hits
    for i, hit in enumerate(hits[1:], start=1):
        if any(n in asked for n in names(hit)):
            return [hit] + hits[:i] + hits[i + 1:]
    return hits


def figures_first(hits: list[MeasureHit], context: Context, question: str = "") -> list[MeasureHit]:
    """For a question that asks for a figure (多少, 几档, 标准): when the best measure states no figure and one
    that scores nearly as well (within the relevance band that keeps a second citation) does, that one
    first. 住房租金扣除的标准分几档？: 第二十条 (not both 住房贷款利息 and 住房租金) names the topic as often as
    第十七条, which gives the three amounts."""
    def states_figures(hit: MeasureHit) -> bool:
        measure = context.catalog.measure(hit.doc_id, hit.measure_key)
        return measure is not None and bool(measure.targets)

    def states_asked(hit: MeasureHit) -> bool:
        measure = context.catalog.measure(hit.doc_id, hit.measure_key)
        return measure is not None and any(unit_class(t) in asked for t in measure.targets)

    # 子女教育专项附加扣除每月多少？ asks an amount: 第二条 (等6项专项附加扣除) states a count, 第五条 the 1000元
    asked = asked_units(question)
    if hits and asked and not states_asked(hits[0]):
        for i, hit in enumerate(hits[1:], start=1):
            if not context.relevance.keep_with(hit, hits[0]):
                break
            if states_asked(hit):
                return [hit] + hits[:i] + hits[i + 1:]
    if not hits or states_figures(hits[0]):
        return hits
    for i, hit in enumerate(hits[1:], start=1):
        if not context.relevance.keep_with(hit, hits[0]):
            break
        if states_figures(hit):
            return [hit] + hits[:i] + hits[i + 1:]
    return hits


# the kind of figure a question asks for: an amount of money, a length of time, a share
UNITS_ASKED = {
    "money": re.compile(r"多少钱|金额|[补奖扣给]多少|(?:扣除|补贴|补助|奖励|资助|扶持)(?:是|有|能)?多少|每[月年人]多少"),
    "time": re.compile(r"多久|多长时间|几年|几个月|多少年|多少个月|期限"),
    "share": re.compile(r"百分之|比例|几成|占比|比重|百分比"),
}


def asked_units(question: str) -> set[str]:
    """The kinds of figure ``question`` asks for (UNITS_ASKED), read without spaces (繼續教育 扣除 多少)."""
    flat = re.sub(r"\s+", "", question)
    return {name for name, pattern in UNITS_ASKED.items() if pattern.search(flat)}


def unit_class(target) -> str | None:
    """"money" (元), "time" (年, 个月, 日 …) or "share" (%) for a typed figure; None for a count."""
    if target.unit.endswith("元"):
        return "money"
    if target.kind == "duration" or target.unit in ("年", "个月", "月", "日", "天", "工作日"):
        return "time"
    return "share" if target.unit == "%" else None


OWN_DEPTH = 10  # hits searched when the place named has documents of its own
OWN_BAND = 0.6  # of the best score (a judgement; the question sets hold no place with documents at two levels)


def own_place_hit(kept: list[MeasureHit], hits: list[MeasureHit], asked: Asked) -> list[MeasureHit]:
    """For a question about a place that has documents of its own (吴中区的企业能享受哪些算力支持？), its own
    best measure when none is among ``kept`` and it scores at least ``OWN_BAND`` of the best: the levels
    above apply too, and may rank first, but the place's own measure is what the asker looks for."""
    own = set(asked.scope.own)
    if not own or any(h.doc_id in own for h in kept):
        return []
    best = next((h for h in hits if h.doc_id in own), None)
    return [best] if best is not None and best.score >= OWN_BAND * hits[0].score else []


def answer_search(asked: Asked, context: Context) -> AskResponse:
    if asked.scope.uncovered:
        return context.refusal(asked.scope, text=asked.scope.uncovered)
    question, intent, lang = asked.lexical, asked.intent, asked.lang
    foreign, holders = context.foreign_terms(question, asked.scope)
    if foreign:
        return context.refusal(asked.scope, text=not_applicable(foreign, holders, asked, context))
    searcher = context.searcher
    asked_text = without_story(asked.text) if lang == "zh" else asked.text.lower()  # what is asked, not the story
    hits = None if lang == "zh" and context.nothing_in_scope(question, asked.scope) else \
        retrieve(asked, context, question)
    if hits is None:
        missing = unstated(asked_text, []) if lang == "zh" else None
        if missing:  # 人民银行威海市分行在哪里办公？: what was asked, said not to be written, not only "not found"
            return context.refusal(asked.scope, text=f"已收录的政策文件没有写明{missing}，无法据此回答。"
                                                     + context.coverage(asked.scope) + "如需了解，请咨询相关主管部门。")
        return context.refusal(asked.scope, lang=lang)
    hits = newest_versions(hits, context)
    hits = without_purpose(hits, asked.text, context)
    hits = named_first(hits, asked.text, context)
    if intent.asks_figure:
        hits = figures_first(hits, context, asked.text)
    top = hits[:max(asked.top_k, 1)]
    kept = [top[0]] + [h for h in top[1:] if context.relevance.keep_with(h, top[0])]
    kept += own_place_hit(kept, hits, asked)
    if asked.scope.own:  # 在武汉…租房子能便宜点吗？: the place's own measures first, then those of the levels above
        kept = [h for h in kept if h.doc_id in asked.scope.own] + [h for h in kept if h.doc_id not in asked.scope.own]
    evidence = [context.evidence(h) for h in kept]
    missing = unstated(asked_text, [e.measure.title + e.measure.text for e in evidence])
    if missing:  # 局长是谁？ 在哪里办公？: no measure states it; quoting the nearest would not answer
        if lang != "zh":
            return context.refusal(asked.scope, lang=lang)
        return context.refusal(asked.scope, text=not_stated(missing, evidence[0], context.namer_for(asked)))
    if lang != "zh" and foreign_past_year(asked.text, evidence, context):  # What was the growth in 2025?
        return context.refusal(asked.scope, lang=lang)
    if intent.asks_figure:
        past = past_year(asked_text, evidence, context)
        if past:
            return context.refusal(asked.scope, text=past)
        evidence = [figure_evidence(e, searcher, question) for e in evidence]
        targets = [t for e in evidence for t in e.measure.targets]
        states_money = any(t.unit.endswith("元") for t in targets)
        # an amount or a share of support: 最高50万元 (cap), 每人1000元 (amount), 按30%给予补贴 (rate); a project
        # size (总投资500万元以上, threshold) or an output goal (新增产值190亿元, target) is none
        states_support = any(t.kind in ("amount", "cap") and t.unit.endswith("元") or t.kind == "rate"
                             for t in targets)
        if (SUPPORT_MONEY_ASKED if lang == "zh" else FOREIGN_MONEY).search(asked_text) and not states_support:
            # 专精特新企业奖励多少钱？: the measures set counts to reach (培育…家), no amount of support: offering the
            # counts would answer what the documents do not hold (the blind-written question sets label these
            # out of scope), so it is said to be unwritten, naming the nearest measure, as for asked_attributes.tsv
            if lang != "zh":
                return context.refusal(asked.scope, text=template(lang, "no_amount"))
            return context.refusal(asked.scope, text=not_stated("具体金额或奖补标准", evidence[0],
                                                                context.namer_for(asked)))
        if lang == "zh" and MONEY_ASKED.search(asked_text) and not states_money:
            # 失业保险金每个月能领多少钱？ beside the employment opinions: money asked, no measure cited states any
            # in 元; quoting them would answer what they do not hold (the blind sets label these out of scope)
            return context.refusal(asked.scope, text=not_stated("具体金额", evidence[0],
                                                                context.namer_for(asked)))
    answer = answers.retrieval_answer(
        evidence, context.namer_for(asked),
        figure_lines=figure_lines(evidence, searcher, question, context.namer_for(asked))
        if intent.asks_figure else None,
        department_first=intent.asks_department, lead_asked=intent.asks_department and asks_lead_only(asked.text))
    return AskResponse(answer=answer, found=True, intent="search", citations=[context.cite(e) for e in evidence])


# a question for an amount of money (多少钱, 奖励多少, 补贴标准, 资金…多少): its measure should state one in 元;
# money the asker has or makes is not asked (没多少钱, 能产出多少钱, 要借多少钱报给政府)
MONEY_ASKED = re.compile(r"(?<![没产卖赚挣借])(?<!产出)(?<!没有)(?<!不要)(?<!不了)多少钱|几万|多少万"
                         r"|金额(?:是|为|有|大概|一般)?(?:多少|多大|几)|多少金额"
                         r"|额度(?:是|有|能|可以)?(?:多少|多大|几)|多少(?:的)?额度"
                         r"|(?:奖励|奖补|补贴|补助|资助|资金|奖金|钱)(?:是|有|能|可以)?(?:多少|几)"
                         r"|(?:多少|几)(?:奖励|奖补|补贴|补助|资助|资金|奖金)|(?:补贴|补助|奖补|奖励)标准"
                         r"|[补奖给]多少|[补奖](?:了|个)?几")

# an amount of support asked (能补多少, 奖励多少钱, 补贴标准, 报销多少), not any money (每亩地产出多少钱)
SUPPORT_MONEY_ASKED = re.compile(r"(?:补|奖|资助|报销|给)(?:了|个)?(?:贴|助|励)?(?:多少|几)"
                                 # what a person or a studio gets: 个人能领多少…培训补贴, 每年能拿多少经费
                                 r"|(?:领|拿|得)(?:到)?多少[^，。？?]{0,10}(?:补贴|补助|奖励|奖金|经费|资金)"
                                 r"|(?:补贴|补助|奖励|奖补|奖金)[^，。？?]{0,8}(?:能|可以)?(?:拿|领|得)(?:到)?多少"
                                 r"|(?:补贴|补助|奖补|奖励|资助|奖金|资金)(?:是|有|能|可以)?(?:多少|几)"
                                 # a standard asked (奖补标准是什么？ 补贴比例？), not talked about (补助金额会公开吗)
                                 r"|(?:补贴|补助|奖补|奖励|资助|扶持资金|补偿|贴息)(?:标准|比例|金额|额度)"
                                 r"(?=(?:是|为|有|大概|一般)?(?:多少|多大|几|什么|啥|怎么算|咋算|如何)|[？?，,。]|$)|多少(?:补贴|补助|奖励|奖金|资金|补偿)"
                                 # a loan's cap (最高能贷多少, 贷款额度是多少): an amount a measure would state in 元
                                 r"|(?:能|可以|最高|最多)贷多少|贷款(?:的)?额度"
                                 r"|(?:补贴|补助|奖励|补偿)[^，。？?]{0,4}按(?:什么|啥|哪个)标准"
                                 # a share of support: 展位费报销几成, 按投资额的百分之几补贴
                                 r"|(?:补贴|补助|奖励|报销|资助|返还|贴息)[^，。？?]{0,6}(?:几成|百分之(?:多少|几))"
                                 r"|(?:几成|百分之(?:多少|几)|多大比例|什么比例)[^，。？?]{0,4}(?:补贴|补助|奖励|报销|资助|返还|贴息)"
                                 r"|(?:补贴|补助|贴息|奖励)[^，。？?]{0,4}(?:几个|多少个)百分点")

# the same asked in English or Korean (How much money can a smart factory get? 보조금은 얼마입니까?)
FOREIGN_MONEY = re.compile(r"how much (?:money|funding|subsidy|subsidies|reward|grant|support|cash)"
                           r"|\b(?:amount|sum) of (?:money|funding|the subsidy|the reward|support)|subsidy (?:rate|standard)"
                           r"|(?:보조금|지원금|장려금|상금|자금|금액|돈).{0,12}얼마|얼마.{0,6}(?:지원|보조|받)",
                           re.IGNORECASE)


# a year as the base of a comparison (比去年涨多少, 较上年增长) asks this year's growth, not the past's figure
YEAR_ASKED = re.compile(r"(?<![比较])(?<!相比)(?<!同比)(?:(?P<year>20\d\d)\s*年|(?P<rel>去年|前年|上一?年度?|过去一年))")
# a year asked as the time of a support (2025年认定的企业有什么奖励？) is a condition, not a past statistic
SUPPORT_ASKED = re.compile(r"奖励|奖补|补贴|补助|资助|支持|扶持|政策|申请|申报|享受|认定")


def past_year(question: str, evidence: list[Evidence], context: Context) -> str | None:
    """What to say when a figure of a past year is asked (2025年规上工业增加值是多少？ 去年新增了多少家？) and the
    measures found belong to documents issued after that year that do not name it: they set targets, not the
    past's figures. None when the question names no past year, or a document speaks of it. ``question`` comes
    without the clauses of the asker's story (intents.without_story: 去年给政府提的几个问题…)."""
    match = YEAR_ASKED.search(question)
    if match is None or SUPPORT_ASKED.search(question):
        return None
    year = int(match.group("year")) if match.group("year") else context.today.year - (
        2 if match.group("rel") == "前年" else 1)
    infos = _later_documents(year, evidence, context)
    if not infos:
        return None
    named = "、".join(dict.fromkeys(f"《{i.short_title}》（{i.year}年）" for i in infos))
    return (f"已收录的{named}写的是今后的工作目标，没有{year}年的实际数字。"
            f"往年的统计数据请查阅统计部门发布的统计公报，或咨询相关主管部门。")


# the same asked in English or Korean: a figure of a past year (What was the industrial growth in 2025? 2025년 …은?)
FOREIGN_PAST = re.compile(r"(?:what|how much|how many)\b.{0,80}\b(?:in|during|for)\s+(?P<year>20\d\d)\b"
                          r"|(?P<last>last year)|(?P<kyear>20\d\d)\s*년.{0,40}(?:얼마|몇|률|율)|(?P<klast>작년)",
                          re.IGNORECASE)
FOREIGN_SUPPORT = re.compile(r"subsid|support|reward|grant|polic|apply|application|지원|보조|장려|정책|신청", re.IGNORECASE)


def foreign_past_year(question: str, evidence: list[Evidence], context: Context) -> bool:
    """Whether an English or Korean question asks a past year's figure that the (later) documents found do not
    hold, as :func:`past_year` decides for Chinese."""
    match = FOREIGN_PAST.search(question)
    if match is None or FOREIGN_SUPPORT.search(question):
        return False
    year_text = match.group("year") or match.group("kyear")
    return bool(_later_documents(int(year_text) if year_text else context.today.year - 1, evidence, context))


def _later_documents(year: int, evidence: list[Evidence], context: Context) -> list:
    """The documents of ``evidence`` when every one was issued after ``year`` and no cited measure names it (they
    hold targets, not that year's figures), else []."""
    infos = [context.catalog.info(e.document.doc_id) for e in evidence]
    if any(i.year is None or i.year <= year for i in infos) or any(str(year) in e.measure.text for e in evidence):
        return []
    return infos


def not_stated(missing: str, nearest: Evidence, namer) -> str:
    """已收录的政策文件没有写明具体地址… naming the nearest measure, which does not state it either."""
    return (f"已收录的政策文件没有写明{missing}。与问题最接近的是{namer.measure(nearest.document, nearest.measure)}，"
            f"其中也没有{missing}。如需了解，请咨询相关主管部门。")


FIGURE_TIES = 3  # figure sentences shown per measure when several fit the question equally well


def figure_evidence(evidence: Evidence, searcher, question: str) -> Evidence:
    """For 多少/几家 questions: the measure's sentences that carry figures, best match first."""
    with_targets = [s for s in body(evidence.measure) if has_target(evidence.measure, s)]
    if not with_targets:
        return evidence
    tokens = set(searcher.tokenizer(question))
    overlap = {id(s): len(tokens & set(searcher.tokenizer(s.text))) for s in with_targets}
    best = max(overlap.values())
    # every sentence that fits as well as the best (up to FIGURE_TIES): 上限多少？街區店家的補助呢？ asks two
    tied = [s for s in with_targets if overlap[id(s)] == best][:FIGURE_TIES]
    # a figure clause cut at ； whose sentence goes on with another tier (九人以下者…三百萬元；十人以上者…五百萬元。):
    # the rest of the sentence too, so that every tier is quoted, not the first alone
    text, sentences = evidence.document.text, body(evidence.measure)
    rest = [n for t in tied for n in sentences[sentences.index(t) + 1:sentences.index(t) + 2]
            if t.text.rstrip().endswith(("；", ";")) and has_target(evidence.measure, n) and n not in tied
            and "\n" not in text[t.end:n.start]]
    tied = tied + rest
    chosen = tied + [s for s in evidence.sentences if s not in tied][:1]
    return Evidence(evidence.document, evidence.measure, sorted(chosen, key=lambda s: s.start), evidence.score)


_CLAUSE_END = re.compile(r"[；;。]")
_TAIL_END = re.compile(r"[，,；;。\n]")


def figure_clause(text: str, sentence_start: int, target) -> str:
    """The clause a figure closes: from the last ；/。 before it in its sentence to the figure's end
    (对…银行贷款，按…给予贴息，单个企业每年最高100万元 — what the amount is for, not only its phrase)."""
    head = text[sentence_start:target.start]
    cut = max((m.end() for m in _CLAUSE_END.finditer(head)), default=0)
    return text[sentence_start + cut:_clause_end(text, target.end)]  # what is counted may follow the number


def comma_clause(text: str, target) -> str:
    """The figure's own clause between commas (and ；。): 推进荣成、乳山 2 个省级绿电产业园建设 (looked for within
    200 characters before the figure)."""
    start = max(0, target.start - 200)
    cut = max((m.end() for m in _TAIL_END.finditer(text, start, target.start)), default=0)
    return text[max(start, cut):_clause_end(text, target.end)]


def _clause_end(text: str, at: int) -> int:
    """Where the clause going on at ``at`` ends: the next ，；。 or line break (推进荣成、乳山 2 个省级绿电产业园建设，)."""
    end = _TAIL_END.search(text, at)
    return end.start() if end else len(text)


def asked_as(target, question: str) -> bool:
    """Whether the figure is qualified the way the question asks: 最高 in both 最高补助多少？ and 最高20万元
    (the qualifier as parsed, or the words before the number as written)."""
    qualifier = target.qualifier or re.match(r"[^\d一二三四五六七八九十百千万两〇零.]*", target.text).group()
    return bool(qualifier) and qualifier in question


def figure_lines(evidence: list[Evidence], searcher, question: str, namer=None) -> list[str]:
    """The targets a 多少/几家 question asks about: per measure, those whose clause shares most words with
    it; a later measure's only when they fit as well as the first measure's best. With ``namer`` and measures
    of several documents, each figure says whose it is (武汉和海珠的算力补贴分别是多少？: 《武汉…》：…最高20万元补助)."""
    words = set(searcher.tokenizer(question))
    units = asked_units(question)
    several = namer is not None and len({e.document.doc_id for e in evidence}) > 1
    lines: list[str] = []
    seen: set[str] = set()
    owners: set[str] = set()  # documents whose figures are listed
    last_owner = None
    first_best = None
    for e in evidence:
        text = e.document.text
        # a figure qualified as asked (最高 in 最高补助多少？ and in 最高20万元) counts one word more; the words of
        # its own comma clause count again (2 个省级绿电产业园 before 960 万千瓦, both after 绿电产业园建设，)
        # … and a figure of the kind asked comes before any other (扣除多少 asks an amount: 每月400元, not the
        # 扣除期限…48个月 that shares more words with it)
        scored = [(len(words & set(searcher.tokenizer(figure_clause(text, s.start, t))))
                   + len(words & set(searcher.tokenizer(comma_clause(text, t)))) + asked_as(t, question)
                   + (unit_class(t) in units) * 2 * (len(words) + 1), t.phrase)
                  for s in e.sentences for t in e.measure.targets if s.start <= t.start < s.end]
        if not scored:
            continue
        best = max(overlap for overlap, _ in scored)
        # another document's first measure gives its own figures (武汉和海珠…分别: 海珠's as well as 武汉's)
        own_first = several and e.document.doc_id not in owners and best > 0
        if first_best is None:
            first_best = best
        elif (best == 0 or best < first_best) and not own_first:
            continue  # a weaker measure's figures would answer another question
        owners.add(e.document.doc_id)
        # a phrase that starts inside a bracket closes it first (以下称OPC）当年支持…): from after the bracket
        trimmed = (re.sub(r"^[^（(]*[）)]", "", phrase) or phrase for overlap, phrase in scored if overlap == best)
        phrases = [phrase for phrase in dict.fromkeys(trimmed) if phrase not in seen]
        seen.update(phrases)
        if several and phrases and e.document.doc_id != last_owner:
            # the document named before its first figure; the next ones, up to another document's, are its own too
            phrases[0] = f"《{namer.info(e.document).short_title}》：{phrases[0]}"
            last_owner = e.document.doc_id
        lines.extend(phrases)
    return lines[:4]
