"""Composing answers: Chinese, short, structured, every figure quoted from the text.

With more than one document loaded, every measure an answer cites is named with its document
(《short title》 and 文号); a document whose validity has ended is flagged, and an older version
of the same plan is mentioned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from assistant.catalog import Catalog, DocInfo
from assistant.models import Citation
from corpus.records import Document, Measure, Sentence

NUMBER = re.compile(r"\d+(?:\.\d+)?")
MEASURE_MENTION = re.compile(r"第\s*(\d+)\s*条|Measure\s+(\d+)|제\s*(\d+)\s*조")
# Counts the answering makes itself (共3项, 合计21条编号措施, 2份文件): not figures of any policy.
COUNT_MENTION = re.compile(r"(?:共有?|以下|合计|分属|另有)\s*(\d+)\s*(?:项|条|个|份|件|部分)|(\d+)份文件|[（(](\d+)项[）)]"
                           r"|(\d+) measures|조치 (\d+)개|(\d+) document\(s\)|문서 (\d+)건")
LIST_MARKER = re.compile(r"^\s*\d+\.\s", re.MULTILINE)


@dataclass(frozen=True)
class Evidence:
    """One measure with the sentences an answer quotes from it."""

    document: Document
    measure: Measure
    sentences: list[Sentence]
    score: float = 0.0


@dataclass
class Namer:
    """How an answer names measures and documents: with the document once the corpus holds several."""

    catalog: Catalog
    today: date
    mentioned_versions: set[str] = field(default_factory=set)
    lang: str = "zh"  # en and ko: the words around titles and quotes come from assistant/data/templates.json

    @property
    def multi(self) -> bool:
        return self.catalog.multi

    def info(self, document: Document) -> DocInfo:
        return self.catalog.info(document.doc_id)

    def document(self, document: Document) -> str:
        """《武汉市OPC若干措施》（武政规〔2026〕4号）, with 已到期 when its validity has ended."""
        info = self.info(document)
        name = info.name()
        if info.expired(self.today):
            name += f"（已于{document.expires_on}到期）"
        return name

    def measure(self, document: Document, measure: Measure, with_document: bool | None = None) -> str:
        if self.lang != "zh":
            from assistant.language import template

            title = measure.title or _first(measure)
            core = template(self.lang, "measure", number=measure.number, title=title) if measure.number is not None \
                else template(self.lang, "record", title=title)
            if with_document if with_document is not None else self.multi:
                return template(self.lang, "of_document", measure=core, document=self.document(document))
            return core
        label = measure_label(measure)
        core = f"{label}「{measure.title}」" if measure.title else (label or "「" + _first(measure) + "」")
        if with_document if with_document is not None else self.multi:
            return self.document(document) + core
        return core

    def departments(self, measure: Measure) -> str:
        text = departments_text(measure)
        if self.lang != "zh" and text == "未列明":
            from assistant.language import template

            return template(self.lang, "none")
        return text

    def versions_note(self, documents: list[Document]) -> str:
        """另有较早版本…: for cited documents of a plan that has older versions in the corpus."""
        notes = []
        for doc_id in dict.fromkeys(d.doc_id for d in documents):
            info = self.catalog.info(doc_id)
            older = [self.catalog.info(d) for d in info.older if d not in self.mentioned_versions]
            if older:
                self.mentioned_versions.update(info.older)
                notes.append(f"{info.name()}为最新版本，另有较早版本" + "、".join(o.name() for o in older) + "。")
        return "".join(notes)


def measure_label(measure: Measure) -> str:
    """第9条 (numbering that runs on), 第五条 (articles as written), 二、（一） (numbering that restarts)."""
    if measure.number is None:
        return ""
    label = measure.label or ""
    if label.startswith("第"):
        return label
    if measure.key.isdigit():
        return f"第{measure.number}条"
    path_labels = [_label_of(p) for p in measure.path]
    return "".join(x for x in path_labels if x) + label


def _label_of(heading: str) -> str:
    from corpus.labels import match_label

    found = match_label(heading.strip(), allow_prefix=False)
    return found.text if found else ""


def _first(measure: Measure) -> str:
    text = re.split(r"[，。；]", measure.text, maxsplit=1)[0]
    return text[:16] + ("…" if len(text) > 16 else "")


def lead_and_others(roles) -> tuple[list[str], list[str], bool]:
    """(the lead units, the other units, whether every other one is 配合) of a measure's ``roles`` (anything
    with ``name`` and ``role``: corpus Departments or the API's RoleOut), in the document's order."""
    lead = [r.name for r in roles if r.role == "lead"]
    others = [r for r in roles if r.role != "lead"]
    return lead, [r.name for r in others], bool(others) and all(r.role == "cooperate" for r in others)


# a clause that names who acts: 省财政厅负责…, 由区人工智能发展局负责解释, 市、区人社部门会同…主管部门…
_ACTING = re.compile(r"(?:按职责分工负责|牵头负责|负责|牵头)")
_UNIT_END = r"(?:厅|局|委员会|委|办公室|办|部门|部|署|中心|管委会|政府|分行|银行|海关)(?![门室]|会(?!同))"
_LABEL_AT_START = re.compile(r"^\s*(?:第[一二三四五六七八九十百零〇\d]+条|（[一二三四五六七八九十]+）)\s*")
_TOGETHER = re.compile(rf"(?:由|^|[，。；])(?:(?P<a>[\u4e00-\u9fff、]{{2,30}}?{_UNIT_END})(?:应当|应|要|将|负责)?)?会同"
                       rf"(?P<b>[\u4e00-\u9fff、]{{2,30}}?{_UNIT_END})")


def units_in_text(measure: Measure) -> list[str]:
    """The units a measure's sentences name as the ones who act (第四条 省财政厅负责专项资金的预算管理 → 省财政厅;
    由区人工智能发展局负责解释 → 区人工智能发展局), for a measure without a 责任单位 marker: each clause up to
    its 负责/牵头, read as a marker (corpus.departments), kept when every name in it is a unit. Names as
    written (no level letter is added)."""
    from corpus.departments import Issuer, parse_department_line

    units: list[str] = []
    for sentence in measure.sentences:
        text = sentence.text
        for match in _ACTING.finditer(text):
            start = max((text.rfind(c, 0, match.start()) for c in "，。；：:,;"), default=-1) + 1
            clause = text[start:match.end()].strip()
            clause = clause[clause.rfind("由") + 1:]  # 本办法由X负责解释: the units after 由
            clause = _LABEL_AT_START.sub("", clause)
            line = parse_department_line(clause, Issuer(prefix=None))
            units += [u for u in line.departments if u not in units]
        for match in _TOGETHER.finditer(_LABEL_AT_START.sub("", text)):  # 由省财政厅会同省经济和信息化厅收回…
            for name in filter(None, (match.group("a"), match.group("b"))):
                line = parse_department_line(name + "负责", Issuer(prefix=None))
                units += [u for u in line.departments if u not in units]
    return units


def departments_text(measure: Measure) -> str:
    if not measure.roles:
        if measure.departments:
            return "、".join(measure.departments)
        named = units_in_text(measure)
        return f"未单列（正文写明{'、'.join(named)}）" if named else "未列明"
    lead, others, cooperate = lead_and_others(measure.roles)
    if lead and len(measure.roles) > 1:
        return "、".join(lead) + "牵头" + ("，" + "、".join(others) + ("配合" if cooperate else "") if others else "")
    return "、".join(measure.departments)


def citation(evidence: Evidence, catalog: Catalog | None = None, quote: str | None = None) -> Citation:
    m, d = evidence.measure, evidence.document
    info = catalog.info(d.doc_id) if catalog is not None else None
    return Citation(
        doc_id=d.doc_id,
        doc_title=d.title,
        measure_number=m.number,
        measure_title=m.title or measure_label(m),
        section=m.section,
        departments=list(m.departments),
        quote=quote if quote is not None else "".join(s.text for s in evidence.sentences),
        score=round(float(evidence.score), 4),
        measure_key=m.key, measure_label=m.label, key=m.key, label=m.label,
        doc_number=d.doc_number, doc_short_title=info.short_title if info else None,
        doc_issued_on=d.issued_on, doc_expires_on=d.expires_on,
    )


def quoted(sentences: list[Sentence]) -> str:
    return "\n".join(f"“{s.text}”" for s in sentences)


def responsibility(measure: Measure, lead_asked: bool = False) -> str:
    """Who answers for ``measure``, with the roles as the document gives them: 责任单位：市发改委牵头，
    市港口委、…配合. ``lead_asked`` (the question asks for the 牵头单位): the lead alone, and how many
    others take part (牵头单位：市发改委，另有21个单位参与; the citation's ``departments`` and ``roles``
    list them all), or, where the document names no lead, 未列明牵头单位，责任单位：…."""
    lead, others, cooperate = lead_and_others(measure.roles)
    if lead_asked and lead:
        rest = f"，另有{len(others)}个{'配合单位' if cooperate else '单位参与'}" if others else ""
        return f"牵头单位：{'、'.join(lead)}{rest}"
    if lead_asked and measure.departments:
        return f"未列明牵头单位，责任单位：{departments_text(measure)}"
    return f"责任单位：{departments_text(measure)}"


def clause_units(evidence: Evidence) -> list[str]:
    """The units of the quoted clauses, when the measure gives each clause its own 责任单位 and those quoted
    name fewer than the whole measure does (武汉 一、: 设立算力服务券…（责任单位：市数据局、市经信局）, then
    各区…（责任单位：各区人民政府…）); otherwise []."""
    units = list(dict.fromkeys(d for s in evidence.sentences for d in s.departments))
    whole = set(evidence.measure.departments)
    if units and set(units) < whole and all(s.departments for s in evidence.sentences):
        return units
    return []


def departments_line(evidence: list[Evidence], namer: Namer, lead_asked: bool = False) -> str:
    """The answer to 由谁负责 / 牵头单位是谁, first in the answer: ``responsibility`` (见第N条…).

    Several measures (of several documents, say) with different units: each measure's units after its
    name, never one merged list that would lend one document's units to another's measure. Where the
    quoted clauses carry their own 责任单位 (``clause_units``), those are the answer, and the line says so."""
    units = clause_units(evidence[0]) if len(evidence) == 1 else []
    if units:
        e = evidence[0]
        return (f"责任单位：{'、'.join(units)}（见{namer.measure(e.document, e.measure)}中所引内容；"
                f"该条整体的责任单位为{departments_text(e.measure)}）。")
    if len(evidence) == 1 or len({departments_text(e.measure) for e in evidence}) == 1:
        refs = "、".join(namer.measure(e.document, e.measure) for e in evidence)
        return f"{responsibility(evidence[0].measure, lead_asked)}（见{refs}）。"
    return "；".join(f"{namer.measure(e.document, e.measure)}：{responsibility(e.measure, lead_asked)}"
                    for e in evidence) + "。"


def measure_block(evidence: Evidence, namer: Namer, prefix: str = "", with_departments: bool = True) -> str:
    """第9条「…」（责任单位：…）： and the quoted sentences; ``with_departments`` False when a line before it
    already said who answers for each measure."""
    name = namer.measure(evidence.document, evidence.measure)
    units = f"（责任单位：{departments_text(evidence.measure)}）" if with_departments else ""
    head = f"{prefix}{name}{units}："
    return head + "\n" + quoted(evidence.sentences) if evidence.sentences else head


def _foreign_answer(evidence: list[Evidence], namer: Namer, figure_lines: list[str] | None,
                    department_first: bool) -> str:
    from assistant.language import template

    lang = namer.lang
    lines: list[str] = []
    if department_first:
        names = list(dict.fromkeys(d for e in evidence for d in e.measure.departments))
        refs = "、".join(namer.measure(e.document, e.measure) for e in evidence)
        lines.append(template(lang, "departments_first", departments="、".join(names) or template(lang, "none"),
                              measures=refs))
    if figure_lines:
        lines.append(template(lang, "figures", figures="；".join(figure_lines)))
    if len(evidence) == 1:
        e = evidence[0]
        lines.append(template(lang, "according", measure=namer.measure(e.document, e.measure),
                              departments=namer.departments(e.measure)))
        lines.append(quoted(e.sentences))
    else:
        lines.append(template(lang, "several", n=len(evidence)))
        for i, e in enumerate(evidence, start=1):
            lines.append(template(lang, "item", i=i, measure=namer.measure(e.document, e.measure),
                                  departments=namer.departments(e.measure)))
            lines.append(quoted(e.sentences))
    return "\n".join(line for line in lines if line)


def retrieval_answer(evidence: list[Evidence], namer: Namer, figure_lines: list[str] | None = None,
                     department_first: bool = False, lead_asked: bool = False) -> str:
    """根据第9条「…」（责任单位：…）：“…”, one block per measure (in English or Korean: the template's words).

    ``department_first``: a line that answers who is responsible comes first (``lead_asked``: the question
    asks for the 牵头单位, which that line then names on its own)."""
    if namer.lang != "zh":
        return _foreign_answer(evidence, namer, figure_lines, department_first)
    lines: list[str] = []
    if department_first:
        lines.append(departments_line(evidence, namer, lead_asked))
    if figure_lines:
        lines.append("相关目标：" + "；".join(figure_lines) + "。")
    if len(evidence) == 1:
        lines.append("根据" + measure_block(evidence[0], namer, with_departments=not department_first))
    else:
        lines.append(f"以下{len(evidence)}条措施与此相关：")
        for i, e in enumerate(evidence, start=1):
            lines.append(measure_block(e, namer, prefix=f"{i}. ", with_departments=not department_first))
    note = namer.versions_note([e.document for e in evidence])
    if note:
        lines.append(note)
    return "\n".join(line for line in lines if line)


def measures_list_answer(heading: str, rows: list[tuple[str, str]]) -> str:
    """A complete list: heading (with the count), then one line per measure (its name, a note)."""
    lines = [heading]
    for i, (name, note) in enumerate(rows, start=1):
        lines.append(f"{i}. {name}" + (f"：{note}" if note else ""))
    return "\n".join(lines)


def numbers_in(text: str) -> set[float]:
    return {float(n) for n in NUMBER.findall(text)}


def unsupported_figures(answer: str, citations: list[Citation], refusal: bool = False) -> list[str]:
    """Figures in ``answer`` that no citation supports.

    A figure is supported when it appears in a quote, a cited document's title, 文号, short
    title, issue or expiry date, or when it is a cited measure's number written as 第N条, a
    count the answering made (共N项, 合计N条, 另有N个, N份文件), or the ordinal of a list line ("1. ").
    ``refusal``: the answer is a refusal (found false, nothing cited), whose 第N条 names the nearest measure,
    which does not state what was asked (没有写明办理时限。与问题最接近的是第2条…): a reference, not a figure.
    """
    supported = set()
    for c in citations:
        supported |= numbers_in(c.quote) | numbers_in(c.doc_title) | numbers_in(c.doc_number or "")
        supported |= numbers_in(c.doc_short_title or "") | numbers_in((c.doc_issued_on or "").replace("-", " "))
        supported |= numbers_in((c.doc_expires_on or "").replace("-", " "))
        supported |= numbers_in(c.measure_key or "")
    cited_numbers = {float(c.measure_number) for c in citations if c.measure_number is not None}
    text = LIST_MARKER.sub(" ", answer)
    text = MEASURE_MENTION.sub(lambda m: " " if refusal or float(next(g for g in m.groups() if g)) in cited_numbers
                               else m.group(0), text)
    text = COUNT_MENTION.sub(" ", text)
    if refusal:  # …最接近的是《…》（威政办字〔2026〕10号）「保障措施」: the nearest document's 文号, a reference too,
        # and so is a year (《…》（2026年）写的是今后的工作目标，没有2025年的实际数字)
        text = YEAR_MENTION.sub(" ", DOC_NUMBER_MENTION.sub(" ", text))
    return [n for n in NUMBER.findall(text) if float(n) not in supported]


YEAR_MENTION = re.compile(r"(?:19|20)\d\d\s*年")
DOC_NUMBER_MENTION = re.compile(r"[〔［\[（(]\s*\d{4}\s*[〕］\]）)]\s*\d+\s*号")
