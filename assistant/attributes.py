"""What a question asks of a measure that the measure may not state (a director's name, an office address,
a telephone number, an interest rate), read from ``assistant/data/asked_attributes.tsv``.

A search answer cites the measures nearest the question; when the question asks for such a thing and none of
them states it, quoting them would answer what the documents do not hold (威海市工业和信息化局局长是谁？ cited
the talent measure). The answer then says the documents do not state it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from index.tokenization import normalize_text

DATA = Path(__file__).parent / "data" / "asked_attributes.tsv"


@dataclass(frozen=True)
class Attribute:
    name: str  # as the answer says it: 具体地址
    asking: re.Pattern[str]  # the question asks for it
    evidence: re.Pattern[str]  # a measure's text that states it


@lru_cache(maxsize=1)
def attributes() -> tuple[Attribute, ...]:
    """The rows of asked_attributes.tsv, compiled. Raises ValueError naming the line of a malformed row."""
    rows = []
    for number, line in enumerate(DATA.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{DATA}, line {number}: expected 'name<TAB>asking<TAB>evidence'")
        rows.append(Attribute(fields[0], re.compile(fields[1]), re.compile(fields[2])))
    return tuple(rows)


def unstated(question: str, measure_texts: list[str]) -> str | None:
    """The name of the first thing ``question`` asks for that none of ``measure_texts`` states, else None.
    The texts are read normalized (traditional script as simplified: 不得逾四個月 states a time limit)."""
    texts = None
    for attribute in attributes():
        if attribute.asking.search(question):
            texts = texts if texts is not None else [normalize_text(t) for t in measure_texts]
            if not any(attribute.evidence.search(t) for t in texts):
                return attribute.name
    return None
