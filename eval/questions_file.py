"""Question files: one JSON object per line, loaded into typed :class:`Question` records.

The format is described in ``eval/questions/README.md``. Loading checks each line's
shape (JSON, required fields, types, question type) and, when the corpus is given,
that every gold measure, department and expected string exists in the document the
question names. The first problem stops the load with a :class:`QuestionFileError`
naming the file, the line and what is wrong, so a typo never turns silently into a
"wrong answer".
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

BUNDLED_QUESTIONS = Path(__file__).parent / "questions" / "weihai-2026.jsonl"
DEFAULT_DOC_ID = "weihai-2026-industrial-action-plan"

QUESTION_TYPES = ("keyword", "paraphrase", "figure", "department", "multi", "list", "docfact", "followup",
                  "out_of_scope")
NO_RANKING_TYPES = ("docfact", "out_of_scope")  # gold_measures is empty for these
REQUIRED = {"id": str, "type": str, "question": str, "gold_measures": list, "should_find": bool}
OPTIONAL = {"gold_departments": list, "expected": list, "history": list, "doc_id": str}
ROLES = ("user", "assistant")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BLANK = re.compile(r"\s+")

GoldMeasure = int | str  # a measure number, or the title of an unnumbered section ("保障措施")


class QuestionFileError(Exception):
    """A question file that cannot be used as it is; the message names the file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    question: str
    gold_measures: tuple[GoldMeasure, ...]
    should_find: bool
    doc_id: str = DEFAULT_DOC_ID
    gold_departments: tuple[str, ...] | None = None  # None: the question is not about responsibility
    expected: tuple[str, ...] = ()
    history: tuple[Turn, ...] = ()
    line: int = 0  # where it stands in its file (1-based)

    @property
    def ranked(self) -> bool:
        """Whether the measure ranking is scored (not for docfact and out_of_scope)."""
        return self.type not in NO_RANKING_TYPES and bool(self.gold_measures)

    @property
    def gold_keys(self) -> tuple[tuple[str, GoldMeasure], ...]:
        """Gold measures as (doc_id, number-or-section-title), the form rankings use."""
        return tuple((self.doc_id, g) for g in self.gold_measures)

    def history_dicts(self) -> list[dict[str, str]]:
        return [t.as_dict() for t in self.history]


@dataclass(frozen=True)
class DocumentCatalog:
    """What validation needs to know about one document of the corpus."""

    doc_id: str
    numbers: frozenset[int]
    sections: frozenset[str]  # titles of unnumbered sections, e.g. 保障措施
    departments: frozenset[str]
    text: str | None = None  # the full text, whitespace removed (None: expected strings are not checked)
    issued_on: str | None = None

    @classmethod
    def of(cls, document: Any) -> "DocumentCatalog":
        """From a corpus ``Document`` or an API ``DocumentOut`` (anything with doc_id and measures)."""
        measures = list(document.measures)
        text = getattr(document, "text", None)  # a DocumentOut has none (its measures miss the preamble)
        return cls(
            doc_id=document.doc_id,
            numbers=frozenset(m.number for m in measures if m.number is not None),
            sections=frozenset(m.title for m in measures if m.number is None),
            departments=frozenset(d for m in measures for d in m.departments),
            text=BLANK.sub("", text) if text else None,
            issued_on=getattr(document, "issued_on", None),
        )

    def describe_numbers(self) -> str:
        if not self.numbers:
            return "it has no numbered measures"
        return f"its numbered measures are {min(self.numbers)}–{max(self.numbers)}"


@dataclass(frozen=True)
class QuestionSet:
    path: Path
    questions: list[Question] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self):
        return iter(self.questions)

    def types(self) -> list[str]:
        """The question types present, in the canonical order."""
        present = {q.type for q in self.questions}
        return [t for t in QUESTION_TYPES if t in present]


def load_questions(path: Path | str | None = None, documents: Iterable[Any] | None = None) -> QuestionSet:
    """Load and validate a question file (the bundled set by default).

    ``documents`` are the corpus' documents (corpus ``Document`` or API ``DocumentOut``);
    when given, doc ids, gold measures and departments are checked against them, and so
    are expected strings when the documents carry their full text (corpus ``Document``).
    """
    path = Path(path) if path is not None else BUNDLED_QUESTIONS
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise QuestionFileError(path, None, "no such file; give a JSONL question file "
                                            "(see eval/questions/README.md)") from None
    except OSError as exc:
        raise QuestionFileError(path, None, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise QuestionFileError(path, line, "not UTF-8 text; save the file as UTF-8") from None

    questions: list[Question] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        question = parse_line(path, number, line)
        if question.id in seen:
            raise QuestionFileError(path, number, f"duplicate id {question.id!r} (first used on line "
                                                  f"{seen[question.id]}); ids must be unique within the file")
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise QuestionFileError(path, None, "holds no questions; write one JSON object per line")
    question_set = QuestionSet(path, questions)
    if documents is not None:
        check_question_set(question_set, documents)
    return question_set


def check_question_set(question_set: QuestionSet, documents: Iterable[Any]) -> None:
    """Check a loaded set against the corpus (the first problem raises, naming its line)."""
    catalogs = {d.doc_id: DocumentCatalog.of(d) for d in documents}
    for question in question_set.questions:
        check_against_corpus(question_set.path, question, catalogs)


def parse_line(path: Path, number: int, line: str) -> Question:
    """One line → a Question, or a QuestionFileError saying what is wrong with it."""

    def fail(problem: str) -> QuestionFileError:
        return QuestionFileError(path, number, problem)

    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise fail(f"expected a JSON object {{...}}, found {_json_type(data)}")

    for name in data:
        if name not in REQUIRED and name not in OPTIONAL:
            close = difflib.get_close_matches(name, [*REQUIRED, *OPTIONAL], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise fail(f"unknown field {name!r}{hint}; known fields: {', '.join([*REQUIRED, *OPTIONAL])}")
    for name, kind in REQUIRED.items():
        if name not in data:
            raise fail(f"missing required field {name!r}")
    for name, kind in {**REQUIRED, **OPTIONAL}.items():
        if name in data and not _is(data[name], kind):
            raise fail(f"field {name!r} must be {_type_name(kind)}, found {_json_type(data[name])}")

    qid, qtype, text = data["id"].strip(), data["type"], data["question"].strip()
    if not qid:
        raise fail("field 'id' is empty")
    if qtype not in QUESTION_TYPES:
        close = difflib.get_close_matches(qtype, QUESTION_TYPES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise fail(f"unknown question type {qtype!r}{hint}; use one of {', '.join(QUESTION_TYPES)}")
    if not text:
        raise fail("field 'question' is empty")

    gold = data["gold_measures"]
    for g in gold:
        if not (_is(g, int) or (_is(g, str) and g.strip())):
            raise fail(f"gold_measures holds {json.dumps(g, ensure_ascii=False)}: each entry must be a measure "
                       "number (an int) or the title of an unnumbered section (a string such as \"保障措施\")")
        if _is(g, int) and g < 1:
            raise fail(f"gold_measures holds {g}: measure numbers start at 1")
    should_find = data["should_find"]
    if qtype == "out_of_scope":
        if should_find:
            raise fail("an out_of_scope question must have \"should_find\": false")
        if gold:
            raise fail("an out_of_scope question must have \"gold_measures\": []")
    elif not should_find:
        raise fail(f"\"should_find\": false is only for out_of_scope questions (this one is {qtype!r})")
    if qtype not in NO_RANKING_TYPES and not gold:
        raise fail(f"a {qtype} question needs at least one gold measure in 'gold_measures'")

    departments = data.get("gold_departments")
    expected = data.get("expected", [])
    for name, values in (("gold_departments", departments or []), ("expected", expected)):
        for value in values:
            if not (_is(value, str) and value.strip()):
                raise fail(f"{name} must hold non-empty strings, found {json.dumps(value, ensure_ascii=False)}")
    if departments is not None and not departments:
        raise fail("gold_departments is empty; leave the field out when the question is not about responsibility")

    history = data.get("history", [])
    turns = []
    for i, turn in enumerate(history, start=1):
        if not (isinstance(turn, dict) and set(turn) == {"role", "content"} and turn["role"] in ROLES
                and _is(turn["content"], str) and turn["content"].strip()):
            raise fail(f"history turn {i} must be {{\"role\": \"user\"|\"assistant\", \"content\": \"…\"}}, "
                       f"found {json.dumps(turn, ensure_ascii=False)}")
        turns.append(Turn(turn["role"], turn["content"]))
    if qtype == "followup" and not any(t.role == "user" for t in turns):
        raise fail("a followup question needs a 'history' with at least one user turn")
    if turns and qtype != "followup":
        raise fail(f"'history' is only for followup questions (this one is {qtype!r})")

    doc_id = data.get("doc_id", DEFAULT_DOC_ID).strip()
    if not doc_id:
        raise fail("field 'doc_id' is empty; leave it out for the default document")
    return Question(id=qid, type=qtype, question=text, gold_measures=tuple(gold), should_find=should_find,
                    doc_id=doc_id, gold_departments=tuple(departments) if departments is not None else None,
                    expected=tuple(expected), history=tuple(turns), line=number)


def check_against_corpus(path: Path, question: Question, catalogs: dict[str, DocumentCatalog]) -> None:
    """Every gold measure, department and expected string must exist in the question's document."""

    def fail(problem: str) -> QuestionFileError:
        return QuestionFileError(path, question.line, f"question {question.id!r}: {problem}")

    catalog = catalogs.get(question.doc_id)
    if catalog is None:
        known = ", ".join(sorted(catalogs)) or "none"
        raise fail(f"unknown doc_id {question.doc_id!r}; documents in the corpus: {known}")
    for g in question.gold_measures:
        if isinstance(g, int) and g not in catalog.numbers:
            raise fail(f"unknown measure number {g} in gold_measures: document {catalog.doc_id!r} has no "
                       f"measure {g} ({catalog.describe_numbers()})")
        if isinstance(g, str) and g not in catalog.sections:
            sections = "、".join(sorted(catalog.sections)) or "none"
            raise fail(f"unknown section {g!r} in gold_measures: the unnumbered sections of "
                       f"{catalog.doc_id!r} are {sections}")
    for name in question.gold_departments or ():
        if name not in catalog.departments:
            close = difflib.get_close_matches(name, sorted(catalog.departments), n=2, cutoff=0.4)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise fail(f"unknown department {name!r} in gold_departments: no measure of {catalog.doc_id!r} "
                       f"names it{hint}; use the full normalized name")
    for value in question.expected:
        if ISO_DATE.fullmatch(value) and value == catalog.issued_on:
            continue
        if catalog.text is not None and BLANK.sub("", value) not in catalog.text:
            raise fail(f"expected string {value!r} does not occur in the text of {catalog.doc_id!r}; "
                       "copy it from the document word for word")


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type_name(kind: type) -> str:
    return {str: "a string", list: "a list", bool: "true or false", int: "an integer"}[kind]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    if isinstance(value, str):
        return f"{json.dumps(value, ensure_ascii=False)} (a string)"
    if isinstance(value, list):
        return "a list"
    return "an object"
