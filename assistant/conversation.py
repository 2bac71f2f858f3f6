"""What an earlier turn of a conversation was about, for follow-up questions.

An assistant turn may carry the citations it gave (``{"doc_id", "key"}`` each, an optional field
of the history); follow-ups (这条由谁负责？ 第二条呢？) resolve against those, so 第2条 in an earlier
answer means that answer's document. Without the field, the answer's text is read: the documents
it names (《short title》) and the measures it mentions (第9条).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.catalog import Catalog
from assistant.intents import measure_numbers
from corpus.records import Document, Measure

_NAMED_DOC = re.compile(r"《([^》]{2,60})》")


@dataclass(frozen=True)
class Conversation:
    """The turns before the question, newest last, as plain dicts (role, content, citations?)."""

    turns: tuple[dict, ...] = ()

    @classmethod
    def of(cls, history: list | None) -> "Conversation":
        turns = []
        for turn in history or ():
            turns.append(dict(turn) if isinstance(turn, dict) else turn.model_dump())
        return cls(tuple(turns))

    @property
    def has_user_turn(self) -> bool:
        return any(t.get("role") == "user" and str(t.get("content", "")).strip() for t in self.turns)

    def last_user(self) -> str:
        return next((t["content"] for t in reversed(self.turns) if t.get("role") == "user"), "")

    def last_answer(self) -> dict | None:
        """The newest assistant turn that comes after the newest user turn before the question."""
        return next((t for t in reversed(self.turns) if t.get("role") == "assistant"), None)


@dataclass
class Referent:
    """What a follow-up refers to: the measures of the last answer (in its order) and its documents."""

    pairs: list[tuple[Document, Measure]] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)


def referent(conversation: Conversation, catalog: Catalog) -> Referent:
    """The measures and documents the last assistant answer cited, read from its citations or its text."""
    answer = conversation.last_answer()
    if answer is None:
        return Referent()
    cited = answer.get("citations") or []
    pairs: list[tuple[Document, Measure]] = []
    for ref in cited:
        ref = ref if isinstance(ref, dict) else ref.model_dump()
        document = catalog.document(str(ref.get("doc_id", "")))
        measure = catalog.measure(str(ref.get("doc_id", "")), str(ref.get("key", ""))) if document else None
        if measure is not None and (document, measure) not in pairs:
            pairs.append((document, measure))
    if pairs:
        return Referent(pairs, list(dict.fromkeys(d.doc_id for d, _ in pairs)))
    text = str(answer.get("content", ""))
    doc_ids = [i.doc_id for i in catalog.infos
               if any(name in (i.short_title, i.document.title) for name in _NAMED_DOC.findall(text))]
    scope = doc_ids or [i.doc_id for i in catalog.infos]
    for number in measure_numbers(text):
        for document, measure in catalog.by_number.get(number, []):
            if document.doc_id in scope and (document, measure) not in pairs:
                pairs.append((document, measure))
    return Referent(pairs, doc_ids or list(dict.fromkeys(d.doc_id for d, _ in pairs)))
