"""Document facts: 文号, issuer, dates, validity, title, notice, place and level.

Dates come in every common form: 2026年5月16日, 2026 年 5 月 16 日, (2023年2月8日),
二〇二六年五月十六日 and 中華民國一百十二年四月十四日 (民国 year + 1911). 文号 come with
any bracket (〔〕 [] （） 【】 ［］) or as 經工字第 11251009320 號.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import zhconv

from corpus.numerals import CN_NUMERAL_CHARS, digit_string_year, to_int

_YEAR_CN = r"[〇○零一二三四五六七八九]{4}"
_SMALL_CN = rf"[{CN_NUMERAL_CHARS}]{{1,3}}"
_S = r"[\s\u00a0\u3000]*"
DATE = re.compile(
    rf"(?:(?P<roc>中華民國|中华民国|民國|民国){_S}(?P<ry>[{CN_NUMERAL_CHARS}\d]{{1,5}}){_S}年"
    rf"|(?P<y>\d{{4}}|{_YEAR_CN}){_S}年)"
    rf"{_S}(?P<m>\d{{1,2}}|{_SMALL_CN}){_S}月{_S}(?P<d>\d{{1,2}}|{_SMALL_CN}){_S}[日号]"
)
DOC_NUMBER = re.compile(
    r"(?P<number>[\u4e00-\u9fff]{1,12}[\s\u3000]*[〔\[［【(（][\s\u3000]*\d{4}[\s\u3000]*[〕\]］】)）][\s\u3000]*第?[\s\u3000]*\d{1,5}[\s\u3000]*[号號])"
    r"|(?P<tw>[\u4e00-\u9fff]{2}字[\s\u3000]*第[\s\u3000]*\d{3,14}[\s\u3000]*[号號])"
)
_EFFECTIVE = re.compile(
    rf"自(?P<when>(?:\d{{4}}|{_YEAR_CN}){_S}年.{{1,12}}?[日号]|(?:本\w{{0,4}})?(?:印发|发布|公布|發布|公佈|颁布|頒布)(?:之)?日)起?{_S}(?:施行|实施|實施|执行|生效)"
)
_EXPIRES = re.compile(rf"有效期(?:至|到|截至|截止)(?:到)?{_S}(?P<when>(?:\d{{4}}|{_YEAR_CN}){_S}年.{{1,12}}?[日号])")
_TERM = re.compile(rf"(?:有效期|试行期?|試行期?)(?:为|為)?(?P<n>\d{{1,2}}|[一二两三四五六七八九十]{{1,2}})(?:个)?年")
ISSUER_END = ("办公室", "办公厅", "人民政府", "委员会", "常务委员会", "局", "厅", "部", "委", "院", "中心", "政府",
              "辦公室", "辦公廳", "委員會", "廳")
TITLE_WORDS = ("方案", "办法", "辦法", "意见", "意見", "规划", "規劃", "细则", "細則", "措施", "条例", "條例", "规定",
               "規定", "通知", "决定", "決定", "计划", "計劃", "纲要", "綱要", "政策", "实施意见", "若干意见", "指引",
               "指南", "清单", "标准", "准则")
_PLACE = re.compile(r"^(?P<place>(?:[\u4e00-\u9fff]{2,7}?(?:省|自治区|特别行政区|市|自治州|地区|盟|州|区|县|旗))+)")
_NATIONAL = ("国务院", "國務院", "中共中央", "全国人民代表大会", "国家", "經濟部", "经济部")


def iso_date(text: str) -> str | None:
    """The first date in ``text`` as ISO ``YYYY-MM-DD``, or None."""
    match = DATE.search(text)
    return _iso(match) if match else None


def _iso(match: re.Match[str]) -> str | None:
    if match.group("roc"):
        roc = to_int(match.group("ry"))
        year = roc + 1911 if roc else None
    else:
        year = digit_string_year(match.group("y"))
    month, day = to_int(match.group("m")), to_int(match.group("d"))
    try:
        return date(year, month, day).isoformat() if year and month and day else None
    except ValueError:
        return None


def all_dates(text: str) -> list[tuple[int, int, str]]:
    """Every date in ``text``: (start, end, ISO)."""
    out = []
    for match in DATE.finditer(text):
        iso = _iso(match)
        if iso:
            out.append((match.start(), match.end(), iso))
    return out


def doc_number(text: str) -> str | None:
    """The first 文号 in ``text``, whitespace removed: 威政办字〔2026〕10号, 經工字第11251009320號."""
    match = DOC_NUMBER.search(text)
    if not match:
        return None
    return re.sub(r"[\s\u3000]+", "", match.group(0))


def is_date_line(line: str) -> bool:
    """A line that is only a date (a signature's date), possibly in parentheses or padded."""
    squeezed = re.sub(r"[\s\u00a0\u3000]+", "", line).strip("()（）")
    match = DATE.fullmatch(squeezed)
    return match is not None and _iso(match) is not None


@dataclass(frozen=True)
class Validity:
    effective_on: str | None
    expires_on: str | None


def validity(text: str, issued_on: str | None) -> Validity:
    """自…起施行 / 有效期至… / 有效期X年 / 试行一年 in ``text`` (the document's own clauses).

    "自印发之日起施行" takes the issue date; a term of N years ends the day before the
    N-th anniversary of the effective date.
    """
    flat = zhconv.convert(text, "zh-hans")
    effective = None
    for match in _EFFECTIVE.finditer(flat):
        when = match.group("when")
        effective = iso_date(when) if re.search(r"\d|年", when) and "日" in when and "印发" not in when else issued_on
        if effective:
            break
    expires = None
    match = _EXPIRES.search(flat)
    if match:
        expires = iso_date(match.group("when"))
    elif effective or issued_on:
        term = _TERM.search(flat)
        if term:
            years = to_int(term.group("n"))
            start = date.fromisoformat(effective or issued_on)
            try:
                expires = (start.replace(year=start.year + years) - timedelta(days=1)).isoformat()
            except ValueError:  # 29 February
                expires = (start.replace(year=start.year + years, day=28)).isoformat()
    return Validity(effective, expires)


def place_and_level(issuer: str | None, title: str) -> tuple[str | None, str | None]:
    """Where a document applies and its level, from its issuer (or title).

    国务院 → ("全国", "national"); 广东省人民政府办公厅 → ("广东省", "province");
    武汉市人民政府 → ("武汉市", "city"); 广州市海珠区人工智能发展局 → ("广州市海珠区", "district");
    北京市 (a municipality) → ("北京市", "province").
    """
    for source in (issuer or "", title or ""):
        source = zhconv.convert(re.sub(r"\s+", "", source), "zh-hans")
        if not source:
            continue
        if source.startswith(_NATIONAL):
            return "全国", "national"
        match = _PLACE.match(source)
        if match:
            place = match.group("place")
            return place, _level_of(place)
    return None, None


def _level_of(place: str) -> str:
    if place.endswith(("区", "旗")) and not place.endswith(("自治区", "特别行政区", "地区")):
        return "district"
    if place.endswith("县"):
        return "county"
    if place.endswith(("省", "自治区", "特别行政区")) or place in ("北京市", "上海市", "天津市", "重庆市"):
        return "province"
    return "city"


def level_prefix_for(level: str | None, place: str | None) -> str | None:
    """The prefix a bare local department takes in a document of this level (省财政厅, 市财政局).

    A municipality directly under the State Council (北京市) is a province whose units say 市.
    """
    if level == "province":
        return "市" if (place or "").endswith("市") else "省"
    return {"city": "市", "district": "区", "county": "县"}.get(level or "")


def place_names(place: str | None) -> tuple[str, ...]:
    """Names of the place's units as they start a unit name: 广州市海珠区 → 广州, 广州市, 海珠, 海珠区."""
    if not place or place == "全国":
        return ()
    names: list[str] = []
    for unit in re.findall(r"[\u4e00-\u9fff]+?(?:省|自治区|市|自治州|地区|盟|州|区|县|旗)", place):
        names.append(unit)
        bare = re.sub(r"(?:省|自治区|市|自治州|地区|盟|州|区|县|旗)$", "", unit)
        if len(bare) >= 2:
            names.append(bare)
    return tuple(dict.fromkeys(names))
