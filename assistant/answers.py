"""Composing answers: Chinese, short, structured, every figure quoted from the text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.models import Citation
from corpus.records import Document, Measure, Sentence

NUMBER = re.compile(r"\d+(?:\.\d+)?")
MEASURE_MENTION = re.compile(r"第\s*(\d+)\s*条")
COUNT_MENTION = re.compile(r"(?:共|以下)\s*(\d+)\s*(?:项|条|个)")
LIST_MARKER = re.compile(r"^\s*\d+\.\s", re.MULTILINE)


@dataclass(frozen=True)
class Evidence:
    """One measure with the sentences an answer quotes from it."""

    document: Document
    measure: Measure
    sentences: list[Sentence]
    score: float = 0.0


def measure_name(measure: Measure) -> str:
    if measure.number is None:
        return f"「{measure.title}」"
    return f"第{measure.number}条「{measure.title}」"


def departments_text(measure: Measure) -> str:
    return "、".join(measure.departments) if measure.departments else "未列明"


def citation(evidence: Evidence, quote: str | None = None) -> Citation:
    m = evidence.measure
    return Citation(
        doc_id=evidence.document.doc_id,
        doc_title=evidence.document.title,
        measure_number=m.number,
        measure_title=m.title,
        section=m.section,
        departments=list(m.departments),
        quote=quote if quote is not None else "".join(s.text for s in evidence.sentences),
        score=round(float(evidence.score), 4),
        measure_key=m.key, measure_label=m.label, key=m.key, label=m.label,
    )


def quoted(sentences: list[Sentence]) -> str:
    return "\n".join(f"“{s.text}”" for s in sentences)


def measure_block(evidence: Evidence, prefix: str = "") -> str:
    head = f"{prefix}{measure_name(evidence.measure)}（责任单位：{departments_text(evidence.measure)}）："
    return head + "\n" + quoted(evidence.sentences) if evidence.sentences else head


def retrieval_answer(evidence: list[Evidence], figure_lines: list[str] | None = None,
                     department_first: bool = False) -> str:
    """根据第9条「…」（责任单位：…）：“…”, one block per measure."""
    lines: list[str] = []
    if department_first:
        names = list(dict.fromkeys(d for e in evidence for d in e.measure.departments))
        refs = "、".join(measure_name(e.measure) for e in evidence)
        lines.append(f"责任单位：{'、'.join(names) or '未列明'}（见{refs}）。")
    if figure_lines:
        lines.append("相关目标：" + "；".join(figure_lines) + "。")
    if len(evidence) == 1:
        lines.append("根据" + measure_block(evidence[0]))
    else:
        lines.append(f"以下{len(evidence)}条措施与此相关：" if len(evidence) > 1 else "")
        for i, e in enumerate(evidence, start=1):
            lines.append(measure_block(e, prefix=f"{i}. "))
    return "\n".join(line for line in lines if line)


def measures_list_answer(heading: str, rows: list[tuple[Measure, str]]) -> str:
    """A complete list: heading (with the count), then one line per measure."""
    lines = [heading]
    for i, (measure, note) in enumerate(rows, start=1):
        lines.append(f"{i}. {measure_name(measure)}" + (f"：{note}" if note else ""))
    return "\n".join(lines)


def numbers_in(text: str) -> set[float]:
    return {float(n) for n in NUMBER.findall(text)}


def unsupported_figures(answer: str, citations: list[Citation]) -> list[str]:
    """Figures in ``answer`` that no citation supports.

    A figure is supported when it appears in a quote or a cited document's
    title, or when it is a cited measure's number written as 第N条, the count of
    citations written as 共N项 / 以下N条, or the ordinal of a list line ("1. ").
    """
    supported = set()
    for c in citations:
        supported |= numbers_in(c.quote) | numbers_in(c.doc_title)
    cited_numbers = {float(c.measure_number) for c in citations if c.measure_number is not None}
    text = LIST_MARKER.sub(" ", answer)
    for pattern, allowed in ((MEASURE_MENTION, cited_numbers), (COUNT_MENTION, {float(len(citations))})):
        def drop(match: re.Match[str], allowed=allowed) -> str:
            return " " if float(match.group(1)) in allowed else match.group(0)
        text = pattern.sub(drop, text)
    return [n for n in NUMBER.findall(text) if float(n) not in supported]
