"""What the lookup tab lists: the choices of its pickers and the measures that pass them.

Pure functions over what the assistant returns (``documents()``, ``departments()``: the data of
GET /api/measures and GET /api/departments); no HTML here (ui.render) and no Gradio (ui.app).

Two pickers are filters, kept while the others change, and combined with everything shown: the
document (文件) and the department (责任单位). The others list something within them: a search
(关键词), or browsing a document's part (部分), group (分组) and measure (条目).

Picker values are strings the page sends back, so each is checked here (``BadChoice`` says what was
wrong): a document is its doc_id, a department its full name (or a short name such as 工信局), a part
JSON ``[doc_id, part]``, a group ``[doc_id, part, group]``, a measure ``[doc_id, key]``; ``ALL`` lifts
the filter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.models import DepartmentOut, DocumentOut, MeasureOut
from corpus.departments import alias_table
from ui.render import group_of, measure_name, part_of, ref_key, short_title, tidy

ALL = "*"  # the choice that lifts a filter
NO_PART = "（未分部分）"


class BadChoice(ValueError):
    """A picker value that names nothing known; the message says so in words for the page."""


@dataclass
class Corpus:
    """The documents and departments as the assistant lists them, with lookups over them."""

    documents: Sequence[DocumentOut]
    departments: Sequence[DepartmentOut]
    by_id: dict[str, DocumentOut] = field(init=False)
    _measures: dict[tuple[str, str], MeasureOut] = field(init=False)

    def __post_init__(self):
        self.by_id = {d.doc_id: d for d in self.documents}
        self._measures = {(m.doc_id, ref_key(m.key, m.number, m.title)): m for d in self.documents for m in d.measures}

    @property
    def multi(self) -> bool:
        return len(self.documents) > 1

    def only(self) -> str | None:
        """The doc_id of the one document of a one-document corpus, else None."""
        return self.documents[0].doc_id if len(self.documents) == 1 else None

    def measure(self, doc_id: str, key: str) -> MeasureOut | None:
        return self._measures.get((doc_id, key))

    def measures(self, doc_id: str | None = None, part: str | None = None, group: str | None = None) -> list[MeasureOut]:
        """The records of one document (or all), of one part and group of it when given, in reading order."""
        docs = [self.by_id[doc_id]] if doc_id in self.by_id else ([] if doc_id else self.documents)
        return [m for d in docs for m in d.measures
                if (part is None or part_of(m) == part) and (group is None or group_of(m) == group)]

    def department_measures(self, name: str, doc_id: str | None = None) -> tuple[list[MeasureOut], int]:
        """The records ``name`` answers for (in one document when given) and how many of its references
        name no record known here (0 unless the corpus changed between two calls)."""
        department = next((d for d in self.departments if d.name == name), None)
        found, missing = [], 0
        for ref in department.measures if department else ():
            if doc_id and ref.doc_id != doc_id:
                continue
            m = self.measure(ref.doc_id, ref_key(ref.key, ref.number, ref.title))
            if m is None:
                missing += 1
            elif m not in found:
                found.append(m)
        return found, missing

    # -- reading picker values -----------------------------------------------------------------
    def document(self, value: str | None) -> str | None:
        """The doc_id a document picker value names (its id, or a title typed in), None for all."""
        if not value or value == ALL:
            return None
        if value in self.by_id:
            return value
        typed = value.strip().strip("《》")
        for d in self.documents:
            if typed in (d.title, d.short_title, d.doc_number):
                return d.doc_id
        raise BadChoice(f"没有找到文件「{value}」，请从列表中选择。")

    def department(self, value: str | None, doc_id: str | None = None) -> str | None:
        """The full name a department picker value (or a typed short name: 工信局) names, None for all."""
        if not value or value == ALL:
            return None
        names = [name for _, name in department_choices(self, doc_id)]
        if value in names:
            return value
        full = alias_table(names).get(value.strip())
        if full:
            return full
        where = f"《{short_title(self.by_id[doc_id])}》中" if doc_id and self.multi else ""
        raise BadChoice(f"{where}没有找到单位「{value}」，请从列表中选择（文件可能已更新，可刷新页面）。")

    def part(self, value: str | None) -> tuple[str, str] | None:
        """(doc_id, part) a part picker value names, None for all parts."""
        if not value or value == ALL:
            return None
        doc_id, part = _decode(value, 2, f"没有找到部分「{value}」，请从列表中选择。")
        if not any(part_of(m) == part for m in self.measures(doc_id)):
            raise BadChoice("没有找到这个部分，文件可能已更新，请刷新页面。")
        return doc_id, part

    def group(self, value: str | None) -> tuple[str, str, str] | None:
        """(doc_id, part, group) a group picker value names, None for the whole part."""
        if not value or value == ALL:
            return None
        doc_id, part, group = _decode(value, 3, f"没有找到分组「{value}」，请从列表中选择。")
        if not self.measures(doc_id, part, group):
            raise BadChoice("没有找到这个分组，文件可能已更新，请刷新页面。")
        return doc_id, part, group

    def picked_measure(self, value: str | None) -> MeasureOut | None:
        """The record a measure picker value names; None for no value."""
        if not value:
            return None
        doc_id, key = _decode(value, 2, f"没有找到措施「{value}」，请从列表中选择。")
        found = self.measure(doc_id, key)
        if found is None:
            raise BadChoice("没有找到这条措施，文件可能已更新，请刷新页面。")
        return found


def _decode(value: str, size: int, message: str) -> list[str]:
    try:
        items = json.loads(value)
    except (TypeError, ValueError):
        raise BadChoice(message) from None
    if not isinstance(items, list) or len(items) != size or not all(isinstance(i, str) for i in items):
        raise BadChoice(message)
    return items


# --- choices ------------------------------------------------------------------------------------
Choices = list[tuple[str, str]]


def document_choices(corpus: Corpus) -> Choices:
    """（全部文件）, then 《短标题》2026年（22） per document: its short title, year and number of records."""
    choices = [("（全部文件）", ALL)]
    for d in corpus.documents:
        year = f"{d.issued_on[:4]}年" if d.issued_on else ""
        choices.append((f"《{short_title(d)}》{year}（{len(d.measures)}）", d.doc_id))
    return choices


def department_choices(corpus: Corpus, doc_id: str | None = None) -> Choices:
    """The departments (of one document when given) with how many records name them, most first."""
    counted = []
    for d in corpus.departments:
        n = sum(1 for r in d.measures if doc_id is None or r.doc_id == doc_id)
        if n:
            counted.append((d.name, n))
    counted.sort(key=lambda c: (-c[1], c[0]))
    return [(f"{name}（{n}）", name) for name, n in counted]


def department_picker(corpus: Corpus, doc_id: str | None = None) -> Choices:
    """department_choices with （全部责任单位） first, to lift the filter."""
    return [("（全部责任单位）", ALL), *department_choices(corpus, doc_id)]


def _counted(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def part_choices(corpus: Corpus, doc_id: str | None) -> Choices:
    """（全部部分）, then each part of the document (of every document, named, when none is chosen in a
    corpus of several) with its number of records. A document without parts adds none."""
    choices = [("（全部部分）", ALL)]
    docs = [corpus.by_id[doc_id]] if doc_id in corpus.by_id else corpus.documents
    for d in docs:
        counts = _counted(part_of(m) for m in d.measures)
        if set(counts) == {""}:
            continue
        prefix = f"《{short_title(d)}》" if corpus.multi and not doc_id else ""
        choices += [(f"{prefix}{tidy(p) or NO_PART}（{n}）", json.dumps([d.doc_id, p], ensure_ascii=False))
                    for p, n in counts.items()]
    return choices


def group_choices(corpus: Corpus, doc_id: str, part: str) -> Choices:
    """（整个部分）, then the groups of one part with their number of records; [] when it has none."""
    counts = _counted(group_of(m) for m in corpus.measures(doc_id, part))
    if set(counts) <= {""}:
        return []
    return [("（整个部分）", ALL)] + [(f"{tidy(g) or NO_PART}（{n}）", json.dumps([doc_id, part, g], ensure_ascii=False))
                                   for g, n in counts.items()]


def measure_choices(corpus: Corpus, doc_id: str | None, part: str | None = None, group: str | None = None) -> Choices:
    """Every record in the document, part and group given (named with their document when several
    documents are listed together)."""
    named = corpus.multi and not doc_id
    out = []
    for m in corpus.measures(doc_id, part, group):
        prefix = f"《{short_title(corpus.by_id[m.doc_id])}》" if named else ""
        out.append((prefix + measure_name(m), json.dumps([m.doc_id, ref_key(m.key, m.number, m.title)],
                                                         ensure_ascii=False)))
    return out


# --- what is listed -----------------------------------------------------------------------------


def heading(corpus: Corpus, n: int, *, query: str = "", doc_id: str | None = None, department: str | None = None,
            part: str | None = None, group: str | None = None) -> str:
    """The line above a list, saying what it holds: 与「贷款」相关的措施：共 3 条; 市财政局：共负责 10 条措施;
    《武汉市OPC若干措施》 · 市财政局：共负责 2 条措施; 三、…：共 3 条."""
    scope = []
    if doc_id and corpus.multi:
        scope.append(f"《{short_title(corpus.by_id[doc_id])}》")
    if part is not None:
        scope.append(tidy(part) or NO_PART)
    if group:
        scope.append(tidy(group))
    if query:
        within = " · ".join(scope + ([department] if department else []))
        return f"{within}中与「{query}」相关的措施：共 {n} 条" if within else f"与「{query}」相关的措施：共 {n} 条"
    if department:
        return " · ".join(scope + [f"{department}：共负责 {n} 条措施"])
    return f"{' · '.join(scope)}：共 {n} 条"
