"""Turn the text of one policy document into a Document record.

The parser works on lines and their numbering labels (corpus/labels.py):

1. **Headings.** A line that starts a paragraph and opens with a label (第一章, 第五条,
   一、, （一）, 1., （1）…) is a heading candidate. It is accepted when its number fits
   the sequence of its style under its parent: the next number, a restart at 1, or the
   number after the last one of that style anywhere (numbering that runs on across
   groups). Everything else stays text (a 第十二条 after 第三条, a stray 5. in a sentence).
2. **The measure level** is decided per document from what repeats: articles (第X条)
   when there are any; otherwise the label style with the most items that have nothing
   numbered below them. Items of that style are measures and anything numbered below
   them is a list inside them; styles above it are parts and groups, whose leaves become
   unnumbered records (七、保障措施).
3. **Head and tail.** What comes before the first part or measure is the head: the
   关于印发…的通知 block (the notice record), the plan's title and its preamble. Signature
   lines, dates and 此件公开发布 after the body are the closing; a 附则 heading and the
   validity clause after the last measure become records of their own.
4. **Records.** Each measure gets its number, label, key, path, title, text, sentences
   (with the departments that cover them), departments with roles, and typed figures.

Nothing is dropped: the records' spans cover the whole text (``Document.blocks``), and
``parse_document`` never raises, whatever the string.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from corpus.departments import Issuer, Marker, Namer, find_markers, is_line_marker, merge_roles
from corpus.facts import (
    DATE, ISSUER_END, TITLE_WORDS, all_dates, doc_number, is_date_line, level_prefix_for, place_and_level,
    place_names, validity,
)
from corpus.labels import RANK, SHOW, Label, match_label
from corpus.numerals import to_int
from corpus.records import Document, Measure, Notice, Section, Sentence
from corpus.segmentation import compact, ends_sentence, line_ends_paragraph, make_sentence, repair, split_sentences
from corpus.targets import extract_targets

MAX_TITLE_CHARS = 40
TITLE_SENTENCE_CHARS = 25
# Body text, not a heading, when the first sentence holds any of these (应当, 本办法, 根据…).
_BODY_SIGNS = re.compile(r"应当|可以|不得|必须|是指|所称|规定|适用于|本条例适用|施行|予以|给予|按照|根据|依据|参照|以下简称|为了|为进一步"
                         r"|^本|^对|^凡|^经|^自|^由|^为|^在|《"
                         r"|[（(](?![^（）()]{1,3}[）)])")  # a parenthesis, but not a short one inside a heading: 首台（套）
_DEPARTMENT_HINT = re.compile(r"(?:负责|牵头|配合)[^（）()\n]{0,40}[）)]|(?:责任|牵头|配合)(?:单位|部门)[：:]")
_UNLABELLED_HEADS = re.compile(r"^[\s\u3000]*(?:附\s*则|附\s*件|附\s*录)[\s\u3000]*[：:]?[\s\u3000]*$")
_VALIDITY_TEXT = re.compile(r"施行|实施|有效期|試行|试行|解释|解釋|停止执行|废止")
_CLOSING_LINE = re.compile(r"^[（(]此件[^）)]*[）)]$|^公开方式[：:]|^(?:抄送|抄报|主送)[：:]|印发$|^（?完）?$")


def cn_to_int(numeral: str) -> int | None:
    """一 → 1, 十四 → 14, 二十一 → 21, 一百零二 → 102; arabic digits pass through."""
    return to_int(numeral)


@dataclass
class _Line:
    index: int
    start: int
    end: int
    text: str
    label: Label | None
    para_start: bool


@dataclass(eq=False)
class _Head:
    line: _Line
    label: Label
    parent: "_Head | None"
    children: list["_Head"] = field(default_factory=list)
    role: str = ""  # container | measure | list | record

    @property
    def style(self) -> str:
        return self.label.style

    @property
    def rank(self) -> int:
        return self.label.rank

    @property
    def number(self) -> int:
        return self.label.number

    @property
    def start(self) -> int:
        return self.line.start

    def ancestors(self) -> list["_Head"]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]


# -- lines and headings -------------------------------------------------------------------------

def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    previous: _Line | None = None
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        line_text = text[start:end]
        label = match_label(line_text)
        para_start = previous is None or _ends_paragraph(previous)
        line = _Line(len(out), start, end, line_text, label, para_start)
        out.append(line)
        previous = line
    return out


def _ends_paragraph(line: _Line) -> bool:
    """Is the newline after ``line`` a paragraph end (not a page break inside a sentence)?"""
    if line_ends_paragraph(line.text):
        return True
    if line.label is not None and len(line.text) - line.label.end <= MAX_TITLE_CHARS and not line.text.endswith(
            ("，", ",", "、", "（", "(")):
        return True  # a heading line: 二、重点任务, 第 1 條
    stripped = line.text.rstrip()
    return len(stripped) <= MAX_TITLE_CHARS and not stripped.endswith(("，", ",", "、", "（", "(", "和", "及", "与"))


def _accept(lines: list[_Line], first: int = 0) -> list[_Head]:
    """Heading candidates that fit their style's sequence under their parent (see module doc)."""
    stack: list[_Head] = []
    last_child: dict[tuple[int, str], int] = {}
    last_global: dict[str, int] = {}
    last_run: dict[int, tuple[int, int, str]] = {}  # parent → (last number, run length, style) of its children
    accepted: list[_Head] = []
    for line in lines[first:]:
        label = line.label
        if label is None or not (line.para_start or label.prefixed or _stands_apart(line)):
            continue
        depth = len(stack)
        while depth and stack[depth - 1].rank >= label.rank:
            depth -= 1
        parent = stack[depth - 1] if depth else None
        key = (id(parent), label.style)
        previous = last_child.get(key)
        if label.prefixed:
            fits = previous is not None and label.number == previous + 1
        elif previous is not None:
            fits = label.number in (previous + 1, 1)
        else:
            fits = label.number == 1 or label.number == last_global.get(label.style, 0) + 1
            # a new style whose numbers run on from a run of another style (1.–4., then 第五条…)
            run = last_run.get(id(parent))
            if not fits and run and label.style not in last_global and run[1] >= 2 and label.number == run[0] + 1:
                fits = True
        if not fits:
            continue
        head = _Head(line, label, parent)
        if parent is not None:
            parent.children.append(head)
        del stack[depth:]
        stack.append(head)
        last_child[key] = label.number
        last_global[label.style] = label.number
        run = last_run.get(id(parent))
        last_run[id(parent)] = (label.number, run[1] + 1 if run and run[2] == label.style else 1, label.style)
        accepted.append(head)
    return accepted


def _stands_apart(line: _Line) -> bool:
    """A label alone on its line, or followed by a wide space or 【title】: a heading even after a page break."""
    rest = line.text[line.label.end:] if line.label else ""
    after_label = line.text[line.label.end - 1:line.label.end] if line.label else ""
    return not rest.strip() or after_label in "\u3000\u00a0" or rest.lstrip().startswith("【")


def _span_end(head: _Head, heads: list[_Head], limit: int) -> int:
    """Where a heading's span ends: at the next heading that is not inside it."""
    after = False
    for other in heads:
        if other is head:
            after = True
            continue
        if after and other.rank <= head.rank:
            return other.start
        if after and head not in other.ancestors():
            return other.start
    return limit


def _own_text(head: _Head, text: str) -> str:
    """The heading's line after its label plus the text before its first child."""
    end = head.children[0].start if head.children else head.line.end
    return text[head.line.start + head.label.end:end]


def _is_list_parent(head: _Head, heads: list[_Head], text: str, limit: int) -> bool:
    """A heading whose own text opens a list (…如下：) of leaves that name no departments."""
    if not head.children or not _own_text(head, text).rstrip().endswith(("：", ":")):
        return False
    for child in head.children:
        if child.children:
            return False
        child_text = text[child.start:_span_end(child, heads, limit)]
        if _DEPARTMENT_HINT.search(child_text):
            return False
    return True


def _measure_style(heads: list[_Head], text: str, limit: int) -> tuple[str | None, Counter]:
    counts: Counter = Counter()
    listed: set[int] = set()
    for head in heads:
        if any(id(a) in listed for a in head.ancestors()):
            continue
        if head.style == "article" or _is_list_parent(head, heads, text, limit):
            listed.add(id(head))
            counts[head.style] += 1
        elif not head.children:
            counts[head.style] += 1
    if counts.get("article"):
        return "article", counts
    if not counts:
        return None, counts
    style = max(counts, key=lambda s: (counts[s], RANK[s]))
    return style, counts


def _classify(heads: list[_Head], style: str | None, text: str, limit: int) -> None:
    measure_rank = RANK[style] if style else 99
    for head in heads:
        if any(a.role in ("measure", "list", "record") for a in head.ancestors()):
            head.role = "list"
        elif head.style == style:
            head.role = "measure"
        elif head.rank < measure_rank:
            head.role = "container" if head.children and not _is_list_parent(head, heads, text, limit) else "record"
        else:
            head.role = "measure" if not head.children or _is_list_parent(head, heads, text, limit) else "container"


# -- titles ---------------------------------------------------------------------------------------

_BRACKETED_TITLE = re.compile(r"[【〖\[]([^】〗\]]{2,40})[】〗\]]")


def _title(line_rest: str) -> tuple[str, bool]:
    """(title, whole_line) for the text after a label on its line.

    The title is the text alone on the line (第一条　总体要求, 第二条 【适用范围】), or the
    short first sentence ending in 。 that reads as a heading (推动重点行业稳增长。…);
    body text (本办法所称…, 对…的) gives "".
    """
    rest = line_rest.strip(" \u3000\u00a0\t")
    if not rest:
        return "", True
    bracketed = _BRACKETED_TITLE.match(rest)  # 第三条 【高校毕业生生活补贴】对…
    if bracketed:
        return bracketed.group(1).strip(), bracketed.end() == len(rest)
    first_end = rest.find("。")
    if first_end < 0:
        if not re.search(r"[；;！？!?：:]$", rest) and len(rest) <= MAX_TITLE_CHARS:
            return rest.strip("【】[]〖〗 ").rstrip("。"), True
        return "", False
    sentence = rest[:first_end]
    if first_end == len(rest) - 1:
        # one sentence alone on the line: a title only when it is short and heading-like
        if len(sentence) <= TITLE_SENTENCE_CHARS and not _BODY_SIGNS.search(sentence) and sentence.count("，") <= 1:
            return sentence.strip("【】[]"), True
        return "", False
    if (len(sentence) <= TITLE_SENTENCE_CHARS and sentence.count("，") + sentence.count(",") <= 1
            and not _BODY_SIGNS.search(sentence) and not ("的" in sentence and len(sentence) > 15)):
        return sentence.strip("【】[]"), False
    return "", False


# -- the head: notice, title, preamble ----------------------------------------------------------

@dataclass
class _HeadFacts:
    title: str | None = None
    notice_title: str | None = None
    notice: tuple[int, int] | None = None  # line index range [first, last]
    doc_number: str | None = None
    issuer: str | None = None
    issued_on: str | None = None
    roc: bool = False


def _head_facts(lines: list[_Line], body: int, closing: list[_Line]) -> _HeadFacts:
    facts = _HeadFacts()
    head = lines[:body]
    texts = [compact(line.text) for line in head]
    facts.roc = any("中華民國" in t or "中华民国" in t for t in texts)
    # the notice: …关于印发…的通知 (one to three lines), up to its signature date
    for i, t in enumerate(texts[:6]):
        if "印发" in t or "印發" in t:
            j = i
            while not texts[j].endswith("通知") and j + 1 < len(texts) and j < i + 2:
                j += 1
            if not texts[j].endswith("通知"):
                break
            first = i - 1 if i > 0 and texts[i - 1].endswith(ISSUER_END) and "关于" not in texts[i - 1] else i
            facts.notice_title = "".join(texts[first:j + 1])
            date_line = next((k for k in range(j + 1, len(head)) if is_date_line(head[k].text)), None)
            if date_line is not None:
                last = date_line
                if last + 1 < len(head) and re.match(r"^[（(]此件", texts[last + 1]):
                    last += 1
                facts.notice = (first, last)
                if date_line > 0 and _issuer_like(texts[date_line - 1]):
                    facts.issuer = _clean_issuer(head[date_line - 1].text)  # as written: joint issuers apart
                facts.issued_on = _first_date(head[date_line].text)
                after = last + 1
                if after < len(head) and _title_like(texts[after]):
                    facts.title = texts[after]
                    if after + 1 < len(head) and _title_like(texts[after + 1]) and not texts[after].endswith(
                            TITLE_WORDS) and len(texts[after]) + len(texts[after + 1]) <= 80:
                        facts.title += texts[after + 1]
            if facts.title is None:
                inner = re.search(r"《(.+?)》", facts.notice_title) or re.search(r"关于印发(.+?)的通知", facts.notice_title)
                facts.title = inner.group(1) if inner else facts.notice_title
            if facts.issuer is None:
                raw = head[first].text if "关于" in head[first].text else facts.notice_title
                prefix = raw.split("关于", 1)[0]
                facts.issuer = _clean_issuer(prefix) if prefix.strip() else None
            break
    if facts.title is None:
        parts = []
        for line, t in zip(head, texts):
            if (line.label is not None or facts_line(t) or t.endswith(("：", ":", "。")) or len(t) > 60
                    or DATE.match(t)):
                break
            parts.append(t)
            if t.endswith(TITLE_WORDS) or len(parts) == 3:
                break
        if parts:
            facts.title = "".join(parts)
            prefix = facts.title.split("关于", 1)[0] if "关于" in facts.title else ""
            facts.issuer = _clean_issuer(prefix) if prefix and prefix.endswith(ISSUER_END) else None
    # 文号: the first in the head; with several dated history lines, the one of the latest
    numbered = [(i, doc_number(line.text)) for i, line in enumerate(head) if doc_number(line.text)]
    if numbered:
        facts.doc_number = numbered[0][1]
    # signature after the body (issuer line + date line)
    if facts.issued_on is None:
        for k, line in enumerate(closing):
            if is_date_line(line.text):
                facts.issued_on = _first_date(line.text)
                if facts.issuer is None and k > 0 and _issuer_like(compact(closing[k - 1].text)):
                    facts.issuer = _clean_issuer(compact(closing[k - 1].text))
                break
    # a head of dated history lines (修订, 修正發布, 通过): the latest date and its 文号, issuer
    if facts.issued_on is None:
        dated = [(i, all_dates(line.text)) for i, line in enumerate(head)]
        dated = [(i, d) for i, d in dated if d and i > 0]
        if dated:
            i, dates = dated[-1]
            facts.issued_on = dates[0][2]
            number = doc_number(head[i].text)
            if number:
                facts.doc_number = number
            if facts.issuer is None:
                facts.issuer = _issuer_after_date(head[i].text, dates[0][1], number)
    if facts.issued_on is None:
        for line in head:
            if is_date_line(line.text):
                facts.issued_on = _first_date(line.text)
                break
    return facts


def facts_line(text: str) -> bool:
    """A 文号 or a date: not part of a title."""
    return bool(doc_number(text)) or is_date_line(text)


def _first_date(text: str) -> str | None:
    dates = all_dates(text)
    return dates[0][2] if dates else None


def _issuer_like(text: str) -> bool:
    squeezed = re.sub(r"[\s\u00a0\u3000]+", "", text)
    return 2 <= len(squeezed) <= 40 and squeezed.endswith(ISSUER_END) and not ends_sentence(squeezed)


def _clean_issuer(text: str) -> str:
    """The issuer line squeezed; joint issuers set apart by spaces (浙江省财政厅 浙江省经济和信息化厅) are
    joined by 、, not run together."""
    parts = [p.strip("，,：:") for p in re.split(r"[\s\u00a0\u3000]+", text.strip()) if p.strip("，,：:")]
    if len(parts) >= 2 and all(len(p) >= 3 and p.endswith(ISSUER_END) for p in parts):
        return "、".join(parts)
    return re.sub(r"[\s\u00a0\u3000]+", "", text).strip("，,：:")


def _issuer_after_date(line: str, date_end: int, number: str | None) -> str | None:
    """經濟部 from …十四日經濟部經工字第…號令; 北京市人民代表大会常务委员会 from …日 北京市第十五届人民代表大会常务委员会第二十四次会议修订."""
    rest = re.sub(r"[\s\u00a0\u3000]+", "", line[date_end:])
    if number:
        cut = rest.find(number[:2])
        rest = rest[:cut] if cut > 0 else rest
    rest = re.sub(r"第[一二三四五六七八九十百\d]+届", "", rest)
    rest = re.sub(r"第[一二三四五六七八九十百\d]+次.*$", "", rest)
    rest = re.sub(r"(?:通过|修订|修正|发布|公布|訂定|修正發布|發布).*$", "", rest)
    return rest if 2 <= len(rest) <= 30 and rest.endswith(ISSUER_END) else None


def _title_like(text: str) -> bool:
    return 4 <= len(text) <= 80 and not ends_sentence(text) and not text.endswith(("：", ":")) and not facts_line(text)


# -- the tail: closing lines -------------------------------------------------------------------

def _closing_lines(lines: list[_Line], body_end_line: int) -> list[_Line]:
    """Signature, date, 此件公开发布, 公开方式, …印发 lines at the very end (after ``body_end_line``)."""
    tail: list[_Line] = []
    for line in reversed(lines):
        if line.index <= body_end_line:
            break
        squeezed = re.sub(r"[\s\u00a0\u3000]+", "", line.text)
        if is_date_line(line.text) or _CLOSING_LINE.search(squeezed) or (
                _issuer_like(squeezed) and len(squeezed) <= 30):
            tail.append(line)
        else:
            break
    return tail[::-1]


# -- building records ------------------------------------------------------------------------------

class _Builder:
    def __init__(self, text: str, doc_id: str, source: str, meta: dict):
        self.text = text
        self.doc_id = doc_id
        self.source = source
        self.meta = meta
        self.problems: list[str] = []
        self.lead_note_from: int | None = None  # offset after which 列第一位者为牵头单位 holds

    # -- entry -----------------------------------------------------------------------------
    def parse(self) -> Document:
        text = self.text
        lines = _lines(text)
        heads = _accept(lines)
        style, counts = _measure_style(heads, text, len(text))
        body = self._body_start(heads, style, lines)
        if body is not None and body > 0:
            heads = _accept(lines, body)
            style, counts = _measure_style(heads, text, len(text))
        if style is not None:
            self._competing(counts, style)
        _classify(heads, style, text, len(text))
        heads = [h for h in heads if h.role != "list"] + [h for h in heads if h.role == "list"]
        structural = sorted((h for h in heads if h.role != "list"), key=lambda h: h.start)

        body_line = structural[0].line.index if structural else self._first_body_line(lines)
        last_struct_line = structural[-1].line.index if structural else body_line
        closing = _closing_lines(lines, last_struct_line)
        facts = _head_facts(lines, body_line, closing)
        document = self._document(facts, lines, body_line, closing)
        issuer = self._issuer_context(document)
        self.namer = Namer(issuer)
        self.lead_note_from = self._lead_note_in_head(lines[:body_line])

        limit = closing[0].start if closing else len(text)
        if structural:
            self._structured(document, structural, heads, lines, limit)
        else:
            self._plain(document, lines, body_line, limit)
        self._split_tail(document, limit)
        self._consistent_titles(document)
        for measure in document.measures:
            self._fill(document, measure)
        self._keys(document)
        document.closing = [s for line in closing for s in split_sentences(text, line.start, line.end, kind="closing")]
        self._validity(document)
        self._check_orphan_markers(document, lines, body_line)
        document.problems = self.problems
        return document

    def _body_start(self, heads: list[_Head], style: str | None, lines: list[_Line]) -> int | None:
        """The line where the body starts: the first heading at or above the measure level.

        Lower-level items before it stay in the head (a 1. history line before 第 1 條), unless
        their numbering runs on into the measures (1.–6. then 第七条): then they are measures too.
        """
        if style is None:
            return None
        rank = RANK[style]
        first = next((h for h in heads if h.rank <= rank), None)
        if first is None:
            return None
        before = [h for h in heads if h.start < first.start and h.parent is None]
        if len(before) >= 2 and first.style == style and first.number == before[-1].number + 1:
            self.problems.append(
                f"two numbering schemes compete (两种编号并存): {len(before)} items numbered {SHOW[before[0].style]} "
                f"run on into {SHOW[style]}; all are read as measures")
            return before[0].line.index
        return first.line.index

    def _competing(self, counts: Counter, style: str) -> None:
        for other, n in counts.items():
            if other != style and n >= 3 and n >= counts[style] * 0.5 and RANK[other] == RANK[style]:
                self.problems.append(f"two numbering schemes compete (两种编号并存): {n} items numbered "
                                     f"{SHOW[other]} beside {counts[style]} numbered {SHOW[style]}")

    def _first_body_line(self, lines: list[_Line]) -> int:
        """Without headings: the body starts after the title lines (short lines ending no sentence)."""
        for line in lines:
            if len(line.text) > 60 or ends_sentence(line.text) or line.text.rstrip().endswith(("：", ":")):
                return line.index
        return len(lines)

    # -- document and head ---------------------------------------------------------------
    def _document(self, facts: _HeadFacts, lines: list[_Line], body_line: int, closing: list[_Line]) -> Document:
        meta, text = self.meta, self.text
        title = str(meta.get("title") or facts.title or _title_from_source(self.source, self.doc_id))
        document = Document(
            doc_id=self.doc_id, title=title, text=text, source=self.source,
            doc_number=meta.get("doc_number") or facts.doc_number,
            issuer=meta.get("issuer") or facts.issuer,
            issued_on=meta.get("issued_on") or facts.issued_on,
            notice_title=meta.get("notice_title") or facts.notice_title,
        )
        for line in lines[:body_line]:
            document.preamble.extend(split_sentences(text, line.start, line.end, kind="preamble"))
        if facts.notice is not None:
            first, last = facts.notice
            start, end = lines[first].start, lines[last].end
            document.notice = Notice(facts.notice_title or "", start, end, repair(text[start:end]))
        place, level = place_and_level(document.issuer, document.title)
        if facts.roc:
            place, level = "台湾", "province"
        document.place = meta.get("place") or place
        document.level = meta.get("level") or level
        return document

    def _issuer_context(self, document: Document) -> Issuer:
        return Issuer(prefix=level_prefix_for(document.level, document.place), places=place_names(document.place))

    def _lead_note_in_head(self, head: list[_Line]) -> int | None:
        from corpus.departments import _LEAD_NOTE
        for line in head:
            if _LEAD_NOTE.search(line.text):
                return line.start
        return None

    # -- body ----------------------------------------------------------------------------
    def _structured(self, document: Document, structural: list[_Head], heads: list[_Head], lines: list[_Line],
                    limit: int) -> None:
        text = self.text
        section: Section | None = None
        for i, head in enumerate(structural):
            next_start = structural[i + 1].start if i + 1 < len(structural) else limit
            end = min(next_start, limit)
            if head.parent is None and head.role in ("container", "record"):
                title, _ = _title(text[head.line.start + head.label.end:head.line.end])
                title = title or compact(text[head.line.start + head.label.end:head.line.end]).rstrip("。")
                section = Section(head.number, title, head.start, end, label=head.label.text)
                document.sections.append(section)
                if head.role == "container":
                    section.heading = make_sentence(text, head.line.start, head.line.end, kind="heading")
            elif section is None:
                section = Section(None, "", head.start, end)
                document.sections.append(section)
            section.end = end
            if head.role == "container":
                if head.parent is not None:
                    group = make_sentence(text, head.line.start, head.line.end, kind="heading")
                    if group is not None:
                        section.groups.append(group)
                self._intro(section, head, head.line.end, end)
                continue
            section.measures.append(self._record(head, head.start, end, section.title))
        self._unlabelled_heads(document, lines)

    def _intro(self, section: Section, head: _Head, start: int, end: int) -> None:
        """Text between a container's heading and its first child: a record of its own."""
        span = make_sentence(self.text, start, end)
        if span is None:
            return
        record = Measure(number=None, title="", text="", section=section.title, start=span.start, end=span.end,
                         path=self._path(head) + [compact(head.line.text)], kind="text")
        section.measures.append(record)

    def _path(self, head: _Head) -> list[str]:
        return [a.line.text.strip() for a in head.ancestors() if a.role == "container"]

    def _record(self, head: _Head, start: int, end: int, section_title: str) -> Measure:
        rest = self.text[head.line.start + head.label.end:head.line.end]
        title, whole_line = _title(rest)
        if whole_line and not self.text[head.line.end:end].strip():
            title, whole_line = "", False  # the line is the whole measure: body, not a title
        is_measure = head.role == "measure"
        if head.role == "record" and not title:
            title = compact(rest).rstrip("。")[:MAX_TITLE_CHARS]
        measure = Measure(
            number=head.number if is_measure else None,
            title=title, text="", section=section_title, start=start, end=end,
            label=head.label.text, path=self._path(head), kind="measure" if is_measure else "text",
        )
        measure._title_line_end = head.line.end if whole_line else None  # type: ignore[attr-defined]
        # a title in 【】 is a heading as written, kept whatever the other measures do
        measure._inline_title = bool(title) and not whole_line and not _BRACKETED_TITLE.match(rest.strip())  # type: ignore[attr-defined]
        measure._content_start = head.line.start + head.label.end  # type: ignore[attr-defined]
        return measure

    def _plain(self, document: Document, lines: list[_Line], body_line: int, limit: int) -> None:
        """No recognised structure: one unnumbered record per paragraph."""
        from corpus.segmentation import paragraphs

        start = lines[body_line].start if body_line < len(lines) else limit
        records = []
        for p_start, p_end in paragraphs(self.text, start, limit):
            record = Measure(number=None, title="", text="", section="", start=p_start, end=p_end, kind="text")
            records.append(record)
        if records:
            document.sections.append(Section(None, "", records[0].start, limit, None, records))
        self.problems.append("no numbered sections or measures recognised; the text is kept as plain records")

    def _unlabelled_heads(self, document: Document, lines: list[_Line]) -> None:
        """A 附则 / 附件 line inside the last record ends it; what follows is a record of its own."""
        for section in document.sections:
            for position, measure in enumerate(list(section.measures)):
                for line in lines:
                    if measure.start < line.start < measure.end and _UNLABELLED_HEADS.match(line.text):
                        tail = Measure(number=None, title=compact(line.text).strip("：:"), text="",
                                       section=section.title, start=line.start, end=measure.end,
                                       path=list(measure.path), kind="supplementary")
                        tail._title_line_end = line.end  # type: ignore[attr-defined]
                        tail._content_start = line.start  # type: ignore[attr-defined]
                        measure.end = _rtrim(self.text, measure.start, line.start)
                        section.measures.insert(section.measures.index(measure) + 1, tail)
                        break

    def _split_tail(self, document: Document, limit: int) -> None:
        """Paragraphs after the last measure's last department marker, or a validity clause, are not that measure."""
        measures = [m for m in document.measures if m.kind == "measure"]
        if not measures:
            return
        last = measures[-1]
        section = next(s for s in document.sections if last in s.measures)
        if section.measures[-1] is not last:
            return
        content_start = getattr(last, "_content_start", last.start)
        markers = find_markers(self.text, content_start, last.end, self.namer)
        cut_from = markers[-1].end if markers else None
        paragraphs = list(_paragraph_starts(self.text, getattr(last, "_title_line_end", None) or content_start, last.end))
        tail_start = None
        for p_start in paragraphs:
            chunk = self.text[p_start:last.end]
            if cut_from is not None and p_start >= cut_from:
                tail_start = p_start
                break
            if p_start > content_start and _VALIDITY_TEXT.search(chunk[:80]) and re.search(
                    r"^(?:[\u4e00-\u9fff]{2,6}[：:])?本(?:措施|办法|方案|意见|规定|通知|条例|细则|计划)", chunk):
                tail_start = p_start
                break
        if tail_start is None or tail_start <= content_start:
            return
        old_end = last.end
        last.end = _rtrim(self.text, last.start, tail_start)
        for p_start, p_end in _paragraph_spans(self.text, tail_start, old_end):
            kind = "supplementary" if _VALIDITY_TEXT.search(self.text[p_start:p_end]) else "text"
            record = Measure(number=None, title="", text="", section=section.title, start=p_start, end=p_end,
                             path=list(last.path), kind=kind)
            section.measures.append(record)

    def _consistent_titles(self, document: Document) -> None:
        """A title taken from a first sentence counts only where most measures have one.

        Legal texts open articles with short body sentences (第四十二条 本市建立…制度。); plans
        title nearly every measure (1. 推动重点行业稳增长。…).
        """
        measures = [m for m in document.measures if m.kind == "measure"]
        inline = [m for m in measures if getattr(m, "_inline_title", False)]
        if measures and len(inline) < 0.5 * len(measures):
            for measure in inline:
                measure.title = ""

    # -- one record's contents ----------------------------------------------------------
    def _fill(self, document: Document, measure: Measure) -> None:
        text = self.text
        content_start = getattr(measure, "_content_start", measure.start)
        title_line_end = getattr(measure, "_title_line_end", None)
        found: list[str] = []
        markers = find_markers(text, content_start, measure.end, self.namer, found)
        self.problems.extend(f"{measure.label or measure.title or 'record'} {problem}" for problem in found)
        for marker in markers:
            if marker.lead_note and marker.sticky and self.lead_note_from is None:
                self.lead_note_from = marker.start
        note_active = self.lead_note_from is not None and self.lead_note_from <= measure.start
        sentences: list[Sentence] = []
        cursor = measure.start
        if title_line_end is not None and (not markers or markers[0].start >= title_line_end):
            heading = make_sentence(text, measure.start, title_line_end, kind="heading")
            if heading is not None:
                sentences.append(heading)
            cursor = title_line_end
        for marker in markers:
            units = tuple(u.name for u in merge_roles([marker], note_active))
            pieces = split_sentences(text, cursor, marker.start)
            sentences.extend(Sentence(s.start, s.end, s.text, s.kind, units) for s in pieces)
            sentences.append(Sentence(marker.start, marker.end, repair(text[marker.start:marker.end]), "departments",
                                      units))
            cursor = marker.end
        sentences.extend(split_sentences(text, cursor, measure.end))
        # the first sentence is the heading when it is the title (推动重点行业稳增长。), not when the title is a
        # 【】 before the body in the same sentence (【住房租赁补贴】对…给予补贴。)
        if measure.title and sentences and sentences[0].kind == "sentence" and title_line_end is None \
                and len(sentences[0].text) <= len(measure.title) + 10:
            first = sentences[0]
            sentences[0] = Sentence(first.start, first.end, first.text, "heading", first.departments)
        measure.sentences = sentences
        body_start = title_line_end if (title_line_end is not None and measure.kind != "measure"
                                        and measure.number is None) else content_start
        if measure.kind == "measure" or title_line_end is None:
            body_start = content_start
        if title_line_end is not None and measure.title and not markers_before(markers, title_line_end):
            body_start = title_line_end if measure.number is None else content_start
        measure.text = repair(text[body_start:measure.end])
        roles = merge_roles(markers, note_active)
        measure.roles = roles
        measure.departments = [r.name for r in roles]
        if markers:
            measure.responsibility = markers[0].wording
            measure.departments_text = "；".join(m.text for m in markers)
        if not measure.title and measure.kind != "measure":
            measure.title = _first_clause(measure.text)
        measure.targets = _figures(text, sentences)

    # -- keys, validity, problems ----------------------------------------------------------
    def _keys(self, document: Document) -> None:
        measures = [m for m in document.measures if m.kind == "measure" and m.number is not None]
        numbers = Counter(m.number for m in measures)
        runs_on = all(n == 1 for n in numbers.values())
        ordinals = self._ordinals(document)
        used: set[str] = set()
        for position, measure in enumerate(document.measures, start=1):
            if measure.kind == "measure" and measure.number is not None:
                key = str(measure.number) if runs_on else ".".join(map(str, ordinals.get(id(measure), [measure.number])))
            else:
                key = f"r{position}"
            base, n = key, 2
            while key in used:
                key, n = f"{base}-{n}", n + 1
            used.add(key)
            measure.key = key

    def _ordinals(self, document: Document) -> dict[int, list[int]]:
        """The numbers of the labelled headings along each measure's path, plus its own."""
        out: dict[int, list[int]] = {}
        for measure in document.measures:
            chain = []
            for heading in measure.path:
                label = match_label(heading, allow_prefix=False)
                if label is not None:
                    chain.append(label.number)
            out[id(measure)] = chain + [measure.number]
        return out

    def _validity(self, document: Document) -> None:
        tail_text = "\n".join(m.text for m in document.supplementary)
        scope = tail_text + "\n" + "\n".join(m.text for m in document.measures[-3:]) + "\n" + "\n".join(
            s.text for s in document.preamble)
        found = validity(scope, document.issued_on)
        document.effective_on = self.meta.get("effective_on") or found.effective_on
        document.expires_on = self.meta.get("expires_on") or found.expires_on

    def _check_orphan_markers(self, document: Document, lines: list[_Line], body_line: int) -> None:
        first_measure = next((m.start for m in document.measures if m.kind == "measure"), None)
        for line in lines:
            if is_line_marker(line.text) and (first_measure is None or line.start < first_measure):
                self.problems.append(f"a 责任单位 line comes before any measure (责任单位行前没有措施), kept as text: "
                                     f"{compact(line.text)[:30]}")


_CONDITIONS_INTRO = re.compile(r"(?:条件|情形|要求|标准)[：:]$")


def _figures(text: str, sentences: list[Sentence]):
    """Typed figures of a record's sentences; items of a 符合下列条件： list are conditions."""
    figures = []
    listing = False
    for sentence in sentences:
        if sentence.kind not in ("sentence", "heading"):
            continue
        is_item = match_label(sentence.text.strip(), allow_prefix=False) is not None
        listing = listing and is_item
        figures.extend(extract_targets(text, sentence, listed_condition=listing))
        if _CONDITIONS_INTRO.search(sentence.text.rstrip()):
            listing = True
    return figures


def markers_before(markers: list[Marker], offset: int) -> bool:
    return any(m.start < offset for m in markers)


def _paragraph_starts(text: str, start: int, end: int):
    for p_start, _ in _paragraph_spans(text, start, end):
        yield p_start


def _paragraph_spans(text: str, start: int, end: int):
    """Paragraphs of text[start:end]: lines joined across page breaks (see segmentation)."""
    cursor = None
    previous_end = None
    for match in re.finditer(r"[^\n]+", text[start:end]):
        s, e = start + match.start(), start + match.end()
        line = text[s:e]
        if not line.strip():
            continue
        if cursor is None:
            cursor = s
        elif line_ends_paragraph(text[prev_line_start:previous_end]) or match_label(line.strip()):
            yield _trim(text, cursor, previous_end)
            cursor = s
        prev_line_start = s
        previous_end = e
    if cursor is not None:
        yield _trim(text, cursor, previous_end)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _rtrim(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _first_clause(text: str, limit: int = 24) -> str:
    clause = re.split(r"[，,。；;：:！？!?\n]", text, maxsplit=1)[0].strip()
    return clause if len(clause) <= limit else clause[:limit] + "…"


def _title_from_source(source: str, doc_id: str) -> str:
    name = source.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if name else doc_id


def parse_document(text: str, doc_id: str, source: str = "", meta: dict | None = None) -> Document:
    """Parse one document's text. Never raises for any string; what it cannot read goes to ``problems``."""
    return _Builder(text, doc_id, source, meta or {}).parse()
