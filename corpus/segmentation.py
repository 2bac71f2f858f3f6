"""Sentences with offsets, and page-break repair.

Extracted policy text is full of page breaks: a blank line in the middle of a
word (要素\\n\\n保障) or of a department list. The rule used everywhere:
a whitespace run that holds a newline is a *paragraph* break when the text
before it ends a sentence, and a *page* break otherwise. Page breaks inside a
span are removed when they sit between CJK characters (Chinese has no spaces)
and become one space between Latin letters or digits, so no word is glued to
another. Offsets always point into the original text, so nothing is lost.
"""

from __future__ import annotations

import re
from typing import Iterator

from corpus.records import Sentence

TERMINATORS = "。！？!?；;"
CLOSERS = "”’」』）)》〉】\"'"
_BREAK = re.compile(r"[ \t\u3000\r]*\n\s*")
_SENTENCE_END = re.compile(rf"[{re.escape(TERMINATORS)}][{re.escape(CLOSERS)}]*")


def _is_wide(ch: str) -> bool:
    """CJK ideographs and full-width punctuation: no space is needed beside them."""
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x3000 <= code <= 0x303F
        or 0x2000 <= code <= 0x206F  # “ ” ‘ ’ … —
        or 0x20000 <= code <= 0x3FFFF
    )


def repair(span: str) -> str:
    """Join the page breaks inside ``span``; keep everything else as written."""
    span = span.strip()

    def join(match: re.Match[str]) -> str:
        before = span[match.start() - 1] if match.start() > 0 else ""
        after = span[match.end()] if match.end() < len(span) else ""
        if not before or not after or _is_wide(before) or _is_wide(after):
            return ""
        return " "

    return _BREAK.sub(join, span)


def ends_sentence(text: str) -> bool:
    stripped = text.rstrip()
    while stripped and stripped[-1] in CLOSERS:
        stripped = stripped[:-1]
    return bool(stripped) and stripped[-1] in TERMINATORS


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def make_sentence(text: str, start: int, end: int, kind: str = "sentence") -> Sentence | None:
    start, end = _trimmed(text, start, end)
    if start >= end:
        return None
    return Sentence(start=start, end=end, text=repair(text[start:end]), kind=kind)


def split_sentences(text: str, start: int = 0, end: int | None = None, kind: str = "sentence",
                    hard_breaks: bool = True) -> list[Sentence]:
    """Split ``text[start:end]`` after each sentence terminator and at hard line breaks.

    A newline is a *page break* (the sentence goes on) unless the line before it ends
    a paragraph (:func:`line_ends_paragraph`) or the next line starts with a list
    label; then it ends the sentence even without a terminator (a list item ending
    in ：, a title line, a line that is one parenthesis).
    """
    end = len(text) if end is None else end
    cuts = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
    if hard_breaks:
        cuts += [cut for cut in _hard_breaks(text, start, end)]
    sentences: list[Sentence] = []
    cursor = start
    for cut in sorted(set(cuts)):
        sentence = make_sentence(text, cursor, cut, kind)
        if sentence is not None:
            sentences.append(sentence)
            cursor = cut
    tail = make_sentence(text, cursor, end, kind)
    if tail is not None:
        sentences.append(tail)
    return sentences


_LIST_START = re.compile(r"[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、|\d{1,2}[.．、](?!\d)|[①-⑳]")


def _hard_breaks(text: str, start: int, end: int) -> list[int]:
    cuts = []
    for match in re.finditer(r"\n", text[start:end]):
        at = start + match.start()
        line_start = text.rfind("\n", start, at) + 1
        before = text[max(line_start, start):at]
        if not before.strip():
            continue
        after = text[at:end].lstrip()
        if line_ends_paragraph(before) or _LIST_START.match(after):
            cuts.append(at)
    return cuts


def line_ends_paragraph(line: str) -> bool:
    """Whether a line's end is a real paragraph end, not a page break inside a sentence.

    True after a terminator (。；！？), a colon that opens a list, a closing 责任单位：… label, or a line
    that is one parenthesis (（此件公开发布）); False after a comma, 、 or an open parenthesis.
    """
    stripped = line.rstrip(" \t\u3000\u00a0\r")
    if not stripped:
        return False
    if ends_sentence(stripped) or stripped.endswith(("：", ":")) or _TRAILING_LABEL.search(stripped):
        return True
    if stripped[-1] not in "）)〕":
        return False
    opened = _matching_open(stripped)
    if opened is None:
        return False
    before = stripped[:opened].rstrip(" \t\u3000\u00a0")
    group = stripped[opened:]
    return not before or before[-1] in TERMINATORS or bool(_MARKER_WORDS.search(group))


# the label a list of responsible units opens with (责任单位：, 牵头单位：, 配合部门：), as a regular expression;
# corpus.departments reads its markers with it too
DEPARTMENT_LABEL = r"(?:牵头|责任|配合|协办|参与|主责)(?:单位|部门)\s*[：:]"
# a line that ends with its measure's 责任单位 label and names: …优质服务商200家。责任单位：省工业和信息化厅、省大数据局
_TRAILING_LABEL = re.compile(rf"(?:^|[。；;！!])\s*{DEPARTMENT_LABEL}[^。；;！!？?]*$")
_MARKER_WORDS = re.compile(r"(?:负责|負責|牵头|牽頭|配合)[^（）()]{0,30}[）)〕]$|(?:单位|部门|單位|部門)\s*[：:]")


def _matching_open(text: str) -> int | None:
    """Offset of the parenthesis that the final ）closes, or None when unbalanced."""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] in "）)〕":
            depth += 1
        elif text[i] in "（(〔":
            depth -= 1
            if depth == 0:
                return i
    return None


def paragraphs(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Paragraph spans: blank lines after a sentence end separate them, and so do blank lines after a line
    that ends a paragraph otherwise (…责任单位：省工业和信息化厅、省大数据局) or before a list label (（三）,
    二、, 3.); other blank lines are page breaks."""
    end = len(text) if end is None else end
    cursor = start
    for match in re.finditer(r"\n[ \t\u3000\r]*\n\s*", text[start:end]):
        split_at = start + match.start()
        last_line = text[text.rfind("\n", cursor, split_at) + 1:split_at]
        if ends_sentence(text[cursor:split_at]) or line_ends_paragraph(last_line) \
                or _LIST_START.match(text, start + match.end()):
            s, e = _trimmed(text, cursor, split_at)
            if s < e:
                yield s, e
            cursor = start + match.end()
    s, e = _trimmed(text, cursor, end)
    if s < e:
        yield s, e


def lines(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Non-blank line spans (trimmed) inside ``text[start:end]``."""
    end = len(text) if end is None else end
    for match in re.finditer(r"[^\n]+", text[start:end]):
        s, e = _trimmed(text, start + match.start(), start + match.end())
        if s < e:
            yield s, e


def compact(text: str) -> str:
    """Drop spaces next to CJK characters (for titles: "2026 年行动方案" → "2026年行动方案")."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" (?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) ", "", text)
