"""Chinese and Arabic numerals as written in policy documents, read with ``cn2an``.

Labels (第二十一条, （十八）, 第 1 0 条), figures (三千萬元, 百分之五十, 百个) and
dates (二〇二六年, 中華民國一百十二年) all go through :func:`to_number`.
"""

from __future__ import annotations

import re

import cn2an

CN_DIGITS = "零〇○一二两兩三四五六七八九"
CN_NUMERAL_CHARS = CN_DIGITS + "十拾百佰千仟"
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９．", "0123456789.")
_BARE_MAGNITUDE = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_DIGIT_VALUE = {ch: i for i, ch in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "两": 2, "兩": 2}


def to_number(text: str) -> float | None:
    """``"二十一"`` → 21, ``"1 0"`` → 10, ``"１２"`` → 12, ``"百"`` → 100, ``"2.4"`` → 2.4; None if not a numeral.

    Whitespace inside (第 1 0 条) is ignored; full-width digits are read as ASCII.
    """
    squeezed = _squeezed(text)
    if not squeezed:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", squeezed):
        return float(squeezed)
    if squeezed in _BARE_MAGNITUDE:
        return float(_BARE_MAGNITUDE[squeezed])
    if not re.fullmatch(rf"[{CN_NUMERAL_CHARS}万萬亿億\d.]+", squeezed):
        return None
    try:
        return float(cn2an.cn2an(squeezed.replace("兩", "两").replace("○", "〇"), "smart"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _squeezed(text: str) -> str:
    """Without whitespace, full-width digits as ASCII (第 1 0 条, １２)."""
    return re.sub(r"\s+", "", text).translate(_FULL_WIDTH_DIGITS)


def to_int(text: str) -> int | None:
    """Like :func:`to_number`, for whole numbers only (labels, years, days)."""
    squeezed = _squeezed(text)
    if squeezed.isdigit() and squeezed.isascii():
        return int(squeezed)  # exact, however long (a float would turn 99999999999999999999 into 1e20)
    value = to_number(text)
    return int(value) if value is not None and value == int(value) else None


def digit_string_year(text: str) -> int | None:
    """A year written digit by digit: ``"二〇二六"`` → 2026 (cn2an reads it the same way; kept explicit)."""
    squeezed = re.sub(r"\s+", "", text)
    if len(squeezed) == 4 and all(ch in _DIGIT_VALUE for ch in squeezed):
        return int("".join(str(_DIGIT_VALUE[ch]) for ch in squeezed))
    return to_int(squeezed)
