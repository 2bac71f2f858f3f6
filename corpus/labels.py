"""Numbering labels at the start of a line: 第一章, 第五条, 一、, （一）, 1., （1）, ①.

Each label has a *style*; styles rank from the top of a document down, as the
national standard for official documents (GB/T 9704) and legal drafting use them:
第X章/编 > 第X节 > 第X条 > 一、 > （一） > 1. > （1） > ①. Odd forms read the same:
第 1 0 条 (spaces inside), 第 1 條, non-breaking or full-width spaces after a label,
ASCII (一) beside full-width （一）, 1． with a full-width dot, 1、.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.numerals import CN_NUMERAL_CHARS, to_int

_N_CN = rf"[{CN_NUMERAL_CHARS}]{{1,6}}"
_N_ANY = rf"(?:[{CN_NUMERAL_CHARS}]{{1,6}}|[0-9０-９](?:[\s\u00a0\u3000]?[0-9０-９]){{0,3}})"
_SP = r"[\s\u00a0\u3000]*"

# (style, rank, pattern). The pattern matches at the start of a trimmed line; group "num" is the ordinal.
STYLES: tuple[tuple[str, int, re.Pattern[str]], ...] = (
    ("chapter", 0, re.compile(rf"第{_SP}(?P<num>{_N_ANY}){_SP}[章编編](?![程制])")),
    ("part", 0, re.compile(rf"第{_SP}(?P<num>{_N_ANY}){_SP}部分")),
    ("subchapter", 1, re.compile(rf"第{_SP}(?P<num>{_N_ANY}){_SP}[节節](?![日约])")),
    ("article", 2, re.compile(rf"第{_SP}(?P<num>{_N_ANY}){_SP}[条條](?![款例件])")),
    ("cn", 3, re.compile(rf"(?P<num>{_N_CN}){_SP}[、，,．](?![\d])")),
    ("paren_cn", 4, re.compile(rf"[（(]{_SP}(?P<num>{_N_CN}){_SP}[）)]")),
    ("arabic", 5, re.compile(r"(?P<num>\d{1,3})[\s\u00a0\u3000]*(?:[.．、](?![\d０-９])|[\u00a0\u3000]+(?=[\u4e00-\u9fff]))")),
    ("paren_arabic", 6, re.compile(rf"[（(]{_SP}(?P<num>\d{{1,3}}){_SP}[）)]")),
    ("circled", 7, re.compile(r"(?P<num>[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳])")),
)
RANK = {style: rank for style, rank, _ in STYLES}
ARTICLE_STYLES = frozenset({"article"})
# What a style looks like, for messages ("measures follow 1.").
SHOW = {"chapter": "第X章", "part": "第X部分", "subchapter": "第X节", "article": "第X条", "cn": "一、",
        "paren_cn": "（一）", "arabic": "1.", "paren_arabic": "（1）", "circled": "①"}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
# A short lead-in before a label that an aggregator added (施行说明：第十九条 …).
_PREFIX = re.compile(r"[\u4e00-\u9fff]{2,6}[：:][\s\u00a0\u3000]*")


@dataclass(frozen=True)
class Label:
    style: str
    number: int
    text: str  # as written, whitespace removed: 第十条, （三）, 1.
    start: int  # offset of the label in the line (after a lead-in prefix)
    end: int  # offset just after the label and the spaces that follow it
    prefixed: bool = False  # found after a short lead-in such as 施行说明：

    @property
    def rank(self) -> int:
        return RANK[self.style]


def match_label(line: str, allow_prefix: bool = True) -> Label | None:
    """The numbering label at the start of ``line`` (already trimmed), or None.

    With ``allow_prefix``, a label after a short lead-in ending in ：is found too
    (marked ``prefixed``); the caller accepts it only where it continues a sequence.
    """
    found = _match_at(line, 0)
    if found is None and allow_prefix:
        lead = _PREFIX.match(line)
        if lead:
            found = _match_at(line, lead.end())
            if found is not None and found.style in ("article", "cn", "arabic", "paren_cn"):
                return Label(found.style, found.number, found.text, found.start, found.end, prefixed=True)
            return None
    return found


def _match_at(line: str, offset: int) -> Label | None:
    for style, _, pattern in STYLES:
        match = pattern.match(line, offset)
        if not match:
            continue
        raw = match.group("num")
        number = _CIRCLED.index(raw) + 1 if style == "circled" else to_int(raw)
        if number is None or number <= 0 or number > 999:
            continue
        end = match.end()
        while end < len(line) and line[end] in " \t\u00a0\u3000":
            end += 1
        text = re.sub(r"[\s\u00a0\u3000]+", "", line[match.start():match.end()])
        if style == "cn" and text.endswith(("，", ",")):
            continue  # 一，二， are enumerations inside a sentence, not labels
        return Label(style, number, text, match.start(), end)
    return None
