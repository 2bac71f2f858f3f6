"""Responsible departments: the markers a measure names them in, their roles, and their full names.

Markers come in every form real documents use:

- a closing parenthesis: （市工业和信息化局、商务局按职责分工负责）, （市场监管总局负责）,
  （税务总局、财政部、海关总署负责，排在第一位的部门为牵头部门，下同）, （X牵头负责，Y、Z配合）,
  （国家发展改革委会同有关部门负责）;
- an inline labelled parenthesis, possibly several in one measure: （责任单位：市科技局、市财政局）,
  （牵头单位：市政府办（金融），责任单位：市委组织部（人才办）、…）;
- a line of its own: 责任单位：…, 牵头单位：…；配合单位：…;
- the same label after the last sentence of the measure's line: …最高50万元。牵头单位：区科技局；配合单位：….

Roles: 牵头 → lead, 配合/协助 → cooperate, X会同Y → X lead and Y cooperate, everything
else → responsible. A note 列第一位者为牵头单位 / 排在第一位的部门为牵头部门 makes the first
unit of its marker the lead, and with 下同 that of every later marker too.

Names: the level prefix (省/市/区/县) of a list's first unit distributes over the units
after it in the same 、 list (市科技局、工业和信息化局 → 市工业和信息化局); a local
department without any prefix takes the issuer's level (财政厅 in a 省 document →
省财政厅); 广州、深圳、东莞市政府 → 广州市政府, 深圳市政府, 东莞市政府; collective
entries (有关部门, 各省级人民政府, 各区县（市）政府) stay one entry each. The word lists
behind these rules live in ``corpus/data/departments.json`` (see its README).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import zhconv

from corpus.records import Department
from corpus.segmentation import DEPARTMENT_LABEL, repair

DATA_FILE = Path(__file__).parent / "data" / "departments.json"

_ROLE_LABEL = re.compile(
    r"(?P<label>(?:牵头|责任|配合|协办|协助|参与|主办|承办|实施|主责)(?:单位|部门|主体))\s*[：:]\s*")
_LINE_MARKER = re.compile(rf"^[\s\u3000\u00a0]*{DEPARTMENT_LABEL}")
# a label after a sentence's end on the measure's own line: …每年最高50万元。牵头单位：区科技局；配合单位：…
_INLINE_LABEL = re.compile(rf"(?<=[。；;！!])[\s\u3000]*(?={DEPARTMENT_LABEL})")
_LEAD_NOTE = re.compile(r"(?:列|排)(?:在)?第一(?:位|个)的?(?:者|单位|部门)?.{0,3}?为?牵头")
_WORDING = re.compile(r"(?P<wording>按职责分工负责|按职责分工|分工负责|牵头负责|共同负责|负责|牵头|配合|协助|参与)$")
_ANGLE_NOTE = re.compile(r"〈[^〈〉]*〉|<[^<>]*>")
_LEVELS = ("省", "市", "区", "县")
_NOT_LEVEL = ("市场", "市民", "区域", "县域", "省级", "区块")
# A level word inside a name marks a place of its own: 团市委, 高新区, 东莞市政府 (not 城市, 市场, 区域).
_INNER_PLACE = re.compile(r"(?<!城)[省市区县](?![场民域级])")
_PLACE_SUFFIX = re.compile(r"^(?P<place>[\u4e00-\u9fff]{2,4}?)(?P<suffix>[市区县省](?:人民政府|政府|委|党委|政府办公室|政府办)?)$")


@dataclass(frozen=True)
class Vocabulary:
    """The word lists of ``corpus/data/departments.json``, loaded once."""

    unit_suffixes: tuple[str, ...]
    local_suffixes: tuple[str, ...]
    national_suffixes: tuple[str, ...]
    collective_starts: tuple[str, ...]
    own_name_starts: tuple[str, ...]
    aliases: tuple[tuple[str, ...], ...]
    bare_aliases: frozenset[str] = frozenset()


@lru_cache(maxsize=None)
def vocabulary(path: Path = DATA_FILE) -> Vocabulary:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Vocabulary(
        unit_suffixes=tuple(sorted(data["unit_suffixes"], key=len, reverse=True)),
        local_suffixes=tuple(data["local_suffixes"]),
        national_suffixes=tuple(data["national_suffixes"]),
        collective_starts=tuple(data["collective_starts"]),
        own_name_starts=tuple(data["own_name_starts"]),
        aliases=tuple(tuple(group) for group in data["aliases"]),
        bare_aliases=frozenset(data.get("bare_aliases", ())),
    )


@dataclass(frozen=True)
class Issuer:
    """What a document's issuer says about the names inside it.

    ``prefix`` is the level letter a bare local department takes (省/市/区/县, or None for
    a national issuer); ``places`` are place names whose units keep their own names
    (泰安金融监管分局 in a 泰安 document).
    """

    prefix: str | None = None
    places: tuple[str, ...] = ()


@dataclass(frozen=True)
class Marker:
    """One department marker found in a document's text."""

    start: int  # span in the document text: the parenthesis with its brackets, or the line
    end: int
    units: tuple[Department, ...]
    wording: str | None  # 负责, 按职责分工负责, 牵头负责, 责任单位, ... as written
    text: str  # the marker's content, page breaks repaired
    lead_note: bool = False  # 列第一位者为牵头单位
    sticky: bool = False  # … 下同: the note holds for later markers too
    problem: str | None = None


def level_prefix(name: str) -> str | None:
    """The level letter a name starts with: 市科技局 → 市, 市民政局 → 市; 市场监管局 → None."""
    if name[:1] not in _LEVELS:
        return None
    if name.startswith(_NOT_LEVEL) and not name[1:].startswith(_known_cores()) and not _cut_after_level(name):
        return None
    return name[0]


@lru_cache(maxsize=1024)
def _cut_after_level(name: str) -> bool:
    """Whether jieba's dictionary cuts the level letter off as a word of its own: 市|民营|经济|发展局 (a city's
    民营经济发展局), but 市民|服务中心, 市场|监管局, 区域|发展|中心 (no level). Loads jieba's dictionary on
    first use (corpus.jieba_words, shared with the index's tokenizers); only names that start with 市民, 市场,
    区域 … ask."""
    from corpus.jieba_words import default_jieba

    return default_jieba().lcut(name, HMM=False)[0] == name[0]


@lru_cache(maxsize=1)
def _known_cores() -> tuple[str, ...]:
    return tuple(alias for group in vocabulary().aliases for alias in group if len(alias) >= 2)


def _split_top(text: str, separators: str) -> list[str]:
    """Split at separators that are not inside parentheses (市政府办（金融）stays whole)."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "（(【[〔":
            depth += 1
        elif ch in "）)】]〕" and depth:
            depth -= 1
        if ch in separators and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]


def _strip_parens(text: str) -> str:
    return re.sub(r"[（(][^（）()]*[）)]", "", text)


class Namer:
    """Turns the names of one marker into full names, in the context of one issuer."""

    def __init__(self, issuer: Issuer, vocab: Vocabulary | None = None):
        self.issuer = issuer
        self.vocab = vocab or vocabulary()

    def looks_like_unit(self, name: str) -> bool:
        base = _strip_parens(name)
        if not base or len(base) > 40:
            return False
        return base.startswith(self.vocab.collective_starts) or base.endswith(self.vocab.unit_suffixes)

    def has_own_name(self, name: str) -> bool:
        if level_prefix(name) or name.startswith(self.vocab.own_name_starts + self.vocab.collective_starts):
            return True
        if any(place and name.startswith(place) for place in self.issuer.places):
            return True
        return bool(_INNER_PLACE.search(_strip_parens(name), 1))

    def full_names(self, names: list[str]) -> list[str]:
        """One 、 list as written → full names (prefix distributed, place lists split)."""
        names = [self._clean(n) for n in names]
        names = [n for n in names if n]
        if not names:
            return []
        names = self._split_place_list(names)
        first = level_prefix(names[0])
        collective = names[0].startswith(self.vocab.collective_starts)  # 各县（市、区）人民政府、功能区管委会
        out = []
        for name in names:
            if self.has_own_name(name):
                out.append(name)
            elif first:
                out.append(first + name)
            elif self.issuer.prefix and self._is_local(name) and not collective:
                out.append(self.issuer.prefix + name)
            else:
                out.append(name)
        return out

    def _is_local(self, name: str) -> bool:
        base = _strip_parens(name)
        return base.endswith(self.vocab.local_suffixes) and not base.endswith(self.vocab.national_suffixes)

    def _split_place_list(self, names: list[str]) -> list[str]:
        """广州、深圳、东莞市政府 → 广州市政府, 深圳市政府, 东莞市政府."""
        if len(names) < 2:
            return names
        last = _PLACE_SUFFIX.match(names[-1])
        if not last or not all(2 <= len(n) <= 4 and not n.endswith(self.vocab.unit_suffixes) for n in names[:-1]):
            return names
        return [n + last.group("suffix") for n in names[:-1]] + [names[-1]]

    @staticmethod
    def _clean(name: str) -> str:
        name = _ANGLE_NOTE.sub("", name).strip(" 　、，,；;。：:")
        name = re.sub(r"^(?:等|由|具体由)", "", name)
        name = re.sub(r"等(?=(?:有关|相关|其他)?(?:部门|单位))", "", name)
        if name.endswith("等") and len(name) > 2:
            name = name[:-1]
        return name


_ROLE_OF_LABEL = {"牵头": "lead", "配合": "cooperate", "协办": "cooperate", "协助": "cooperate", "参与": "cooperate"}
_ROLE_OF_WORDING = {"牵头负责": "lead", "牵头": "lead", "配合": "cooperate", "协助": "cooperate", "参与": "cooperate"}


def parse_marker_text(inner: str, namer: Namer) -> tuple[list[Department], str | None, bool, bool] | None:
    """The content of a marker → (units, wording, lead note, sticky), or None if it names no unit.

    ``inner`` is the text inside the parenthesis (or the whole line), as written.
    """
    flat = zhconv.convert(re.sub(r"\s+", "", repair(inner)), "zh-hans")
    flat = _ANGLE_NOTE.sub("", flat)
    sentences = _split_top(flat, "。")
    # after the first full stop come notes (列第一位者为牵头单位，下同 / 以下各项任务…不再列出), not names
    notes = "。".join(sentences[1:])
    flat = sentences[0] if sentences else ""
    # a note in brackets after the names: 责任单位：省工业和信息化厅、省通信管理局（列第一位的为牵头单位，下同）
    for bracketed in re.findall(r"[（(][^（）()]*[）)]", flat):
        if _LEAD_NOTE.search(bracketed):
            notes += "。" + bracketed[1:-1]
            flat = flat.replace(bracketed, "")
    clauses = _split_top(flat, "，,；;")
    lead_note = any(_LEAD_NOTE.search(c) for c in clauses) or bool(_LEAD_NOTE.search(notes))
    sticky = lead_note and "下同" in flat + notes
    clauses = [c for c in clauses if not _LEAD_NOTE.search(c) and c not in ("下同", "以下同")]
    if not clauses:
        return None
    if _ROLE_LABEL.match(clauses[0]):
        units, wording = _labelled(clauses, namer)
    else:
        parsed = _worded(clauses, namer)
        if parsed is None:
            return None
        units, wording = parsed
    if not units:
        return None
    return units, wording, lead_note, sticky


def _labelled(clauses: list[str], namer: Namer) -> tuple[list[Department], str]:
    units: list[Department] = []
    role, wording = "responsible", None
    for clause in clauses:
        label = _ROLE_LABEL.match(clause)
        if label:
            word = label.group("label")
            wording = wording or word
            role = next((r for key, r in _ROLE_OF_LABEL.items() if word.startswith(key)), "responsible")
            clause = clause[label.end():]
        for name in namer.full_names(_names(clause)):
            units.append(Department(name, role))
    return units, wording or "责任单位"


def _worded(clauses: list[str], namer: Namer) -> tuple[list[Department], str | None] | None:
    """Clauses such as X、Y按职责分工负责 / X牵头，Y配合 / X会同Y负责."""
    if not _WORDING.search(clauses[-1]):
        return None
    units: list[Department] = []
    pending: list[str] = []  # clauses of names waiting for the wording of a later clause
    first_wording = None
    for clause in clauses:
        match = _WORDING.search(clause)
        if not match:
            pending.append(clause)
            continue
        wording = match.group("wording")
        first_wording = first_wording or wording
        role = _ROLE_OF_WORDING.get(wording, "responsible")
        for names in pending + [clause[: match.start()]]:
            if "会同" in names:
                left, right = names.split("会同", 1)
                units += [Department(n, "lead") for n in namer.full_names(_names(left))]
                units += [Department(n, "cooperate") for n in namer.full_names(_names(right))]
            else:
                units += [Department(n, role) for n in namer.full_names(_names(names))]
        pending = []
    if pending or not units or not all(namer.looks_like_unit(u.name) for u in units):
        return None
    return units, first_wording


def _names(text: str) -> list[str]:
    """One 、 list of names; X等有关部门 is two entries (X, 有关部门)."""
    text = re.sub(r"等(?=(?:有关|相关|其他|其它)(?:部门|单位))", "、", text)
    names = _split_top(text, "、/")
    # 各区、市政府 is one collective unit (the governments of the districts and county-level cities), written
    # with 、 between the two levels: a bare 各区 / 各县 names no unit of its own
    merged: list[str] = []
    for name in names:
        if merged and re.fullmatch(r"各[区县市镇乡]", merged[-1]) and re.match(r"[区县市镇乡]", name):
            merged[-1] += name
        else:
            merged.append(name)
    return merged


def find_markers(text: str, start: int, end: int, namer: Namer, problems: list[str] | None = None) -> list[Marker]:
    """Every department marker inside ``text[start:end]``, in order.

    An unclosed parenthesis is reported in ``problems`` (quoting it) and read past, so the
    markers after it are still found.
    """
    markers: list[Marker] = []
    for p_start, p_end, closed in _paren_groups(text, start, end):
        inner = text[p_start + 1: p_end - 1 if closed else p_end]
        if not closed and problems is not None:
            problems.append(f"unclosed parenthesis (括号未闭合): 「{repair(text[p_start:p_end])[:24]}…」")
        if len(inner) > 400:
            continue
        parsed = parse_marker_text(inner, namer)
        if parsed is None:
            continue
        units, wording, note, sticky = parsed
        markers.append(Marker(p_start, p_end, tuple(units), wording, repair(inner), note, sticky,
                              None if closed else "unclosed"))
    for line in re.finditer(r"[^\n]+", text[start:end]):
        tail = None if _LINE_MARKER.match(line.group()) else _INLINE_LABEL.search(line.group())
        if tail is not None:  # …最高50万元。牵头单位：区科技局；配合单位：区财政局 — to the line's end
            t_start, t_end = _trim(text, start + line.start() + tail.start(), start + line.end())
            if not any(m.start <= t_start < m.end for m in markers):
                parsed = parse_marker_text(text[t_start:t_end], namer)
                if parsed is not None:
                    units, wording, note, sticky = parsed
                    # a note in brackets inside it (（列第一位的为牵头单位，下同）) is part of this marker
                    markers = [m for m in markers if not (t_start <= m.start and m.end <= t_end)]
                    markers.append(Marker(t_start, t_end, tuple(units), wording, repair(text[t_start:t_end]),
                                          note, sticky))
            continue
        if _LINE_MARKER.match(line.group()):
            l_start, l_end = start + line.start(), start + line.end()
            if any(m.start <= l_start < m.end for m in markers):
                continue
            parsed = parse_marker_text(line.group(), namer)
            if parsed is not None:
                units, wording, note, sticky = parsed
                s, e = _trim(text, l_start, l_end)
                markers.append(Marker(s, e, tuple(units), wording, repair(text[s:e]), note, sticky))
    return sorted(markers, key=lambda m: m.start)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paren_groups(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Top-level parenthesis groups in text[start:end]: (open offset, end offset, closed?).

    Nesting is followed (市政府办（金融）inside a marker). A group still open where its
    paragraph ends (a line ending in 。/；/）…) is unclosed: it is returned with
    ``closed=False`` and scanning resumes just after its opening bracket.
    """
    groups: list[tuple[int, int, bool]] = []
    depth, opened = 0, -1
    i = start
    while i < end:
        ch = text[i]
        if ch in "（(〔":
            if depth == 0:
                opened = i
            depth += 1
        elif ch in "）)〕" and depth:
            depth -= 1
            if depth == 0:
                groups.append((opened, i + 1, True))
        elif ch == "\n" and depth and _paragraph_ends_before(text, i):
            groups.append((opened, _trim(text, opened, i)[1], False))
            depth, i = 0, opened + 1
            continue
        i += 1
    if depth:
        groups.append((opened, _trim(text, opened, end)[1], False))
        rest = _paren_groups(text, opened + 1, end)
        groups.extend(g for g in rest if g[0] > opened)
    return sorted(groups)


def _paragraph_ends_before(text: str, newline: int) -> bool:
    from corpus.segmentation import line_ends_paragraph

    line_start = text.rfind("\n", 0, newline) + 1
    return line_ends_paragraph(text[line_start:newline])


def merge_roles(markers: Iterable[Marker], lead_note_active: bool = False) -> list[Department]:
    """The union of the markers' units, in order of first appearance; the strongest role wins.

    ``lead_note_active``: a 列第一位者为牵头单位 note from earlier in the document applies.
    """
    strength = {"lead": 2, "responsible": 1, "cooperate": 0}
    merged: dict[str, str] = {}
    for marker in markers:
        units = list(marker.units)
        if (marker.lead_note or lead_note_active) and units and units[0].role == "responsible":
            units[0] = Department(units[0].name, "lead")
        for unit in units:
            if unit.name not in merged or strength[unit.role] > strength[merged[unit.name]]:
                merged[unit.name] = unit.role
    return [Department(name, role) for name, role in merged.items()]


@dataclass(frozen=True)
class DepartmentLine:
    departments: list[str]
    responsibility: str | None
    text: str
    roles: list[Department] = field(default_factory=list)


def parse_department_line(inner: str, issuer: Issuer | None = None) -> DepartmentLine:
    """``市科技局、工业和信息化局，威海海关按职责分工负责`` → full names + wording + roles."""
    parsed = parse_marker_text(inner, Namer(issuer or Issuer(prefix="市")))
    if parsed is None:
        return DepartmentLine([], None, repair(inner))
    units, wording, _, _ = parsed
    names = list(dict.fromkeys(u.name for u in units))
    return DepartmentLine(names, wording, repair(inner), units)


# -- short forms in questions -------------------------------------------------------------------

def alias_table(known: Iterable[str], vocab: Vocabulary | None = None) -> dict[str, str]:
    """Every way to name a known department → its full name.

    Built from the names themselves (with and without their level prefix) plus the short
    forms of ``corpus/data/departments.json``: a name holding a member of an alias group
    (市工业和信息化局 holds 工业和信息化) is also called by the group's other members with the
    same ending (工信局, 经信局), and by the bare short forms listed there (工信, 人行). An alias
    that fits two known names is left out rather than guessed.
    """
    vocab = vocab or vocabulary()
    known = list(dict.fromkeys(known))
    table: dict[str, str] = {}
    ambiguous: set[str] = set()

    def add(alias: str, target: str) -> None:
        if len(alias) < 2 or alias in ambiguous or alias in known:
            return
        if alias in table and table[alias] != target:
            ambiguous.add(alias)
            del table[alias]
            return
        table[alias] = target

    for name in known:
        simple = zhconv.convert(name, "zh-hans")
        base = simple[1:] if level_prefix(simple) else simple
        if base != simple and len(base) >= 3:
            add(base, name)
        # one unit under two names: 市市场监管局（市知识产权局） is asked for by either
        both = re.fullmatch(r"(?P<one>[^（(]+)[（(](?P<other>[^（）()]+)[）)]", simple)
        for part in (both.group("one"), both.group("other")) if both else ():
            if part.endswith(vocab.unit_suffixes):
                add(part, name)
                if level_prefix(part) and len(part) >= 4:
                    add(part[1:], name)
        for group in vocab.aliases:
            member = max((m for m in group if len(m) >= 2 and m in base), key=len, default=None)
            if member is None:
                continue
            suffix = base[base.index(member) + len(member):]
            for alias in group:
                if alias == member:
                    continue
                if len(suffix) <= 3:
                    # an alias that stands for the whole name must read as a unit (金融办, not 金融)
                    if suffix or alias.endswith(vocab.unit_suffixes) or alias in vocab.bare_aliases:
                        add(alias + suffix, name)
                    if suffix and suffix[-1] in "局厅委" and suffix != "局":
                        add(alias + "局", name)
                if alias in vocab.bare_aliases:
                    add(alias, name)
            if member in vocab.bare_aliases:
                add(member, name)
    for name in known:
        table[name] = name
    return table


def find_departments(text: str, known: Iterable[str]) -> list[str]:
    """Full names of the departments mentioned in ``text``, longest mention first wins."""
    return match_departments(text, alias_table(known))


def match_departments(text: str, table: dict[str, str]) -> list[str]:
    """Full names of the departments ``text`` mentions, by an alias table (see :func:`alias_table`)."""
    return AliasMatcher(table).find(text)


class AliasMatcher:
    """An alias table compiled once: ``find(text)`` → the full names mentioned, longest mention first."""

    def __init__(self, table: dict[str, str]):
        self.table = table
        aliases = sorted(table, key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(a) for a in aliases)) if aliases else None

    def find(self, text: str) -> list[str]:
        if self.pattern is None:
            return []
        text = zhconv.convert(text, "zh-hans")
        found = []
        for match in self.pattern.finditer(text):
            name = self.table[match.group(0)]
            # a level written just before a short form is the asker's: 市财政局 is not a district's 区财政局,
            # 泰安市工信局 not the province's 省工业和信息化厅
            before = text[match.start() - 1:match.start()]
            level = level_prefix(name)
            if before in _LEVELS and level is not None and before != level and not match.group(0).startswith(before):
                continue
            found.append(name)
        return list(dict.fromkeys(found))


def is_line_marker(line: str) -> bool:
    """A 责任单位：… / 牵头单位：… line."""
    return bool(_LINE_MARKER.match(line))
