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


def split_sentences(text: str, start: int = 0, end: int | None = None, kind: str = "sentence") -> list[Sentence]:
    """Split ``text[start:end]`` after each sentence terminator.

    Newlines do not end a sentence (they are page breaks or paragraph breaks
    after a terminator, which already ended it).
    """
    end = len(text) if end is None else end
    sentences: list[Sentence] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        sentence = make_sentence(text, cursor, match.end(), kind)
        if sentence is not None:
            sentences.append(sentence)
        cursor = match.end()
    tail = make_sentence(text, cursor, end, kind)
    if tail is not None:
        sentences.append(tail)
    return sentences


def paragraphs(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Paragraph spans: blank lines after a sentence end separate them; other blank lines are page breaks."""
    end = len(text) if end is None else end
    cursor = start
    for match in re.finditer(r"\n[ \t\u3000\r]*\n\s*", text[start:end]):
        split_at = start + match.start()
        if ends_sentence(text[cursor:split_at]):
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
