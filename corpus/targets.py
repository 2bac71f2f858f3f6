"""Quantified targets: 新增产值 190 亿元, 增长 7%以上, 覆盖率达到98%, 2.4 万人次."""

from __future__ import annotations

import re

from corpus.records import Sentence, Target

# Longest units first so that 万人次 wins over 人次 and 亿元 over 亿.
UNITS = (
    "万千瓦", "万人次", "台（套）", "台(套)", "亿元", "万元", "万台", "万吨", "万平方米", "平方米",
    "人次", "班次", "千瓦", "公里", "%", "％", "个", "家", "项", "台", "场", "人", "名",
    "条", "所", "座", "批", "倍", "吨", "亿", "万",
)
QUALIFIERS = ("以上", "以下", "以内", "左右", "上下", "多")
_NUMBER = r"(?<![A-Za-z0-9.．])(?P<value>\d+(?:\.\d+)?)"
TARGET = re.compile(
    _NUMBER
    + r"\s*(?P<unit>" + "|".join(re.escape(u) for u in UNITS) + r")"
    + r"(?P<qualifier>\s*(?:" + "|".join(QUALIFIERS) + r"))?"
)
_CLAUSE_BREAK = re.compile(r"[，,；;。：:！？!?]")
_FILLER = re.compile(r"^(?:力争|争取|确保|年内|全年|努力|进一步|推动|实现)+")


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    left = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
    right_match = _CLAUSE_BREAK.search(text, end)
    right = right_match.start() if right_match else len(text)
    return left, right


def extract_targets(document_text: str, sentence: Sentence) -> list[Target]:
    """Figures with units in one sentence, with offsets into the document text.

    A year (2026 年) or a model number (T1000) is not a target: only a number
    followed by a unit counts, and not one glued to a Latin letter.
    """
    raw = document_text[sentence.start : sentence.end]
    targets: list[Target] = []
    for match in TARGET.finditer(raw):
        unit = match.group("unit")
        after = raw[match.end(): match.end() + 1]
        if unit in ("亿", "万") and after in ("级", "元"):
            continue
        qualifier = (match.group("qualifier") or "").strip() or None
        left, right = _clause(raw, match.start(), match.end())
        phrase = re.sub(r"\s*\n\s*", "", raw[left:right]).strip()
        phrase = _FILLER.sub("", phrase) or phrase
        targets.append(
            Target(
                value=float(match.group("value")),
                value_text=match.group("value"),
                unit=unit.replace("％", "%"),
                phrase=phrase,
                qualifier=qualifier,
                text=match.group(0),
                start=sentence.start + match.start(),
                end=sentence.start + match.end(),
            )
        )
    return targets
