"""Questions asked in English or Korean: which language, and the Chinese words to search for.

Foreign-invested and Korean firms ask in English and Korean. The meaning side (multilingual-e5)
matches such a question to the Chinese text as it is; the lexical side gets the Chinese words of
the field that the question's English or Korean words stand for (``assistant/data/glossary.json``).
Answers keep the cited titles, departments and quotes in Chinese; only the words around them come
from ``assistant/data/templates.json``. No LLM is involved.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

DATA = Path(__file__).parent / "data"
Language = Literal["zh", "en", "ko"]
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")


_MARKUP = re.compile(r"<[^<>]{0,200}>|https?://\S+|&[a-z]+;")


def detect(text: str) -> Language:
    """"ko" for Hangul, "en" for a sentence of Latin words (not a code such as LNG or T1000), else "zh".
    Markup and web addresses are not words of the question (<script>alert(1)</script>智能工厂 is Chinese)."""
    text = _MARKUP.sub(" ", text)
    hangul, cjk = len(_HANGUL.findall(text)), len(_CJK.findall(text))
    if hangul >= 2 and hangul >= cjk:
        return "ko"
    words = _LATIN_WORD.findall(text)
    if len(words) >= 3 and sum(map(len, words)) > 2 * cjk:
        return "en"
    return "zh"


@lru_cache(maxsize=1)
def _glossary() -> dict[str, dict[str, str]]:
    return json.loads((DATA / "glossary.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def templates() -> dict[str, dict[str, str]]:
    return json.loads((DATA / "templates.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=2)
def _pattern(language: str) -> re.Pattern[str]:
    terms = sorted(_glossary()[language], key=len, reverse=True)
    if language == "en":
        return re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(t) for t in terms) + r")(?![a-z])")
    return re.compile("|".join(re.escape(t) for t in terms))


def chinese_terms(text: str, language: Language) -> str:
    """The Chinese words for the field's words in ``text`` (space-separated, each once); "" for Chinese."""
    if language == "zh":
        return ""
    glossary = _glossary()[language]
    source = text.lower() if language == "en" else text
    found: list[str] = []
    for match in _pattern(language).finditer(source):
        found.extend(glossary[match.group(0)].split())
    return " ".join(dict.fromkeys(found))


def template(language: Language, name: str, **values) -> str:
    return templates()[language][name].format(**values)
