"""Turn the text of one policy document into a Document record.

The parser looks for three kinds of heading at the start of a line:
sections (一、… / 第一章), numbered measures (1. / 1．/ （一）/ 第一条) and
nothing else. Which numbering marks a measure is decided per document: the
scheme that appears first wins, so a plan whose measures are （一） and whose
paragraphs hold 1. 2. sub-points keeps those inside the measure's text.
Whatever is not recognised stays as plain records; no text is ever dropped,
and ``parse_document`` does not raise on any string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from corpus.departments import DEPARTMENTS_AT_END, parse_department_line
from corpus.records import Document, Measure, Section, Sentence
from corpus.segmentation import compact, ends_sentence, lines, make_sentence, paragraphs, repair, split_sentences
from corpus.targets import extract_targets

CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}
CN_NUMERAL = "零〇○一二两三四五六七八九十百"
MAX_TITLE_CHARS = 40

SECTION_PATTERNS = (
    re.compile(rf"^(?P<num>[{CN_NUMERAL}]+)\s*[、．.]\s*(?P<title>.*)$"),
    re.compile(rf"^第(?P<num>[{CN_NUMERAL}\d]+)\s*[章編编]\s*(?P<title>.*)$"),
)
MEASURE_SCHEMES = {
    "arabic": re.compile(r"^(?P<num>\d{1,3})\s*[.．、](?!\d)\s*(?P<rest>.*)$"),
    "paren": re.compile(rf"^[（(]\s*(?P<num>[{CN_NUMERAL}]+)\s*[）)]\s*(?P<rest>.*)$"),
    "article": re.compile(rf"^第(?P<num>[{CN_NUMERAL}\d]+)\s*[条條]\s*(?P<rest>.*)$"),
}
DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,12}\s*[〔\[［【(（]\s*\d{4}\s*[〕\]］】)）]\s*\d{1,4}\s*[号號]")
DATE_LINE = re.compile(r"^(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日$")
CN_DATE_LINE = re.compile(rf"^(?P<y>[{CN_NUMERAL}]{{4}})年(?P<m>[{CN_NUMERAL}]{{1,3}})月(?P<d>[{CN_NUMERAL}]{{1,3}})日$")
ISSUER_END = ("办公室", "办公厅", "人民政府", "委员会", "局", "厅", "部", "委", "院", "中心", "政府")
TITLE_WORDS = ("方案", "办法", "意见", "规划", "细则", "措施", "条例", "规定", "通知", "决定", "计划", "纲要", "政策")


def cn_to_int(numeral: str) -> int | None:
    """一 → 1, 十四 → 14, 二十一 → 21, 一百零二 → 102; arabic digits pass through."""
    if numeral.isdigit():
        return int(numeral)
    if not numeral or any(ch not in CN_DIGITS and ch not in "十百" for ch in numeral):
        return None
    total, current = 0, 0
    for ch in numeral:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = current * 10 + CN_DIGITS[ch] if current and numeral.isalpha() and "十" not in numeral and "百" not in numeral else CN_DIGITS[ch]
    return total + current


@dataclass(frozen=True)
class _Heading:
    kind: str  # "section" or "measure"
    number: int
    label_end: int  # offset just after the number label (1. / 一、)
    start: int
    end: int  # end of the heading line


def _headings(text: str) -> list[_Heading]:
    sections: list[_Heading] = []
    candidates: dict[str, list[_Heading]] = {name: [] for name in MEASURE_SCHEMES}
    for start, end in lines(text):
        line = text[start:end]
        for pattern in SECTION_PATTERNS:
            match = pattern.match(line)
            if match and _looks_like_section_title(match.group("title")):
                number = cn_to_int(match.group("num"))
                if number is not None:
                    sections.append(_Heading("section", number, start + match.start("title"), start, end))
                break
        else:
            for name, pattern in MEASURE_SCHEMES.items():
                match = pattern.match(line)
                if match and match.group("rest").strip():
                    number = cn_to_int(match.group("num"))
                    if number is not None:
                        candidates[name].append(_Heading("measure", number, start + match.start("rest"), start, end))
                    break
    sections = _in_sequence(sections)
    used = [name for name in candidates if candidates[name]]
    measures: list[_Heading] = []
    if used:
        scheme = min(used, key=lambda name: candidates[name][0].start)
        measures = _in_sequence(candidates[scheme])
    return sorted(sections + measures, key=lambda h: h.start)


def _looks_like_section_title(title: str) -> bool:
    title = title.strip()
    if not title or len(title) > MAX_TITLE_CHARS:
        return False
    return "。" not in title.rstrip("。")


def _in_sequence(headings: list[_Heading]) -> list[_Heading]:
    """Keep headings that continue the numbering (n+1) or restart it (1)."""
    kept: list[_Heading] = []
    for heading in headings:
        previous = kept[-1].number if kept else 0
        if heading.number in (previous + 1, 1):
            kept.append(heading)
    return kept


def _measure(text: str, heading: _Heading | None, start: int, end: int, section: str,
             default_title: str, problems: list[str]) -> Measure:
    """One measure (or plain record when ``heading`` is None) spanning text[start:end]."""
    body_end = end
    departments_sentence: Sentence | None = None
    department_line = None
    match = DEPARTMENTS_AT_END.search(text, start, end)
    if match and match.start() > start:
        department_line = parse_department_line(match.group("inner"))
        departments_sentence = make_sentence(text, match.start(), match.end(), kind="departments")
        body_end = match.start()

    sentences = split_sentences(text, start, body_end)
    title = default_title
    label = None
    content_start = start
    if heading is not None:
        label = compact(text[heading.start:heading.label_end])
        content_start = heading.label_end
        first = sentences[0] if sentences else None
        if first is not None and len(first.text) <= MAX_TITLE_CHARS + len(label):
            sentences[0] = Sentence(first.start, first.end, first.text, kind="heading")
            title = repair(text[heading.label_end:first.end]).rstrip("。；;.!！?？ ")
        else:
            title = _first_clause(repair(text[heading.label_end:body_end]))
    if departments_sentence is not None:
        sentences.append(departments_sentence)

    measure = Measure(
        number=heading.number if heading is not None else None,
        title=title,
        text=repair(text[content_start:end]),
        section=section,
        start=start,
        end=end,
        sentences=sentences,
        departments=department_line.departments if department_line else [],
        responsibility=department_line.responsibility if department_line else None,
        departments_text=department_line.text if department_line else None,
        label=label,
    )
    measure.targets = [t for s in sentences if s.kind == "sentence" or s.kind == "heading" for t in extract_targets(text, s)]
    if heading is not None and not measure.departments:
        problems.append(f"measure {heading.number} 「{title}」 names no responsible department")
    return measure


def _first_clause(text: str, limit: int = 24) -> str:
    clause = re.split(r"[，,。；;：:！？!?\n]", text, maxsplit=1)[0].strip()
    return clause if len(clause) <= limit else clause[:limit] + "…"


def _plain_records(text: str, start: int, end: int, section: str, problems: list[str]) -> list[Measure]:
    """Paragraphs that carry no measure heading become unnumbered records."""
    records = []
    for p_start, p_end in paragraphs(text, start, end):
        title = section or _first_clause(repair(text[p_start:p_end]))
        records.append(_measure(text, None, p_start, p_end, section, title, problems))
    return records


def _metadata(text: str, start: int, end: int) -> dict[str, str | None]:
    spans = list(lines(text, start, end))
    found: dict[str, str | None] = {"doc_number": None, "issued_on": None, "issuer": None,
                                    "notice_title": None, "title": None}
    number = DOC_NUMBER.search(text, start, end)
    if number:
        found["doc_number"] = re.sub(r"\s+", "", number.group(0))
    line_texts = [text[s:e] for s, e in spans]
    for i, line in enumerate(line_texts):
        squeezed = re.sub(r"\s+", "", line)
        iso = _iso_date(squeezed)
        if iso and found["issued_on"] is None:
            found["issued_on"] = iso
            if i > 0 and compact(line_texts[i - 1]).endswith(ISSUER_END):
                found["issuer"] = compact(line_texts[i - 1])
    for i, line in enumerate(line_texts):
        if compact(line).startswith("关于"):
            parts = [line]
            j = i
            while not compact(parts[-1]).endswith(TITLE_WORDS) and j + 1 < len(line_texts) and j < i + 3:
                j += 1
                parts.append(line_texts[j])
            issuer_line = compact(line_texts[i - 1]) if i > 0 else ""
            notice = compact("".join(parts))
            if issuer_line.endswith(ISSUER_END):
                found["issuer"] = found["issuer"] or issuer_line
                notice = issuer_line + notice
            found["notice_title"] = notice
            break
    # The plan's own title: a short line naming a plan (…方案, …办法) that is not the notice.
    for line in reversed(line_texts):
        short = compact(line)
        if (len(short) <= 60 and short.endswith(TITLE_WORDS[:-2]) and "。" not in short
                and not short.startswith("关于") and short != found["notice_title"]):
            found["title"] = short
            break
    if found["title"] is None and found["notice_title"]:
        inner = re.search(r"关于印发(.+?)的通知", found["notice_title"])
        found["title"] = inner.group(1) if inner else found["notice_title"]
    if found["title"] is None and line_texts:
        first = compact(line_texts[0])
        found["title"] = first if len(first) <= 60 else first[:60] + "…"
    return found


def _iso_date(squeezed: str) -> str | None:
    for pattern in (DATE_LINE, CN_DATE_LINE):
        match = pattern.match(squeezed)
        if match:
            y, m, d = (cn_to_int(match.group(k)) if not match.group(k).isdigit() else int(match.group(k))
                       for k in ("y", "m", "d"))
            if pattern is CN_DATE_LINE:
                y = int("".join(str(CN_DIGITS.get(ch, 0)) for ch in match.group("y")))
            try:
                return date(y, m, d).isoformat()
            except (TypeError, ValueError):
                return None
    return None


def _preamble(text: str, start: int, end: int) -> list[Sentence]:
    sentences: list[Sentence] = []
    for line_start, line_end in lines(text, start, end):
        sentences.extend(split_sentences(text, line_start, line_end, kind="preamble"))
    return sentences


def parse_document(text: str, doc_id: str, source: str = "", meta: dict | None = None) -> Document:
    """Parse one document's text. Never raises for any string."""
    meta = meta or {}
    problems: list[str] = []
    headings = _headings(text)
    first_heading = headings[0].start if headings else None

    if first_heading is None:
        # No recognised structure: the leading lines up to the first paragraph that
        # ends a sentence are the preamble, the rest plain records.
        body_start = _first_paragraph_start(text)
        preamble_end = body_start
    else:
        preamble_end = body_start = first_heading
    facts = _metadata(text, 0, preamble_end)
    document = Document(
        doc_id=doc_id,
        title=str(meta.get("title") or facts["title"] or _title_from_source(source, doc_id)),
        text=text,
        source=source,
        doc_number=meta.get("doc_number") or facts["doc_number"],
        issuer=meta.get("issuer") or facts["issuer"],
        issued_on=meta.get("issued_on") or facts["issued_on"],
        notice_title=meta.get("notice_title") or facts["notice_title"],
        preamble=_preamble(text, 0, preamble_end),
        problems=problems,
    )

    if not headings:
        records = _plain_records(text, body_start, len(text), "", problems)
        if records:
            document.sections.append(Section(None, "", body_start, len(text), None, records))
        problems.append("no numbered sections or measures recognised; the text is kept as plain records")
        for position, measure in enumerate(document.measures, start=1):
            measure.key = f"r{position}"
        return document

    section: Section | None = None
    for i, heading in enumerate(headings):
        next_start = headings[i + 1].start if i + 1 < len(headings) else len(text)
        if heading.kind == "section":
            title = compact(text[heading.label_end:heading.end]).rstrip("。")
            section = Section(heading.number, title, heading.start, next_start,
                              make_sentence(text, heading.start, heading.end, kind="heading"))
            document.sections.append(section)
            if heading.end < next_start:
                section.measures.extend(_plain_records(text, heading.end, next_start, title, problems))
        else:
            if section is None:
                section = Section(None, "", heading.start, next_start)
                document.sections.append(section)
            section.measures.append(_measure(text, heading, heading.start, next_start, section.title,
                                             "", problems))
        if section is not None:
            section.end = next_start
    if not document.measures:
        problems.append("no measures found")
    _number_uniquely(document, problems)
    for position, measure in enumerate(document.measures, start=1):
        measure.key = str(measure.number) if measure.number is not None else f"r{position}"
    return document


def _title_from_source(source: str, doc_id: str) -> str:
    name = source.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if name else doc_id


def _number_uniquely(document: Document, problems: list[str]) -> None:
    """Measure numbers identify a measure inside its document (第3条, /api/measures/doc/3).

    Documents whose numbering restarts in every section (（一）（二）… again)
    are numbered 1..N in reading order; the label keeps the number as written.
    """
    numbered = [m for m in document.measures if m.number is not None]
    numbers = [m.number for m in numbered]
    if len(set(numbers)) == len(numbers):
        return
    for position, measure in enumerate(numbered, start=1):
        measure.number = position
    problems.append(f"numbering restarts in each section; measures are numbered 1–{len(numbered)} in reading order")


def _first_paragraph_start(text: str) -> int:
    """Where the body starts in a document without headings: after its title lines.

    Title lines are short and end no sentence; a salutation (各单位：) or the
    first sentence starts the body.
    """
    body_start = 0
    for start, end in lines(text):
        line = text[start:end]
        if len(line) > 60 or ends_sentence(line) or line.rstrip().endswith(("：", ":")):
            return start
        body_start = end
    return body_start
