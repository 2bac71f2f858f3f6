"""Structured records of a policy document.

A Document keeps its text exactly as read. Everything below it (notice, parts,
measures, sentences, figures) points into that text with character offsets,
so nothing is lost and every quote can be traced back to where it stands.

Shape::

    Document{doc_id, title, doc_number, issuer, issued_on, effective_on, expires_on,
             notice, preamble[Sentence], sections[Section{measures[Measure]}], closing[Sentence]}
    Measure{number|None, label, key, path[str], title, text, sentences[Sentence],
            departments[str], roles[Department], targets[Figure], kind}

``sections`` are the top-level parts (一、…, 第一章…); every record below a part,
whatever its depth, sits in that part's ``measures`` list in reading order, and
its ``path`` names the headings above it (part, group).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal

# The version of the record shapes below; an index built from records of another format is rebuilt.
# 1: sections > measures (issue 2). 2: labels, keys along paths, roles, typed figures, notice, validity.
RECORD_FORMAT = 2

Role = Literal["lead", "cooperate", "responsible"]
RecordKind = Literal["measure", "text", "supplementary"]
FigureKind = Literal["target", "cap", "rate", "threshold", "duration", "amount"]


@dataclass(frozen=True)
class Sentence:
    """One span of the original text: ``document.text[start:end]``.

    ``text`` is that span with page breaks repaired (a blank line inside a
    word or clause removed), so it reads as the author wrote it.
    ``kind`` is "heading", "sentence", "departments", "preamble", "notice" or "closing".
    ``departments`` are the units named by the department marker that covers
    this sentence (inline 责任单位 markers cover the sentences before them).
    """

    start: int
    end: int
    text: str
    kind: str = "sentence"
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Department:
    """A responsible unit of a measure and its role: lead (牵头), cooperate (配合) or responsible."""

    name: str
    role: Role = "responsible"


@dataclass(frozen=True)
class Target:
    """A typed figure: 新增产值 190 亿元 (target), 最高50万元 (cap), 按…的20% (rate), 60个月 (duration)…

    ``value`` is in ``unit`` (万元 stays 万元: 最高50万元 → 50.0, "万元"); Chinese numerals are
    converted (三千萬元 → 3000.0, "万元"; 百分之五十 → 50.0, "%"). ``per`` is the basis of a
    per-unit amount (每人每月, 亩) or None.
    """

    value: float
    value_text: str  # the number as written: "190", "2.4", "三千"
    unit: str  # "亿元", "%", "家", "个月", "元/亩", ...
    phrase: str  # the clause the figure qualifies: "新增产值", "规模以上工业增加值同比增长"
    qualifier: str | None  # "以上", "左右", "最高", "不超过", ... or None
    text: str  # the verbatim figure as written, e.g. "7%以上", "最高50万元"
    start: int  # offsets of ``text`` in the document text
    end: int
    kind: FigureKind = "target"
    per: str | None = None


Figure = Target


@dataclass
class Measure:
    """A numbered measure, or an unnumbered record (a part's text such as 保障措施, a 附则 clause).

    ``number`` is the ordinal the label stands for (第五条 → 5); it may repeat when
    numbering restarts per group. ``key`` is unique inside the document: the number
    when numbering runs on, else the ordinals along the path ("2.1" for 二、（一）),
    or ``r<position>`` for an unnumbered record.
    """

    number: int | None
    title: str
    text: str  # the full measure without its label, page breaks repaired
    section: str  # the title of the top-level part it belongs to ("" when none)
    start: int
    end: int
    sentences: list[Sentence] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    responsibility: str | None = None  # the wording as written: "负责", "按职责分工负责", "牵头负责", ...
    departments_text: str | None = None  # the department marker(s) as written, repaired
    targets: list[Target] = field(default_factory=list)
    label: str | None = None  # the number as written: "1.", "（一）", "第三条"
    key: str = ""
    path: list[str] = field(default_factory=list)  # headings above it, as written
    roles: list[Department] = field(default_factory=list)
    kind: RecordKind = "measure"

    @property
    def figures(self) -> list[Target]:
        return self.targets


@dataclass
class Section:
    """A top-level part of a document (一、… 七、, 第一章 …) with every record under it."""

    number: int | None
    title: str
    start: int
    end: int
    heading: Sentence | None = None
    measures: list[Measure] = field(default_factory=list)
    label: str | None = None
    groups: list[Sentence] = field(default_factory=list)  # headings of the groups inside it (（一）…)


@dataclass
class Notice:
    """The 关于印发…的通知 block that carries a plan: its title, text and span."""

    title: str
    start: int
    end: int
    text: str


@dataclass
class Document:
    doc_id: str
    title: str
    text: str  # the decoded file, unchanged
    source: str  # file name inside the corpus folder
    doc_number: str | None = None  # 威政办字〔2026〕10号
    issuer: str | None = None
    issued_on: str | None = None  # ISO date
    notice_title: str | None = None  # 关于印发…的通知, when the plan comes with one
    preamble: list[Sentence] = field(default_factory=list)  # everything before the first part/measure
    sections: list[Section] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the parser could not recognise
    effective_on: str | None = None  # ISO date: 自…起施行
    expires_on: str | None = None  # ISO date: 有效期至…, 试行一年
    notice: Notice | None = None
    closing: list[Sentence] = field(default_factory=list)  # signature, date, 此件公开发布 after the body
    place: str | None = None  # where it applies: "威海市", "广州市海珠区", "全国" …
    level: str | None = None  # "national", "province", "city", "district", "county"

    @property
    def measures(self) -> list[Measure]:
        return [m for s in self.sections for m in s.measures]

    @property
    def supplementary(self) -> list[Measure]:
        """The 附则 / 施行 records (validity, interpretation), kept apart from the last measure."""
        return [m for m in self.measures if m.kind == "supplementary"]

    def measure(self, number: int) -> Measure | None:
        return next((m for m in self.measures if m.number == number and m.kind == "measure"), None)

    def by_key(self, key: str) -> Measure | None:
        return next((m for m in self.measures if m.key == key), None)

    def sentences(self) -> Iterator[Sentence]:
        """Every sentence of the document, in text order."""
        yield from self.preamble
        for section in self.sections:
            pieces: list[Sentence] = []
            if section.heading is not None:
                pieces.append(section.heading)
            pieces.extend(section.groups)
            for measure in section.measures:
                pieces.extend(measure.sentences)
            yield from sorted(pieces, key=lambda s: s.start)
        yield from self.closing

    def blocks(self) -> list[tuple[int, int, str]]:
        """The records' spans ``(start, end, kind)`` in text order; together they cover the text.

        kind is "notice", "preamble", "heading", a measure's kind, or "closing".
        """
        spans: list[tuple[int, int, str]] = []
        notice = (self.notice.start, self.notice.end) if self.notice else (0, 0)
        if self.notice is not None:
            spans.append((self.notice.start, self.notice.end, "notice"))
        # the preamble outside the notice (before it, too: a line above the 关于印发…的通知 line)
        spans.extend((s.start, s.end, "preamble") for s in self.preamble if not notice[0] <= s.start < notice[1])
        for section in self.sections:
            if section.heading is not None:
                spans.append((section.heading.start, section.heading.end, "heading"))
            spans.extend((g.start, g.end, "heading") for g in section.groups)
            spans.extend((m.start, m.end, m.kind) for m in section.measures)
        spans.extend((s.start, s.end, "closing") for s in self.closing)
        return sorted(spans)
