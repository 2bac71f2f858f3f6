"""HTML for the UI: answer cards, measure lists and details, document facts.

Every string that comes from a question or a document goes through ``esc``
(html.escape) before it is put into HTML; the markup around it is ours. The
output has no blank lines, so the chatbot's Markdown renderer treats each
message as one raw HTML block and never reinterprets the escaped text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date

from assistant.answers import lead_and_others, measure_label as engine_label
from assistant.models import AskResponse, Citation, DepartmentOut, DocumentOut, MeasureOut

# (doc_id, number, title) -> the measure, or None when unknown
MeasureGetter = Callable[[str, "int | None", str], "MeasureOut | None"]

# An answer citing more measures than this (a department's list) folds its cards under one line:
# the answer text already lists them.
OPEN_CARDS = 3


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _text(value: str) -> str:
    """Escaped text with its line breaks kept."""
    return "<br>".join(esc(line) for line in value.splitlines()) if value else ""


# --- plain-text labels ---------------------------------------------------------------

# An untitled record (a legal article, 第一条 …) is named by the start of its text, cut at this many characters.
SNIPPET_CHARS = 18


def ref_key(key: str | None, number: int | None, title: str) -> str:
    """How ``Assistant.measure`` finds a record: its key ("9", "2.1", "r22"), else (records from an
    engine that gives no key) its number, else its title."""
    return key or (str(number) if number is not None else title)


def snippet(text: str) -> str:
    """The first clause of ``text``, cut at SNIPPET_CHARS characters (with …)."""
    first = re.split(r"[，。；：,;:]", " ".join(text.split()), maxsplit=1)[0]
    return first[:SNIPPET_CHARS] + ("…" if len(first) > SNIPPET_CHARS else "")


def label_of(measure: MeasureOut) -> str:
    """How answers number a measure: 第9条, 第五条 or 第1條 as written, 三、（一） where numbering restarts;
    "" for an unnumbered record (保障措施)."""
    if measure.number is None:
        return ""
    return engine_label(measure) or f"第{measure.number}条"


def title_of(measure: MeasureOut) -> str:
    """The measure's title, or the start of its text when it has none."""
    return measure.title or snippet(measure.text)


def measure_name(measure: MeasureOut) -> str:
    """第9条 加力推进智改数转网联; 第一条 为了促进中小企业发展…; 保障措施."""
    return " ".join(p for p in (label_of(measure), title_of(measure)) if p)


def tidy(heading: str) -> str:
    """A heading as written, its runs of spaces (第一章\u3000总\u3000\u3000则) made one."""
    return " ".join(heading.split())


def part_of(measure: MeasureOut) -> str:
    """The top heading a record sits under (三、促进实数深度融合…, 第二章 创业扶持), as written; a record
    that is itself a heading (七、保障措施) is its own part; "" for a document without parts."""
    if measure.path:
        return measure.path[0]
    return f"{measure.label or ''}{measure.section}" if measure.section else ""


def group_of(measure: MeasureOut) -> str:
    """The headings between its part and the measure ((一)统筹两个市场…), as written; "" when none."""
    return " › ".join(measure.path[1:])


def short_title(document: DocumentOut) -> str:
    return document.short_title or document.title


def document_name(document: DocumentOut) -> str:
    """《武汉市OPC若干措施》（武政规〔2026〕4号）: how answers and the 转办 line name a document."""
    number = f"（{document.doc_number}）" if document.doc_number else ""
    return f"《{short_title(document)}》{number}"


def measure_label(number: int | None, title: str) -> str:
    """第9条 加力推进智改数转网联, or just the title of an unnumbered section (保障措施). For a record
    the engine gave, ``measure_name`` numbers it as answers do."""
    return f"第{number}条 {title}" if number is not None else title


def transfer_line(measure: MeasureOut, document: DocumentOut | None = None) -> str:
    """One line for a hotline operator to copy, e.g. 转办：《…行动方案》（威政办字〔2026〕10号）第9条「…」，
    责任单位：市工业和信息化局、市农业农村局. The document is named when given: the line is pasted
    where the page's context is lost."""
    label = label_of(measure)
    which = f"{label}「{measure.title}」" if measure.title else (label or f"「{snippet(measure.text)}」")
    return f"转办：{document_name(document) if document else ''}{which}，{units_with_roles(measure)}"


def units_with_roles(measure: MeasureOut) -> str:
    """责任单位：A、B — or, when the document names a lead, 牵头单位：A；配合单位：B、C (as the 牵头/配合 lines say)."""
    lead, others, cooperate = lead_and_others(measure.roles)
    if not lead:
        return f"责任单位：{'、'.join(measure.departments) or '文件未列明'}"
    return f"牵头单位：{'、'.join(lead)}" + (f"；{'配合单位' if cooperate else '责任单位'}：{'、'.join(others)}"
                                           if others else "")


def target_text(target) -> str:
    """新增产值 190 亿元: the phrase with its figure, which the phrase may already hold."""
    phrase, figure = target.phrase.strip(), target.text.strip()
    if not phrase or (figure and figure in phrase):
        return phrase or figure
    return f"{phrase} {figure}"


def is_expired(expires_on: str | None, today: date) -> bool:
    """True when ``expires_on`` (an ISO date) is before ``today``; False when unknown or unreadable."""
    try:
        return bool(expires_on) and date.fromisoformat(expires_on) < today
    except ValueError:
        return False


# --- highlighting ------------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。；！？!?]+[。；！？!?]?")


def _find(text: str, quote: str) -> str | None:
    """The form of ``quote`` that occurs in ``text``: as is, stripped, or without its final punctuation."""
    for candidate in (quote, quote.strip(), quote.strip().rstrip("。；;，,.")):
        if candidate and candidate in text:
            return candidate
    return None


def quote_parts(text: str, quote: str) -> list[str]:
    """The pieces of ``quote`` to show and mark: the quote itself when ``text`` holds it, else
    its sentences that ``text`` holds (an engine may join non-adjacent sentences into one quote),
    else the quote as it is."""
    if _find(text, quote):
        return [quote]
    parts = [p.strip() for p in _SENTENCE.findall(quote) if p.strip()]
    found = [p for p in parts if _find(text, p)]
    return found if found else [quote]


def quote_spans(text: str, quotes: Iterable[str]) -> list[tuple[int, int]]:
    """Where each quote stands in ``text``, merged and sorted. A quote that is not found
    verbatim is tried without surrounding whitespace and final punctuation, then sentence by sentence."""
    spans = []
    for quote in quotes:
        for part in quote_parts(text, quote):
            found = _find(text, part)
            if found:
                spans.extend((m.start(), m.end()) for m in re.finditer(re.escape(found), text))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, quotes: Iterable[str]) -> str:
    """``text`` escaped, with each quoted sentence wrapped in <mark> (parts escaped separately)."""
    out, pos = [], 0
    for start, end in quote_spans(text, quotes):
        out.append(_text(text[pos:start]))
        out.append(f"<mark>{_text(text[start:end])}</mark>")
        pos = end
    out.append(_text(text[pos:]))
    return "".join(out)


# --- pieces of a card ----------------------------------------------------------------------


def _field(label: str, value_html: str) -> str:
    return f'<div class="pq-field"><span class="pq-key">{esc(label)}</span><span class="pq-val">{value_html}</span></div>'


def _departments_html(departments: Sequence[str]) -> str:
    if not departments:
        return '<span class="pq-muted">文件未列明</span>'
    return "".join(f'<span class="pq-dept">{esc(d)}</span>' for d in departments)


def _targets_html(measure: MeasureOut | None) -> str:
    if measure is None or not measure.targets:
        return ""
    lines = dict.fromkeys(target_text(t) for t in measure.targets)  # two figures of one phrase: one line
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return _field("目标", f'<ul class="pq-targets">{items}</ul>')


def _head(label: str, title: str, untitled: bool = False) -> str:
    """The card's first line: the label as a badge (第9条, 三、（一）), then the title (or, muted, the
    start of the text of an untitled record)."""
    label_html = f'<span class="pq-num">{esc(label)}</span>' if label else ""
    css = "pq-title pq-untitled" if untitled else "pq-title"
    return f'<div class="pq-head">{label_html}<span class="{css}">{esc(title)}</span></div>'


def _measure_head(measure: MeasureOut) -> str:
    return _head(label_of(measure), title_of(measure), untitled=not measure.title)


def _where_html(measure: MeasureOut) -> str:
    """所属部分: the headings above the measure (part › group), or its section."""
    where = " › ".join(tidy(p) for p in measure.path) or measure.section
    if not where or where == measure.title:
        return ""
    return _field("所属部分", esc(where))


def _full_text(measure: MeasureOut, quotes: Sequence[str] = (), open_: bool = False) -> str:
    marked = bool(quote_spans(measure.text, quotes))
    summary = "查看原文（引用句已标黄）" if marked else "查看原文"
    return (
        f'<details class="pq-full"{" open" if open_ else ""}><summary>{summary}</summary>'
        f'<div class="pq-text">{highlight(measure.text, quotes)}</div></details>'
    )


def _quotes_html(quotes: Sequence[str]) -> str:
    return "".join(f'<blockquote class="pq-quote">{_text(q)}</blockquote>' for q in quotes)


def doc_line_html(short: str, doc_number: str | None, issued_on: str | None, expires_on: str | None,
                  today: date | None) -> str:
    """The document a card's measure belongs to, on one line above it:
    《短标题》 文号 · 2026-02-13 印发 (and 已于…到期 when its validity ended before ``today``)."""
    parts = [f'<span class="pq-docname">《{esc(short)}》</span>']
    if doc_number:
        parts.append(f'<span class="pq-docno">{esc(doc_number)}</span>')
    if issued_on:
        parts.append(f'<span class="pq-docdate">{esc(issued_on)} 印发</span>')
    if today is not None and is_expired(expires_on, today):
        parts.append(f'<span class="pq-expired">已于{esc(expires_on)}到期</span>')
    return f'<div class="pq-docline">{" · ".join(parts)}</div>'


def document_line(document: DocumentOut, today: date | None = None) -> str:
    return doc_line_html(short_title(document), document.doc_number, document.issued_on, document.expires_on, today)


def citation_doc_line(citation: Citation, today: date | None = None) -> str:
    return doc_line_html(citation.doc_short_title or citation.doc_title, citation.doc_number, citation.doc_issued_on,
                         citation.doc_expires_on, today)


# --- answers ----------------------------------------------------------------------------------

# (doc_id, key) -> the measure, or None when unknown (key: ref_key of the citation)
MeasureGetter = Callable[[str, str], "MeasureOut | None"]


def _group_citations(citations: Sequence[Citation]) -> list[tuple[Citation, list[str]]]:
    """One entry per cited measure, in the order first cited, with all its quotes."""
    groups: dict[tuple, tuple[Citation, list[str]]] = {}
    for c in citations:
        key = (c.doc_id, c.measure_key, c.measure_number, c.section if c.measure_number is None else "",
               c.measure_title)
        first, quotes = groups.setdefault(key, (c, []))
        if c.quote and c.quote not in quotes:
            quotes.append(c.quote)
    return list(groups.values())


def citation_card(citation: Citation, quotes: Sequence[str], measure: MeasureOut | None, show_doc: bool,
                  today: date | None = None) -> str:
    """A cited measure: its document (``show_doc``: when the corpus holds several), number, title, section,
    departments, targets, and its full text (folded) with the quoted sentences marked. The answer text
    above already quotes them, so they are not repeated on their own; only when the full text is
    unknown (a citation of the document's facts) or does not hold a quote is the quote shown as it is."""
    parts = ['<div class="pq-card">']
    if show_doc:
        parts.append(citation_doc_line(citation, today))
    if measure is not None:
        parts.append(_measure_head(measure))
    else:
        label = f"第{citation.measure_number}条" if citation.measure_number is not None else ""
        parts.append(_head(label, citation.measure_title))
        if not show_doc:
            parts.append(_field("文件", f"《{esc(citation.doc_title)}》"))
    if measure is not None:
        parts.append(_where_html(measure))
    elif citation.section and citation.section != citation.measure_title:
        parts.append(_field("所属部分", esc(citation.section)))
    if measure is not None or citation.departments:
        departments = measure.departments if measure is not None else citation.departments
        parts.append(_field("责任单位", _departments_html(departments)))
    parts.append(_targets_html(measure))
    if measure is None:
        parts.append(_quotes_html(quotes))
    else:
        parts.append(_quotes_html([q for q in quotes if not quote_spans(measure.text, [q])]))
        parts.append(_full_text(measure, quotes))
    parts.append("</div>")
    return "".join(parts)


def answer_html(response: AskResponse, get_measure: MeasureGetter, show_doc: bool = False,
                today: date | None = None) -> str:
    """The assistant's message: the answer text, then 依据, one card per cited measure. ``show_doc``
    (the corpus holds more than one document): each card names its document above the measure."""
    groups = _group_citations(response.citations)
    cards = "".join(
        citation_card(c, quotes, get_measure(c.doc_id, ref_key(c.measure_key, c.measure_number, c.measure_title)),
                      show_doc, today)
        for c, quotes in groups
    )
    css = "pq-answer" if response.found else "pq-answer pq-notfound"
    body = f'<div class="pq-answer-text">{_text(response.answer)}</div>'
    if len(groups) > OPEN_CARDS:
        body += (
            f'<details class="pq-sources"><summary>依据：这 {len(groups)} 条措施的责任单位和原文</summary>'
            f'<div class="pq-cards">{cards}</div></details>'
        )
    elif cards:
        body += f'<div class="pq-sources"><div class="pq-sources-head">依据</div><div class="pq-cards">{cards}</div></div>'
    return f'<div class="{css}">{body}</div>'


def question_html(question: str, key: str | None = None) -> str:
    """The user's message. ``key`` (hex digits) names this question in the page, as the class pq-q-<key>."""
    if key is not None and not re.fullmatch(r"[0-9a-f]+", key):
        raise ValueError(f"a question key is hex digits, got {key!r}")
    css = f"pq-question pq-q-{key}" if key else "pq-question"
    return f'<div class="{css}">{_text(question)}</div>'


def error_html(message: str) -> str:
    return f'<div class="pq-answer pq-error">{_text(message)}</div>'


def trimmed_note_html() -> str:
    """The first line of a chat that no longer shows its oldest exchanges (ui.sessions.trim_chat)."""
    return '<div class="pq-muted pq-trimmed">更早的问答已不再显示，这里只保留最近的几轮。</div>'


# --- lookup ------------------------------------------------------------------------------------


def measure_card(measure: MeasureOut, document: DocumentOut | None = None) -> str:
    """A measure in a result list: number, title, section, departments, targets, 转办 line (naming
    ``document`` when given), full text (folded)."""
    parts = ['<div class="pq-card">']
    parts.append(_measure_head(measure))
    parts.append(_where_html(measure))
    parts.append(_field("责任单位", _departments_html(measure.departments)))
    parts.append(_targets_html(measure))
    parts.append(f'<div class="pq-transfer">{esc(transfer_line(measure, document))}</div>')
    parts.append(_full_text(measure))
    parts.append("</div>")
    return "".join(parts)


def measure_list_html(
    heading: str,
    measures: Sequence[MeasureOut],
    documents: Mapping[str, DocumentOut] | None = None,
    empty: str = "没有找到相关措施。",
    grouped: bool = False,
    today: date | None = None,
) -> str:
    """``heading`` is plain text (escaped here); every measure is listed, never cut. ``documents``
    (doc_id → document) name the document in each 转办 line; with ``grouped`` (the corpus holds
    several documents) the cards come under one heading per document, with its count, in the order
    of ``documents``."""
    head = f'<div class="pq-list-head">{esc(heading)}</div>'
    if not measures:
        return f'<div class="pq-list">{head}<div class="pq-muted">{esc(empty)}</div></div>'
    documents = documents or {}
    if not grouped:
        cards = "".join(measure_card(m, documents.get(m.doc_id)) for m in measures)
        return f'<div class="pq-list">{head}<div class="pq-cards">{cards}</div></div>'
    by_doc: dict[str, list[MeasureOut]] = {}
    for m in measures:
        by_doc.setdefault(m.doc_id, []).append(m)
    order = [d for d in documents if d in by_doc] + [d for d in by_doc if d not in documents]
    sections = []
    for doc_id in order:
        found, document = by_doc[doc_id], documents.get(doc_id)
        line = document_line(document, today) if document else doc_line_html(doc_id, None, None, None, None)
        cards = "".join(measure_card(m, document) for m in found)
        sections.append(
            f'<section class="pq-docgroup"><div class="pq-docgroup-head">{line}'
            f'<span class="pq-count">{len(found)} 条</span></div><div class="pq-cards">{cards}</div></section>'
        )
    return f'<div class="pq-list pq-grouped">{head}{"".join(sections)}</div>'


def measure_detail_html(measure: MeasureOut, document: DocumentOut | None = None, today: date | None = None) -> str:
    """Everything about one measure, the full text open, under the line naming its document."""
    parts = ['<div class="pq-detail pq-card">']
    if document is not None:
        parts.append(document_line(document, today))
    parts.append(_measure_head(measure))
    parts.append(_where_html(measure))
    parts.append(_field("责任单位", _departments_html(measure.departments)))
    if measure.departments_text:
        parts.append(_field("原文分工", esc(measure.departments_text)))
    parts.append(_targets_html(measure))
    parts.append(f'<div class="pq-text pq-text-open">{_text(measure.text)}</div>')
    parts.append("</div>")
    return "".join(parts)


def message_html(message: str) -> str:
    return f'<div class="pq-muted">{esc(message)}</div>'


# --- documents ---------------------------------------------------------------------------------

# A document card lists this many of its departments; the rest fold under one line.
OPEN_DEPARTMENTS = 12


def validity_html(document: DocumentOut, today: date) -> str:
    """自…起施行 · 有效期至…, then its state on ``today``: 已失效 (flagged), 尚未施行 or 有效."""
    facts = []
    if document.effective_on:
        facts.append(f"自 {esc(document.effective_on)} 起施行")
    if document.expires_on:
        facts.append(f"有效期至 {esc(document.expires_on)}")
    if is_expired(document.expires_on, today):
        state = f'<span class="pq-expired">已失效（{esc(document.expires_on)} 到期）</span>'
    elif document.effective_on and document.effective_on > today.isoformat():
        state = '<span class="pq-pending">尚未施行</span>'
    elif facts:
        state = '<span class="pq-valid">有效</span>'
    else:
        return '<span class="pq-muted">文件未载明施行日期和有效期</span>'
    return " · ".join([*facts, state])


def _document_departments_html(names: Sequence[tuple[str, int]]) -> str:
    """Each department with how many of the document's records name it, the first OPEN_DEPARTMENTS open."""
    if not names:
        return '<span class="pq-muted">文件未列明</span>'
    chips = [f'<span class="pq-dept">{esc(name)} <span class="pq-muted">{n}</span></span>' for name, n in names]
    shown = f'<span class="pq-muted">共 {len(chips)} 个：</span>' + "".join(chips[:OPEN_DEPARTMENTS])
    if len(chips) > OPEN_DEPARTMENTS:
        shown += (f'<details class="pq-more"><summary>另有 {len(chips) - OPEN_DEPARTMENTS} 个单位</summary>'
                  f'{"".join(chips[OPEN_DEPARTMENTS:])}</details>')
    return shown


def documents_html(documents: Sequence[DocumentOut], departments: Sequence[DepartmentOut] = (),
                   today: date | None = None) -> str:
    """One card per document: title, 文号, issuer, date of issue, validity on ``today`` (expired ones
    flagged), number of measures, and its departments with how many of its measures name each
    (from ``departments``, as the assistant lists them)."""
    if not documents:
        return message_html("尚未载入任何政策文件。")
    today = today or date.today()
    per_doc: dict[str, list[tuple[str, int]]] = {}
    for department in departments:
        counts: dict[str, int] = {}
        for ref in department.measures:
            counts[ref.doc_id] = counts.get(ref.doc_id, 0) + 1
        for doc_id, n in counts.items():
            per_doc.setdefault(doc_id, []).append((department.name, n))
    cards = []
    for doc in documents:
        numbered = sum(1 for m in doc.measures if m.number is not None)
        count = f"{len(doc.measures)} 项"
        if numbered != len(doc.measures):
            count += f"（编号措施 {numbered} 条，另有 {len(doc.measures) - numbered} 项未编号部分）"
        names = sorted(per_doc.get(doc.doc_id, []), key=lambda c: (-c[1], c[0]))
        rows = [
            _field("简称", esc(short_title(doc))) if doc.short_title and doc.short_title != doc.title else "",
            _field("文号", esc(doc.doc_number or "—")),
            _field("发文机关", esc(doc.issuer or "—")),
            _field("印发日期", esc(doc.issued_on or "—")),
            _field("适用地区", esc(doc.place)) if doc.place else "",
            _field("有效期", validity_html(doc, today)),
            _field("措施数量", esc(count)),
            _field("责任单位", _document_departments_html(names)),
            _field("来源文件", esc(doc.source)),
        ]
        expired = " pq-doc-expired" if is_expired(doc.expires_on, today) else ""
        cards.append(
            f'<div class="pq-card pq-doc{expired}"><div class="pq-head"><span class="pq-title">{esc(doc.title)}'
            f"</span></div>{''.join(rows)}</div>"
        )
    ended = sum(1 for d in documents if is_expired(d.expires_on, today))
    summary = f"共 {len(documents)} 份政策文件，{sum(len(d.measures) for d in documents)} 项措施"
    summary += f"；其中 {ended} 份已失效（截至 {today.isoformat()}）" if ended else ""
    return f'<div class="pq-list-head pq-docs-summary">{summary}</div><div class="pq-cards pq-docs">{"".join(cards)}</div>'


def corpus_summary_html(documents: Sequence[DocumentOut]) -> str:
    """One line under the page title: what the answers are based on."""
    if not documents:
        return '<div class="pq-corpus pq-muted">尚未载入任何政策文件。</div>'
    measures = sum(len(d.measures) for d in documents)
    if len(documents) == 1:
        doc = documents[0]
        number = f"（{esc(doc.doc_number)}）" if doc.doc_number else ""
        what = f"《{esc(doc.title)}》{number}"
    else:
        what = f"{len(documents)} 份政策文件"
    return f'<div class="pq-corpus pq-muted">当前收录：{what}，共 {measures} 项措施。</div>'


TAGLINE = "依据政策文件原文作答，每条回答都注明措施条目、责任单位和原文依据。"


def header_html(title: str, subtitle: str, documents: Sequence[DocumentOut] | None) -> str:
    """The page's heading: ``title``, ``subtitle`` (both plain text), what the answers rest on, and the
    corpus line (``documents`` None: still loading)."""
    corpus = corpus_summary_html(documents) if documents is not None else message_html("正在载入政策文件……")
    sub = f'<p class="pq-subtitle">{esc(subtitle)}</p>' if subtitle else ""
    return f'<div class="pq-header"><h1>{esc(title)}</h1>{sub}<p class="pq-tagline">{TAGLINE}</p>{corpus}</div>'
