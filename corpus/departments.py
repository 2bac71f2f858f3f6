"""Responsible departments: parsing the closing parenthesis of a measure and
resolving the short forms people use (工信局, 发改委, 人行) to full names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import zhconv

from corpus.segmentation import repair

# The closing parenthesis of a measure: （市工业和信息化局、商务局按职责分工负责）.
# Full- and half-width parentheses both occur; a page break may split it.
DEPARTMENTS_AT_END = re.compile(
    r"[（(]\s*(?P<inner>[^（）()]{2,300}?(?:负责|負責|牵头|牽頭|配合))\s*[）)]\s*$"
)
_WORDING = re.compile(r"(?P<wording>按职责分工负责|按职责分工|牵头负责|负责|牵头|配合)$")
_OWN_NAME_PREFIXES = ("市", "省", "县", "区", "国家", "中国", "威海", "人民银行", "国家金融")

# Short forms heard on the hotline → the full name used in the documents.
ALIASES: dict[str, str] = {
    "工信局": "市工业和信息化局",
    "工信": "市工业和信息化局",
    "工业和信息化局": "市工业和信息化局",
    "经信局": "市工业和信息化局",
    "发改委": "市发展改革委",
    "发改局": "市发展改革委",
    "发展改革委": "市发展改革委",
    "发展和改革委员会": "市发展改革委",
    "自然资源局": "市自然资源和规划局",
    "自规局": "市自然资源和规划局",
    "规划局": "市自然资源和规划局",
    "国土局": "市自然资源和规划局",
    "环保局": "市生态环境局",
    "生态局": "市生态环境局",
    "环境局": "市生态环境局",
    "农业局": "市农业农村局",
    "农业农村": "市农业农村局",
    "海洋局": "市海洋发展局",
    "海洋发展": "市海洋发展局",
    "科技局": "市科技局",
    "财政局": "市财政局",
    "商务局": "市商务局",
    "市场监督管理局": "市市场监管局",
    "市场监管局": "市市场监管局",
    "市监局": "市市场监管局",
    "市场监管": "市市场监管局",
    "工商局": "市市场监管局",
    "质监局": "市市场监管局",
    "交通局": "市交通运输局",
    "交通运输": "市交通运输局",
    "海关": "威海海关",
    "人行": "人民银行威海市分行",
    "人民银行": "人民银行威海市分行",
    "央行": "人民银行威海市分行",
    "人民银行威海分行": "人民银行威海市分行",
    "组织部": "市委组织部",
    "人社局": "市人力资源社会保障局",
    "人社": "市人力资源社会保障局",
    "人力资源和社会保障局": "市人力资源社会保障局",
    "人力资源社会保障局": "市人力资源社会保障局",
    "大数据局": "市大数据局",
    "国资委": "市国资委",
    "国资": "市国资委",
    "司法局": "市司法局",
    "应急局": "市应急局",
    "应急管理局": "市应急局",
}


@dataclass(frozen=True)
class DepartmentLine:
    departments: list[str]
    responsibility: str | None  # the wording as written: 负责 / 按职责分工负责 / 牵头 ...
    text: str  # the parenthesis' content, page breaks repaired


def parse_department_line(inner: str) -> DepartmentLine:
    """``市科技局、工业和信息化局，威海海关按职责分工负责`` → full names + wording.

    Within a 、-list the 市 of the first name distributes over the others;
    after a comma each unit keeps its own name (威海海关, 人民银行威海市分行).
    """
    text = repair(inner)
    flat = zhconv.convert(re.sub(r"\s+", "", text), "zh-hans")
    wording = _WORDING.search(flat)
    responsibility = wording.group("wording") if wording else None
    names_part = flat[: wording.start()] if wording else flat
    departments: list[str] = []
    for group in re.split(r"[，,；;]", names_part):
        items = [item for item in re.split(r"[、/]", group) if item]
        if not items:
            continue
        prefix = "市" if _has_own_name(items[0]) and items[0].startswith("市") else ""
        for item in items:
            name = item if _has_own_name(item) else prefix + item
            if name not in departments:
                departments.append(name)
    return DepartmentLine(departments=departments, responsibility=responsibility, text=text)


def _has_own_name(item: str) -> bool:
    """市科技局 has its own prefix; 市场监管局 does not (市场 is a word)."""
    return item.startswith(_OWN_NAME_PREFIXES) and not item.startswith("市场")


def alias_table(known: Iterable[str]) -> dict[str, str]:
    """Every way to name a known department → its full name.

    Built from the names themselves (with and without 市) plus the common
    short forms; aliases whose target is not in the corpus are left out.
    """
    known = list(dict.fromkeys(known))
    table: dict[str, str] = {}
    for name in known:
        table[name] = name
        if name.startswith("市") and len(name) > 3:
            table.setdefault(name[1:], name)
    for alias, target in ALIASES.items():
        if target in known:
            table.setdefault(alias, target)
    return table


def find_departments(text: str, known: Iterable[str]) -> list[str]:
    """Full names of the departments mentioned in ``text``, longest mention first wins."""
    table = alias_table(known)
    found: list[tuple[int, str]] = []
    taken = [False] * len(text)
    for alias in sorted(table, key=len, reverse=True):
        for match in re.finditer(re.escape(alias), text):
            if any(taken[match.start() : match.end()]):
                continue
            for i in range(match.start(), match.end()):
                taken[i] = True
            found.append((match.start(), table[alias]))
    return list(dict.fromkeys(name for _, name in sorted(found)))
