"""Structured records of a policy document.

A Document keeps its text exactly as read. Everything below it (sections,
measures, sentences, targets) points into that text with character offsets,
so nothing is lost and every quote can be traced back to where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


@dataclass(frozen=True)
class Sentence:
    """One span of the original text: ``document.text[start:end]``.

    ``text`` is that span with page breaks repaired (a blank line inside a
    word or clause removed), so it reads as the author wrote it.
    ``kind`` is "heading", "sentence" or "departments".
    """

    start: int
    end: int
    text: str
    kind: str = "sentence"


@dataclass(frozen=True)
class Target:
    """A quantified goal, e.g. 新增产值 190 亿元 or 增长 7%以上."""

    value: float
    value_text: str  # the digits as written: "190", "2.4", "63.5"
    unit: str  # "亿元", "%", "家", "万人次", ...
    phrase: str  # what the figure qualifies: "新增产值", "规模以上工业增加值同比增长"
    qualifier: str | None  # "以上", "左右", "以内", ... or None
    text: str  # the verbatim figure with its unit and qualifier, e.g. "7%以上"
    start: int  # offsets of ``text`` in the document text
    end: int


@dataclass
class Measure:
    """A numbered measure, or an unnumbered section body such as 保障措施."""

    number: int | None
    title: str
    text: str  # the full measure, page breaks repaired
    section: str  # the title of the section it belongs to ("" when none)
    start: int
    end: int
    sentences: list[Sentence] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    responsibility: str | None = None  # "负责" or "按职责分工负责" as written
    departments_text: str | None = None  # the parenthesis as written, repaired
    targets: list[Target] = field(default_factory=list)
    label: str | None = None  # the number as written: "1.", "（一）", "第三条"
    key: str = ""  # unique inside the document: "9", or "r22" for the 22nd record when unnumbered


@dataclass
class Section:
    """A top-level part of a document (一、… 七、) with the measures under it."""

    number: int | None
    title: str
    start: int
    end: int
    heading: Sentence | None = None
    measures: list[Measure] = field(default_factory=list)


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
    preamble: list[Sentence] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the parser could not recognise

    @property
    def measures(self) -> list[Measure]:
        return [m for s in self.sections for m in s.measures]

    def measure(self, number: int) -> Measure | None:
        return next((m for m in self.measures if m.number == number), None)

    def sentences(self) -> Iterator[Sentence]:
        """Every sentence of the document, in text order."""
        yield from self.preamble
        for section in self.sections:
            if section.heading is not None:
                yield section.heading
            for measure in section.measures:
                yield from measure.sentences
