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
                  "place", "ambiguous", "documents", "cross_document", "out_of_scope")
NO_RANKING_TYPES = ("docfact", "documents", "out_of_scope")  # no measure ranking is scored for these
SET_TYPES = ("ambiguous", "documents")  # scored by set precision/recall of the cited records, not hit@k
SPLITS = ("tune", "test")
REQUIRED = {"id": str, "type": str, "question": str, "should_find": bool}
OPTIONAL = {"gold": list, "gold_measures": list, "gold_departments": list, "expected": list, "history": list,
            "doc_id": str, "split": str}
HEADER_FIELDS = {"format": int, "corpus": str, "description": str, "never_tune": bool}
ROLES = ("user", "assistant")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BLANK = re.compile(r"\s+")

GoldMeasure = int | str  # format 1: a measure number, or the title of an unnumbered section ("保障措施")
GoldPair = tuple[str, str | None]  # (doc_id, record key); key None for a fact about the whole document
_TITLE = "title:"  # a format-1 section title waiting to be resolved to its record's key


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
    citations: tuple[tuple[str, str], ...] = ()  # (doc_id, key) an assistant turn cited

    def as_dict(self) -> dict:
        out: dict = {"role": self.role, "content": self.content}
        if self.citations:
            out["citations"] = [{"doc_id": d, "key": k} for d, k in self.citations]
        return out


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    question: str
    gold: tuple[GoldPair, ...]  # (doc_id, key) pairs, best first
    should_find: bool
    doc_id: str = DEFAULT_DOC_ID  # format 1 only: the document of gold_measures
    gold_departments: tuple[str, ...] | None = None  # None: the question is not about responsibility
    expected: tuple[str, ...] = ()
    history: tuple[Turn, ...] = ()
    split: str | None = None  # "tune" or "test"
    line: int = 0  # where it stands in its file (1-based)

    @property
    def set_scored(self) -> bool:
        """Scored by set precision/recall: answers that span several documents by design."""
        documents = {d for d, _ in self.gold}
        return self.type in SET_TYPES or (self.type == "docfact" and len(documents) > 1)

    @property
    def ranked(self) -> bool:
        """Whether the ranking is scored by hit@k (not for docfact, documents, out_of_scope, set-scored)."""
        return self.type not in NO_RANKING_TYPES and bool(self.gold) and not self.set_scored

    @property
    def gold_keys(self) -> tuple[GoldPair, ...]:
        """Gold records as (doc_id, key): the form rankings use."""
        return self.gold

    @property
    def gold_measures(self) -> tuple[str | None, ...]:
        """The gold records' keys (for reports)."""
        return tuple(k for _, k in self.gold)

    def history_dicts(self) -> list[dict[str, str]]:
        return [t.as_dict() for t in self.history]


@dataclass(frozen=True)
class DocumentCatalog:
    """What validation needs to know about one document of the corpus."""

    doc_id: str
    keys: frozenset[str]
    numbers: dict[int, str]  # measure number → key (the first measure with that number)
    sections: dict[str, str]  # titles of unnumbered records (保障措施) → key
    departments: frozenset[str]
    text: str | None = None  # the full text, whitespace removed (None: expected strings are not checked)
    issued_on: str | None = None
    dates: frozenset[str] = frozenset()  # effective_on, expires_on

    @classmethod
    def of(cls, document: Any) -> "DocumentCatalog":
        """From a corpus ``Document`` or an API ``DocumentOut`` (anything with doc_id and measures)."""
        measures = list(document.measures)
        text = getattr(document, "text", None)  # a DocumentOut has none (its measures miss the preamble)
        numbers: dict[int, str] = {}
        for m in measures:
            if m.number is not None and getattr(m, "kind", "measure") == "measure":
                numbers.setdefault(m.number, getattr(m, "key", str(m.number)))
        return cls(
            doc_id=document.doc_id,
            keys=frozenset(getattr(m, "key", str(m.number)) for m in measures),
            numbers=numbers,
            sections={m.title: getattr(m, "key", m.title) for m in measures if m.number is None},
            departments=frozenset(d for m in measures for d in m.departments),
            text=BLANK.sub("", text) if text else None,
            issued_on=getattr(document, "issued_on", None),
            dates=frozenset(x for x in (getattr(document, "effective_on", None),
                                         getattr(document, "expires_on", None)) if x),
        )

    def describe_numbers(self) -> str:
        if not self.numbers:
            return "it has no numbered measures"
        return f"its numbered measures are {min(self.numbers)}–{max(self.numbers)}"


@dataclass(frozen=True)
class QuestionSet:
    path: Path
    questions: list[Question] = field(default_factory=list)
    corpus: Path | None = None  # the folder the header names (resolved against the file's folder)
    never_tune: bool = False  # written after fitting: calibration must not use it
    format: int = 1

    def part(self, split: str | None) -> "QuestionSet":
        """The questions of one split ("tune" or "test"); all of them for None or "all"."""
        if split in (None, "all"):
            return self
        return QuestionSet(self.path, [q for q in self.questions if q.split == split], self.corpus,
                           self.never_tune, self.format)

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
    header: dict = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not questions and not header and _is_header(line):
            header = parse_header(path, number, line)
            continue
        question = parse_line(path, number, line, fmt=header.get("format", 1))
        if question.id in seen:
            raise QuestionFileError(path, number, f"duplicate id {question.id!r} (first used on line "
                                                  f"{seen[question.id]}); ids must be unique within the file")
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise QuestionFileError(path, None, "holds no questions; write one JSON object per line")
    corpus = header.get("corpus")
    corpus_path = None
    if corpus:
        corpus_path = Path(corpus) if Path(corpus).is_absolute() else (path.parent / corpus).resolve()
    question_set = QuestionSet(path, questions, corpus_path, bool(header.get("never_tune")), header.get("format", 1))
    if documents is not None:
        question_set = check_question_set(question_set, documents)
    return question_set


def _is_header(line: str) -> bool:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and "id" not in data and ("format" in data or "corpus" in data)


def parse_header(path: Path, number: int, line: str) -> dict:
    """The header line: {"format": 2, "corpus": "../../corpus/samples", "never_tune": false, ...}."""
    data = json.loads(line)
    for name, value in data.items():
        kind = HEADER_FIELDS.get(name)
        if kind is None:
            raise QuestionFileError(path, number, f"unknown header field {name!r}; known: {', '.join(HEADER_FIELDS)}")
        if not _is(value, kind):
            raise QuestionFileError(path, number, f"header field {name!r} must be {_type_name(kind)}")
    if data.get("format", 1) not in (1, 2):
        raise QuestionFileError(path, number, f"format {data['format']} is not known; this version reads 1 and 2")
    return data


def check_question_set(question_set: QuestionSet, documents: Iterable[Any]) -> QuestionSet:
    """Check a loaded set against the corpus (the first problem raises, naming its line).

    Format-1 gold (measure numbers, section titles) is resolved to record keys here; the
    returned set holds the resolved questions.
    """
    catalogs = {d.doc_id: DocumentCatalog.of(d) for d in documents}
    resolved = [check_against_corpus(question_set.path, question, catalogs) for question in question_set.questions]
    return QuestionSet(question_set.path, resolved, question_set.corpus, question_set.never_tune,
                       question_set.format)


def parse_line(path: Path, number: int, line: str, fmt: int = 1) -> Question:
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

    doc_id = data.get("doc_id", DEFAULT_DOC_ID).strip()
    if not doc_id:
        raise fail("field 'doc_id' is empty; leave it out for the default document")
    gold = _gold(data, fmt, doc_id, fail)
    should_find = data["should_find"]
    if qtype == "out_of_scope":
        if should_find:
            raise fail("an out_of_scope question must have \"should_find\": false")
        if gold:
            raise fail("an out_of_scope question must have an empty gold list")
    elif not should_find:
        raise fail(f"\"should_find\": false is only for out_of_scope questions (this one is {qtype!r})")
    if qtype not in ("docfact", "documents", "out_of_scope") and not gold:
        raise fail(f"a {qtype} question needs at least one gold record")
    split = data.get("split")
    if split is not None and split not in SPLITS:
        raise fail(f"split {split!r} must be one of {', '.join(SPLITS)}")
    if fmt >= 2 and split is None:
        raise fail("format 2 needs a 'split' on every question: \"tune\" or \"test\"")

    departments = data.get("gold_departments")
    expected = data.get("expected", [])
    for name, values in (("gold_departments", departments or []), ("expected", expected)):
        for value in values:
            if not (_is(value, str) and value.strip()):
                raise fail(f"{name} must hold non-empty strings, found {json.dumps(value, ensure_ascii=False)}")
    if departments is not None and not departments:
        raise fail("gold_departments is empty; leave the field out when the question is not about responsibility")

    turns = [_turn(turn, i, fail) for i, turn in enumerate(data.get("history", []), start=1)]
    if qtype == "followup" and not any(t.role == "user" for t in turns):
        raise fail("a followup question needs a 'history' with at least one user turn")
    if turns and qtype != "followup":
        raise fail(f"'history' is only for followup questions (this one is {qtype!r})")
    return Question(id=qid, type=qtype, question=text, gold=gold, should_find=should_find, doc_id=doc_id,
                    gold_departments=tuple(departments) if departments is not None else None,
                    expected=tuple(expected), history=tuple(turns), split=split, line=number)


def _gold(data: dict, fmt: int, doc_id: str, fail) -> tuple[GoldPair, ...]:
    if "gold" in data:
        pairs = []
        for entry in data["gold"]:
            if not (isinstance(entry, list) and len(entry) == 2 and _is(entry[0], str) and entry[0].strip()
                    and (entry[1] is None or (_is(entry[1], str) and entry[1].strip()))):
                raise fail(f"gold holds {json.dumps(entry, ensure_ascii=False)}: each entry must be "
                           "[\"doc_id\", \"key\"] (or [\"doc_id\", null] for a fact about the whole document)")
            pairs.append((entry[0].strip(), entry[1].strip() if entry[1] else None))
        return tuple(pairs)
    if "gold_measures" not in data:
        raise fail("missing 'gold' (format 2: [[\"doc_id\", \"key\"], …]) or 'gold_measures' (format 1)")
    if fmt >= 2:
        raise fail("format 2 writes 'gold' pairs, not 'gold_measures'")
    pairs = []
    for g in data["gold_measures"]:
        if not (_is(g, int) or (_is(g, str) and g.strip())):
            raise fail(f"gold_measures holds {json.dumps(g, ensure_ascii=False)}: each entry must be a measure "
                       "number (an int) or the title of an unnumbered section (a string such as \"保障措施\")")
        if _is(g, int) and g < 1:
            raise fail(f"gold_measures holds {g}: measure numbers start at 1")
        pairs.append((doc_id, str(g) if _is(g, int) else _TITLE + g.strip()))
    return tuple(pairs)


def _turn(turn: Any, i: int, fail) -> Turn:
    ok = (isinstance(turn, dict) and {"role", "content"} <= set(turn) <= {"role", "content", "citations"}
          and turn["role"] in ROLES and _is(turn["content"], str) and turn["content"].strip())
    citations = turn.get("citations", []) if isinstance(turn, dict) else []
    ok = ok and isinstance(citations, list) and all(
        isinstance(c, dict) and _is(c.get("doc_id"), str) and _is(c.get("key"), str) for c in citations)
    if not ok:
        raise fail(f"history turn {i} must be {{\"role\": \"user\"|\"assistant\", \"content\": \"…\", "
                   f"\"citations\"?: [{{\"doc_id\", \"key\"}}]}}, found {json.dumps(turn, ensure_ascii=False)}")
    return Turn(turn["role"], turn["content"], tuple((c["doc_id"], c["key"]) for c in citations))


def check_against_corpus(path: Path, question: Question, catalogs: dict[str, DocumentCatalog]) -> Question:
    """Every gold record, department and expected string must exist in the question's documents.

    Returns the question with format-1 gold (numbers, section titles) resolved to record keys.
    """

    def fail(problem: str) -> QuestionFileError:
        return QuestionFileError(path, question.line, f"question {question.id!r}: {problem}")

    resolved: list[GoldPair] = []
    for doc_id, key in question.gold:
        catalog = catalogs.get(doc_id)
        if catalog is None:
            known = ", ".join(sorted(catalogs)) or "none"
            raise fail(f"unknown doc_id {doc_id!r}; documents in the corpus: {known}")
        if key is not None and key.startswith(_TITLE):
            title = key[len(_TITLE):]
            if title not in catalog.sections:
                sections = "、".join(sorted(catalog.sections)) or "none"
                raise fail(f"unknown section {title!r} in gold_measures: the unnumbered sections of "
                           f"{doc_id!r} are {sections}")
            key = catalog.sections[title]
        elif key is not None and key not in catalog.keys:
            if key.isdigit() and int(key) in catalog.numbers:
                key = catalog.numbers[int(key)]
            else:
                raise fail(f"unknown record {key!r} in gold: document {doc_id!r} has no such key "
                           f"({catalog.describe_numbers()}; `policyqa measures` lists every key)")
        resolved.append((doc_id, key))
    gold_docs = {d for d, _ in resolved} or set(catalogs)
    departments = {d for doc in gold_docs for d in catalogs[doc].departments}
    for name in question.gold_departments or ():
        if name not in departments:
            close = difflib.get_close_matches(name, sorted(departments), n=2, cutoff=0.4)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise fail(f"unknown department {name!r} in gold_departments: no record of the gold documents "
                       f"names it{hint}; use the full name as the record gives it")
    for value in question.expected:
        if ISO_DATE.fullmatch(value) and any(catalogs[d].issued_on == value or value in catalogs[d].dates
                                             for d in gold_docs):
            continue
        texts = [catalogs[d].text for d in gold_docs if catalogs[d].text is not None]
        if texts and not any(BLANK.sub("", value) in t for t in texts):
            raise fail(f"expected string {value!r} does not occur in the text of the gold document(s); "
                       "copy it from the document word for word")
    from dataclasses import replace

    return replace(question, gold=tuple(resolved))


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
