"""Typed figures: targets (新增产值 190 亿元), caps (最高50万元), rates (按…的20%), thresholds
(营业收入2000万元以上的企业), durations (连续3年, 60个月) and amounts (每人每月1000元).

A figure is a number with a unit. Arabic and Chinese numerals both count (三千萬元 → 3000 万元,
百分之五十 → 50 %, 百个 → 100 个); a year (2026年), a date (3月18日), a model number (T1000)
or a label (第 1 7 条) never does. The kind comes from the words around the figure in its
clause, in this order:

- threshold: a condition to qualify — the clause goes on to 的/者 (…达到100个的, 九人以下者),
  or a time span with 以上 (参保1年以上), or 不超过 before a count (不超过10人);
- cap: 最高 / 不超过 / 上限 / 限额 / 以内 around money, or 每案 (每案为新臺幣三千萬元);
- rate: a percentage paid or counted (按…的50%, 费用的50%, 最高80%, 50%的标准, 不低于百分之五十);
- duration: a time span (连续3年, 60个月, 3—12个月, 试行一年);
- target: a goal — a percentage after 达到/提高到/增长…, money after 新增/产值/投资…, any count;
- amount: any other money (一次性奖励50万元, 每月400元, 100元/亩).
"""

from __future__ import annotations

import re
from dataclasses import replace

import zhconv

from corpus.numerals import to_number
from corpus.records import Sentence, Target

# Longest units first so that 万人次 wins over 人次 and 亿元 over 亿.
MONEY_UNITS = ("亿元", "万元", "千元", "元")
TIME_UNITS = ("个月", "小时", "年", "月", "天", "日", "周")
UNITS = (
    "万千瓦", "亿千瓦", "万人次", "台（套）", "台(套)", "万平方米", "平方米", "万台", "万吨", "万亩", "千瓦", "公里",
    "亿元", "万元", "千元", "元", "人次", "班次", "个月", "小时", "%", "％", "个", "家", "项", "台", "场", "人", "名",
    "条", "所", "座", "批", "倍", "吨", "件", "亩", "年", "天", "日", "周", "亿", "万",
)
QUALIFIERS = ("以上", "以下", "以内", "左右", "上下", "多")
LEADING = ("最高不超过", "最高不高于", "最多不超过", "最高", "最多", "最长不超过", "最长", "不超过", "不高于", "不低于",
           "不少于", "超过", "达到", "上限")
# Chinese numerals count only before these units (一批, 一体化, 一个纳税年度 are not figures).
_CN_UNITS = ("亿元", "万元", "元", "个月", "年", "天", "日", "周", "小时", "人", "名", "%", "亩", "倍", "个", "家")
_CN = "零〇一二两三四五六七八九十百千"
_UNIT = "|".join(re.escape(u) for u in UNITS)
FIGURE = re.compile(
    r"(?P<pct>百分之(?P<pn>[" + _CN + r"]+|\d+(?:\.\d+)?))(?P<pq>以上|以下|左右)?"
    r"|(?P<num>(?<![A-Za-z0-9.．\-第])\d+(?:\.\d+)?(?:\s*[—\-–~～至到]\s*\d+(?:\.\d+)?)?"
    r"|(?<![第每当全同首单])[" + _CN + r"]+)"
    r"\s*(?P<unit>" + _UNIT + r")(?P<per>/[亩吨人月年次件台平方米]+)?(?P<qualifier>\s*(?:" + "|".join(QUALIFIERS) + r"))?"
)
_CLAUSE_BREAK = re.compile(r"[，,；;。：:！？!?]")
_FILLER = re.compile(r"^(?:力争|争取|确保|年内|全年|努力|进一步|推动|实现)+")
_GOAL = re.compile(r"(?:达到|提高到|提升到|增长|增加到|突破|保持|稳定在|超过|新增|实现|完成|建成|建设|培育|打造|覆盖率|率达)$")
_MONEY_GOAL = re.compile(r"(?:新增|产值|营收|营业收入|投资|规模|余额|总额|实现|完成|达到|突破|增加值)")
_RATE_BEFORE = re.compile(r"(?:按|按照|返还|给予|补贴|补助|奖励|资助|之|的|最高|不超过|不低于|不高于)$")
_RATE_AFTER = re.compile(r"^(?:的(?:标准|比例|补贴|补助|奖励|风险补偿|资助)|给予|补贴|补助|扣除|奖励)")
_CAP_BEFORE = re.compile(r"(?:最高|最多|上限|不超过|不高于|不得超过|不能超过|每案[为為]?)[^，,；;。]{0,8}$")


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    left = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
    right_match = _CLAUSE_BREAK.search(text, end)
    right = right_match.start() if right_match else len(text)
    return left, right


def _kind(unit: str, before: str, after: str, qualifier: str | None, leading: str | None, per: str | None,
          listed_condition: bool) -> str:
    """The figure's kind from its clause: ``before`` and ``after`` are the clause's text around it."""
    money = unit in MONEY_UNITS
    time = unit in TIME_UNITS
    percent = unit == "%"
    condition = _is_condition(after) or listed_condition
    compares = bool(qualifier) or leading in ("超过", "达到", "不超过", "不低于", "低于", "高于") or bool(
        re.search(r"达到|超过|不低于|低于|高于|不超过", before[-12:]))
    if time:
        if qualifier == "以上" or (condition and qualifier):
            return "threshold"
        return "duration"
    if money:
        if leading in ("最高", "最高不超过", "最高不高于", "最多", "最多不超过", "不超过", "不高于", "上限") or \
                _CAP_BEFORE.search(before) or qualifier == "以内" or after.startswith(("限额", "上限")):
            return "cap"
        if condition and (compares or listed_condition):
            return "threshold"
        if per or not _MONEY_GOAL.search(before):
            return "amount"
        return "target"
    if percent:
        if condition and compares and not _RATE_BEFORE.search(before[-2:]):
            return "threshold"
        if leading in ("不低于", "不高于", "不超过", "最高") or _RATE_BEFORE.search(before) or _RATE_AFTER.search(after):
            return "rate"
        if _GOAL.search(before) or re.search(r"(?:达到|提高到|提升到|增长|占比|比重|率)", before[-12:]):
            return "target"
        return "rate"
    if leading == "不少于":
        return "target"
    if (condition and compares) or leading in ("不超过", "最多不超过"):
        return "threshold"
    return "target"


def _is_condition(after: str) -> bool:
    """The rest of the clause turns the figure into a condition: …的, …者, …之事业 (not 的标准, 的扶持)."""
    rest = re.sub(r"的(?:标准|比例|补贴|补助|奖励|资助|扶持|风险补偿)", "", after)
    return "的" in rest or "者" in rest[:4] or rest.startswith(("之", "以下之", "以上之"))


def extract_targets(document_text: str, sentence: Sentence, listed_condition: bool = False) -> list[Target]:
    """Typed figures in one sentence, with offsets into the document text.

    ``listed_condition``: the sentence is an item of a list of conditions (…符合下列条件：),
    so its figures are thresholds unless they are caps or rates.
    """
    raw = document_text[sentence.start: sentence.end]
    simplified = zhconv.convert(raw, "zh-hans")
    flat = simplified if len(simplified) == len(raw) else raw
    flat = flat.replace("萬", "万").replace("億", "亿").replace("個", "个")
    targets: list[Target] = []
    for match in FIGURE.finditer(flat):
        target = _figure(raw, flat, match, sentence.start, listed_condition)
        if target is None:
            continue
        previous = targets[-1] if targets else None
        between = raw[previous.end - sentence.start:target.start - sentence.start] if previous else ""
        if previous is not None and previous.unit == target.unit and re.fullmatch(r"\s*[、和或及]\s*(?:最高)?", between):
            target = replace(target, kind=previous.kind)  # 达到100个、200个、500个的: one list, one kind
        targets.append(target)
    return targets


def _figure(raw: str, flat: str, match: re.Match[str], offset: int, listed_condition: bool) -> Target | None:
    if match.group("pct"):
        number_text, unit = match.group("pn"), "%"
        qualifier = match.group("pq")
        is_cn = not number_text[0].isdigit()
    else:
        number_text, unit = match.group("num"), match.group("unit")
        qualifier = (match.group("qualifier") or "").strip() or None
        is_cn = not number_text[0].isdigit()
        if is_cn and unit not in _CN_UNITS:
            return None
    start, end = match.start(), match.end()
    before, after_all = flat[:start], flat[end:]
    if re.search(r"第[\s\u3000\u00a0\d]*$", before):
        return None  # a label or a reference: 第 1 7 条, 第十一条
    after = after_all[: (_CLAUSE_BREAK.search(after_all).start() if _CLAUSE_BREAK.search(after_all) else len(after_all))]
    unit = unit.replace("％", "%")
    if unit in ("亿", "万") and after_all[:1] in ("级", "元"):
        return None
    if unit in TIME_UNITS and not _plausible_time(number_text, unit, before, after_all):
        return None
    if is_cn and unit in ("个", "家") and (to_number(number_text) or 0) < 10:
        return None  # 一个纳税年度, 两家 — words, not figures
    if not is_cn and re.search(r"[—\-–~～至到]", number_text):
        high = re.split(r"\s*[—\-–~～至到]\s*", number_text)[-1]  # a range: 3—12个月 → 12
    else:
        high = number_text
    value = to_number(high)
    if value is None:
        return None
    if unit == "%" and match.group("pct") is None and value > 1000:
        return None
    leading = next((w for w in LEADING if before.endswith(w)), None)
    per = match.group("per")[1:] if match.group("per") else None
    if per is None:
        per_match = re.search(r"(每(?:人|个|户|家|月|年|亩|平方米|案|个子女)(?:每(?:月|年))?)$", before[-6:])
        per = per_match.group(1) if per_match else None
    clause_before = before[(max((m.end() for m in _CLAUSE_BREAK.finditer(before)), default=0)):]
    kind = _kind(unit, clause_before, after, qualifier, leading, per, listed_condition)
    text_start = start - len(leading) if leading in ("最高", "最高不超过", "不超过", "不低于", "不少于", "最长",
                                                       "最长不超过") else start
    left, right = _clause(flat, start, end)
    phrase = re.sub(r"\s*\n\s*", "", raw[left:right]).strip()
    phrase = _FILLER.sub("", phrase) or phrase
    return Target(
        value=float(value), value_text=re.sub(r"\s+", "", number_text), unit=unit, phrase=phrase,
        qualifier=qualifier if qualifier else None, text=raw[text_start:end],
        start=offset + text_start, end=offset + end, kind=kind, per=per,
    )


def _plausible_time(number_text: str, unit: str, before: str, after: str) -> bool:
    """A span of time, not a year (2026年), a date (3月18日) or a part of one."""
    digits = number_text if number_text[:1].isdigit() else ""
    if unit == "年":
        if digits and len(digits) >= 4:
            return False
        if after[:1] in "度级龄底初末份代来月期" or re.match(r"^\s*\d{1,2}\s*月", after):
            return False
    if unit == "月":
        return False  # 3月 is a month; a span is written 3个月
    if unit in ("日", "天") and re.search(r"月\s*$", before):
        return False
    return True
