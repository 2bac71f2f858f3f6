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


def measure_label(number: int | None, title: str) -> str:
    """第9条 加力推进智改数转网联, or just the title of an unnumbered section (保障措施)."""
    return f"第{number}条 {title}" if number is not None else title


def transfer_line(measure: MeasureOut) -> str:
    """One line for a hotline operator to copy, e.g. 转办：第9条「…」，责任单位：市工业和信息化局、市农业农村局."""
    which = f"第{measure.number}条「{measure.title}」" if measure.number is not None else f"「{measure.title}」"
    departments = "、".join(measure.departments) or "文件未列明"
    return f"转办：{which}，责任单位：{departments}"


def target_text(target) -> str:
    """新增产值 190 亿元: the phrase with its figure, which the phrase may already hold."""
    phrase, figure = target.phrase.strip(), target.text.strip()
    if not phrase or (figure and figure in phrase):
        return phrase or figure
    return f"{phrase} {figure}"


def department_choices(departments: Iterable[DepartmentOut]) -> list[tuple[str, str]]:
    """Dropdown choices ("市工业和信息化局（21）", name), most measures first, then by name."""
    ordered = sorted(departments, key=lambda d: (-len(d.measures), d.name))
    return [(f"{d.name}（{len(d.measures)}）", d.name) for d in ordered]


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


def _head(number: int | None, title: str) -> str:
    number_html = f'<span class="pq-num">第{esc(number)}条</span>' if number is not None else ""
    return f'<div class="pq-head">{number_html}<span class="pq-title">{esc(title)}</span></div>'


def _full_text(measure: MeasureOut, quotes: Sequence[str] = (), open_: bool = False) -> str:
    marked = bool(quote_spans(measure.text, quotes))
    summary = "查看原文（引用句已标黄）" if marked else "查看原文"
    return (
        f'<details class="pq-full"{" open" if open_ else ""}><summary>{summary}</summary>'
        f'<div class="pq-text">{highlight(measure.text, quotes)}</div></details>'
    )


def _quotes_html(quotes: Sequence[str]) -> str:
    return "".join(f'<blockquote class="pq-quote">{_text(q)}</blockquote>' for q in quotes)


# --- answers ----------------------------------------------------------------------------------


def _group_citations(citations: Sequence[Citation]) -> list[tuple[Citation, list[str]]]:
    """One entry per cited measure, in the order first cited, with all its quotes."""
    groups: dict[tuple, tuple[Citation, list[str]]] = {}
    for c in citations:
        key = (c.doc_id, c.measure_number, c.section if c.measure_number is None else "", c.measure_title)
        first, quotes = groups.setdefault(key, (c, []))
        if c.quote and c.quote not in quotes:
            quotes.append(c.quote)
    return list(groups.values())


def citation_card(citation: Citation, quotes: Sequence[str], measure: MeasureOut | None, show_doc: bool) -> str:
    """A cited measure: number, title, section, departments, targets, and its full text (folded)
    with the quoted sentences marked. The answer text above already quotes them, so they are
    not repeated on their own; only when the full text is unknown (a citation of the document's
    facts) or does not hold a quote is the quote shown as it is."""
    parts = ['<div class="pq-card">', _head(citation.measure_number, citation.measure_title)]
    if show_doc or measure is None:
        parts.append(_field("文件", f"《{esc(citation.doc_title)}》"))
    if citation.section and citation.section != citation.measure_title:
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


def answer_html(response: AskResponse, get_measure: MeasureGetter) -> str:
    """The assistant's message: the answer text, then 依据, one card per cited measure."""
    groups = _group_citations(response.citations)
    show_doc = len({c.doc_id for c, _ in groups}) > 1
    cards = "".join(
        citation_card(c, quotes, get_measure(c.doc_id, c.measure_number, c.measure_title), show_doc)
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


def measure_card(measure: MeasureOut, doc_title: str | None = None) -> str:
    """A measure in a result list: number, title, section, departments, targets, 转办 line, full text.
    ``doc_title`` is shown when given (when the corpus holds more than one document)."""
    parts = ['<div class="pq-card">']
    parts.append(_head(measure.number, measure.title))
    if doc_title:
        parts.append(_field("文件", f"《{esc(doc_title)}》"))
    if measure.section and measure.section != measure.title:
        parts.append(_field("所属部分", esc(measure.section)))
    parts.append(_field("责任单位", _departments_html(measure.departments)))
    parts.append(_targets_html(measure))
    parts.append(f'<div class="pq-transfer">{esc(transfer_line(measure))}</div>')
    parts.append(_full_text(measure))
    parts.append("</div>")
    return "".join(parts)


def measure_list_html(
    heading: str,
    measures: Sequence[MeasureOut],
    doc_titles: Mapping[str, str] | None = None,
    empty: str = "没有找到相关措施。",
) -> str:
    """``heading`` is plain text (escaped here); every measure is listed, never cut.
    With ``doc_titles`` (doc_id → title) each card names its document."""
    head = f'<div class="pq-list-head">{esc(heading)}</div>'
    if not measures:
        return f'<div class="pq-list">{head}<div class="pq-muted">{esc(empty)}</div></div>'
    titles = doc_titles or {}
    cards = "".join(measure_card(m, titles.get(m.doc_id)) for m in measures)
    return f'<div class="pq-list">{head}<div class="pq-cards">{cards}</div></div>'


def measure_detail_html(measure: MeasureOut, doc_title: str | None = None) -> str:
    """Everything about one measure, the full text open."""
    parts = ['<div class="pq-detail pq-card">', _head(measure.number, measure.title)]
    if doc_title:
        parts.append(_field("文件", f"《{esc(doc_title)}》"))
    if measure.section:
        parts.append(_field("所属部分", esc(measure.section)))
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


def documents_html(documents: Sequence[DocumentOut]) -> str:
    if not documents:
        return message_html("尚未载入任何政策文件。")
    cards = []
    for doc in documents:
        numbered = sum(1 for m in doc.measures if m.number is not None)
        count = f"{len(doc.measures)} 项"
        if numbered != len(doc.measures):
            count += f"（编号措施 {numbered} 条，另有 {len(doc.measures) - numbered} 项未编号部分）"
        rows = [
            _field("文号", esc(doc.doc_number or "—")),
            _field("印发日期", esc(doc.issued_on or "—")),
            _field("发文机关", esc(doc.issuer or "—")),
            _field("措施数量", esc(count)),
            _field("来源文件", esc(doc.source)),
        ]
        cards.append(
            f'<div class="pq-card pq-doc"><div class="pq-head"><span class="pq-title">{esc(doc.title)}</span></div>'
            f"{''.join(rows)}</div>"
        )
    return f'<div class="pq-cards pq-docs">{"".join(cards)}</div>'


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
