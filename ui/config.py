"""The page's own words: title, subtitle, example questions and search hints.

They come from the corpus, never from code. ``derive`` makes them from the loaded documents:

- one document: its title; the subtitle names its issuer, 文号 and date of issue;
- several: "政策问答：N 份政策文件"; the subtitle lists the places they apply to (全国, 北京市, …);
- example questions: the titles of a few measures that name responsible departments, taken in turn
  from the newest documents and from different parts of them ("<title>有哪些支持？"), and one
  question about the department named by the most measures ("<department>负责哪些措施？");
- search hints (the lookup box's placeholder): the titles of two of those measures and the shortest
  short name of that department (工信局).

A corpus folder may hold a file ``ui.json`` (``UI_CONFIG``) that overrides any of them::

    {"title": "威海市工业经济政策问答",
     "subtitle": "威海市人民政府办公室 · 威政办字〔2026〕10号",
     "examples": ["智能工厂有哪些支持？", "贷款难怎么办？"],
     "keywords": ["智能工厂", "贷款", "工信局"]}

Every key is optional. The file is read again when it changes (the next page load shows it). A file
that is not UTF-8 JSON, or does not fit (an unknown key, a wrong type, an empty or too long text,
too many entries), is logged once, in one line naming the file and what to fix, and the words derived
from the documents are used instead.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from assistant.models import MAX_QUESTION_CHARS, DepartmentOut, DocumentOut
from corpus.departments import alias_table

logger = logging.getLogger(__name__)

UI_CONFIG = "ui.json"  # in the corpus folder
MAX_EXAMPLES = 6  # example buttons on the page; a config may list more, the first six are shown
DERIVED_EXAMPLES = 4  # examples made from the documents: three measures and one department
MAX_CONFIG_BYTES = 64 * 1024
GENERIC_TITLE = "政策问答"  # the page's title before any document is loaded
# How an example question is phrased around a measure title or a department name taken from the corpus.
TOPIC_QUESTION = "{title}有哪些支持？"
DEPARTMENT_QUESTION = "{department}负责哪些措施？"
EXAMPLE_TITLE_CHARS = (4, 14)  # measure titles this long make readable example questions


@dataclass(frozen=True)
class UiTexts:
    """What the page says about its corpus. ``examples``: questions (at most MAX_EXAMPLES are shown);
    ``keywords``: search hints for the lookup box."""

    title: str
    subtitle: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...]

    @property
    def question_placeholder(self) -> str:
        return f"例如：{self.examples[0]}" if self.examples else "请输入您的问题"

    @property
    def query_placeholder(self) -> str:
        return f"例如：{'、'.join(self.keywords)}" if self.keywords else "输入关键词，如措施名称、行业或部门简称"


class UiConfig(BaseModel):
    """The optional ``ui.json`` of a corpus folder; None (or absent) keeps the derived value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str | None = Field(default=None, min_length=1, max_length=80)
    subtitle: str | None = Field(default=None, min_length=1, max_length=300)
    examples: list[str] | None = Field(default=None, max_length=20)
    keywords: list[str] | None = Field(default=None, max_length=10)

    @field_validator("examples", "keywords")
    @classmethod
    def _texts(cls, values: list[str] | None, info: ValidationInfo) -> list[str] | None:
        limit = MAX_QUESTION_CHARS if info.field_name == "examples" else 20
        for i, text in enumerate(values or []):
            if not text or len(text) > limit:
                raise ValueError(f"entry {i} must be 1 to {limit} characters, not {len(text)}")
        return values

    def apply(self, texts: UiTexts) -> UiTexts:
        """``texts`` with what this file sets put in."""
        changes = {k: v for k, v in (("title", self.title), ("subtitle", self.subtitle)) if v is not None}
        if self.examples is not None:
            changes["examples"] = tuple(self.examples)
        if self.keywords is not None:
            changes["keywords"] = tuple(self.keywords)
        return replace(texts, **changes)


class ConfigFile:
    """``ui.json`` in ``folder`` (None: no folder, nothing to read), read again when it changes.

    ``read()`` returns the config, or None when there is no file or it is unusable (then one warning
    per change of the file says why). Safe to call from several threads."""

    def __init__(self, folder: Path | None):
        self.path = Path(folder) / UI_CONFIG if folder is not None else None
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._config: UiConfig | None = None
        self.problem: str | None = None  # why the file was not used, for the log and the tests

    def read(self) -> UiConfig | None:
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            stamp = ("unreadable", str(exc))
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                self._config, self.problem = (None, None) if stamp is None else _parse(self.path)
                if self.problem:
                    logger.warning("%s is not used: %s; the page shows titles and examples derived from the "
                                   "documents", self.path, self.problem)
            return self._config


def _parse(path: Path) -> tuple[UiConfig | None, str | None]:
    """The config in ``path``, or None and what is wrong with it (one line)."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return None, f"it is larger than {MAX_CONFIG_BYTES // 1024} KiB"
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "it is not UTF-8 text: save it as UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"it is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    except OSError as exc:
        return None, f"it cannot be read ({exc.strerror or exc})"
    if not isinstance(data, dict):
        return None, 'it must be a JSON object such as {"title": "…", "examples": ["…"]}'
    try:
        return UiConfig.model_validate(data), None
    except ValidationError as exc:
        return None, "; ".join(_describe(e) for e in exc.errors())


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "the file"
    if error.get("type") == "extra_forbidden":
        return f"unknown key {where!r} (known: {', '.join(UiConfig.model_fields)})"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}"


# --- derived from the documents ----------------------------------------------------------------


def texts_for(documents: Sequence[DocumentOut], departments: Sequence[DepartmentOut],
              config: UiConfig | None = None) -> UiTexts:
    """The page's words: derived from ``documents`` and ``departments`` (as the assistant lists them,
    departments with the most measures first), with what ``config`` sets put in."""
    texts = derive(documents, departments)
    return config.apply(texts) if config is not None else texts


def derive(documents: Sequence[DocumentOut], departments: Sequence[DepartmentOut]) -> UiTexts:
    if not documents:
        return UiTexts(GENERIC_TITLE, "尚未载入任何政策文件", (), ())
    if len(documents) == 1:
        doc = documents[0]
        title = doc.title
        facts = [doc.issuer, doc.doc_number, f"{doc.issued_on} 印发" if doc.issued_on else None]
        subtitle = " · ".join(f for f in facts if f)
    else:
        title = f"{GENERIC_TITLE}：{len(documents)} 份政策文件"
        subtitle = "适用地区：" + "、".join(dict.fromkeys(_where(d) for d in documents))
    measures = example_measures(documents, DERIVED_EXAMPLES - 1)
    examples = [TOPIC_QUESTION.format(title=m) for m in measures]
    department = next((d.name for d in departments if d.measures), None)
    keywords = measures[:2]
    if department:
        examples.append(DEPARTMENT_QUESTION.format(department=department))
        keywords.append(short_name(department, [d.name for d in departments]))
    return UiTexts(title, subtitle, tuple(examples), tuple(dict.fromkeys(keywords)))


def _where(doc: DocumentOut) -> str:
    return doc.place or doc.issuer or doc.title


def example_measures(documents: Sequence[DocumentOut], n: int) -> list[str]:
    """Titles of up to ``n`` measures for example questions: from the newest documents first, one per
    document in turn, each time from the next part of it; only measures with a short title and
    responsible departments (a 指导思想 or 适用范围 names none)."""
    queues = []
    for doc in sorted(documents, key=lambda d: d.issued_on or "", reverse=True):
        per_part: dict[str, str] = {}
        for m in doc.measures:
            low, high = EXAMPLE_TITLE_CHARS
            if m.kind == "measure" and m.departments and low <= len(m.title) <= high:
                per_part.setdefault(m.section, m.title)
        if per_part:
            queues.append(list(per_part.values()))
    titles: list[str] = []
    while queues and len(titles) < n:
        for queue in list(queues):
            if len(titles) >= n:
                break
            title = queue.pop(0)
            if title not in titles:
                titles.append(title)
            if not queue:
                queues.remove(queue)
    return titles


def short_name(department: str, known: Sequence[str]) -> str:
    """The shortest name a hotline caller may use for ``department`` (工信局 for 市工业和信息化局),
    or the name itself."""
    aliases = [a for a, full in alias_table(known).items() if full == department and a != department]
    return min(aliases, key=len) if aliases else department
