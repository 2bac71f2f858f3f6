"""Lookup tables over the loaded documents, built once per index state.

Everything the answering asks again and again — a measure by (document, key), by number, the
measures of a department, a document's short title, place, versions and validity — is computed
here once when an index state is opened, instead of by loops over every measure per question.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from pathlib import Path

import zhconv

from assistant.places import Gazetteer, LatinPlaces, Place
from corpus.departments import AliasMatcher, alias_table
from corpus.records import Document, Measure
from index.tokenization import normalize_text

DATA = Path(__file__).parent / "data"
_TITLE_WORDS = json.loads((DATA / "title_words.json").read_text(encoding="utf-8"))
DOC_TYPES: tuple[str, ...] = tuple(sorted(_TITLE_WORDS["doc_types"], key=len, reverse=True))
DOC_WORDS: tuple[str, ...] = tuple(_TITLE_WORDS["doc_words"])
WEAK_DOC_WORDS: frozenset[str] = frozenset(_TITLE_WORDS["weak_doc_words"])  # every measure is one: no document alone
GENERIC_TITLE_WORDS: tuple[str, ...] = tuple(sorted(_TITLE_WORDS["generic"], key=len, reverse=True))
SEPARATE_JURISDICTIONS: frozenset[str] = frozenset(_TITLE_WORDS.get("separate_jurisdictions", ()))
_YEARS = re.compile(r"[（(]\s*\d{4}\s*[-—–~～至]\s*\d{4}\s*年?\s*[）)]|[（(](?:试行|暂行|試行)[）)]|\d{4}\s*年|\d{4}")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9+]{1,9}")


@dataclass
class DocInfo:
    """One document with what the answering derives from it."""

    document: Document
    short_title: str
    place: Place | None  # the most specific gazetteer place; None for national (or unknown) documents
    national: bool
    keywords: frozenset[str]  # distinctive words of its title (for questions that name it)
    plan_key: str  # issuer + title without years: two documents with the same key are versions of one plan
    older: list[str] = field(default_factory=list)  # doc_ids of older versions of the same plan
    newer: list[str] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return self.document.doc_id

    @property
    def year(self) -> int | None:
        issued = self.document.issued_on
        return int(issued[:4]) if issued else None

    @property
    def title_variants(self) -> tuple[str, ...]:
        """Ways a question may write the document's name: its title, short title, and the short title
        with the place's short name (泰安OPC实施意见 for 泰安市OPC实施意见)."""
        variants = [self.document.title, self.short_title]
        if self.place is not None and self.short_title.startswith(self.place.name):
            rest = self.short_title[len(self.place.name):]
            variants += [alias + rest for alias in self.place.aliases if len(alias) >= 2]
        return tuple(dict.fromkeys(v for v in variants if v))

    def expired(self, today: date) -> bool:
        expires = self.document.expires_on
        return bool(expires) and date.fromisoformat(expires) < today

    def name(self) -> str:
        """《短标题》（文号）: how an answer names the document."""
        number = self.document.doc_number
        return f"《{self.short_title}》" + (f"（{number}）" if number else "")


@dataclass(frozen=True)
class MeasureRef:
    doc_id: str
    key: str


class Catalog:
    """The documents of one corpus load and lookup tables over their records."""

    def __init__(self, documents: list[Document], gazetteer: Gazetteer | None, words=None):
        self.gazetteer = gazetteer
        self.words = words or (lambda text: re.findall(r"[A-Za-z0-9]+|[\u4e00-\u9fff]{2,4}", text))
        self.documents = documents
        self.infos: list[DocInfo] = _distinct_short_titles([self._info(d) for d in documents])
        self.by_id: dict[str, DocInfo] = {i.doc_id: i for i in self.infos}
        self._link_versions()
        self.pairs: list[tuple[Document, Measure]] = [(d, m) for d in documents for m in d.measures]
        self.by_key: dict[tuple[str, str], Measure] = {(d.doc_id, m.key): m for d, m in self.pairs}
        self.by_number: dict[int, list[tuple[Document, Measure]]] = {}
        for d, m in self.pairs:
            if m.number is not None and m.kind == "measure":
                self.by_number.setdefault(m.number, []).append((d, m))
        self.by_department: dict[str, list[tuple[Document, Measure]]] = {}
        for d, m in self.pairs:
            for name in m.departments:
                self.by_department.setdefault(name, []).append((d, m))
        # department names ordered by how many measures name them (most first)
        self.departments: list[str] = sorted(self.by_department, key=lambda n: (-len(self.by_department[n]), n))

    # -- documents -------------------------------------------------------------------------
    @property
    def multi(self) -> bool:
        return len(self.documents) > 1

    def info(self, doc_id: str) -> DocInfo:
        return self.by_id[doc_id]

    def document(self, doc_id: str) -> Document | None:
        info = self.by_id.get(doc_id)
        return info.document if info else None

    def measure(self, doc_id: str, key: str) -> Measure | None:
        return self.by_key.get((doc_id, key))

    @cached_property
    def defined_terms(self) -> dict[str, tuple[str, ...]]:
        """Terms the documents define for themselves (OPC ↔ 一人公司, 专项资金 ↔ 中小企业发展专项资金):
        index.expansion.defined_terms over every document's text."""
        from index.expansion import defined_terms

        return defined_terms(d.text for d in self.documents)

    @cached_property
    def latin_places(self) -> LatinPlaces | None:
        """The places an English question may name in pinyin: every province and city (Nanjing, Shanghai: a
        place no document covers is refused as in Chinese) and the counties inside a document's place
        (Kunshan with a 苏州 document), a document's place and those above or inside it preferred among
        homophones (Suzhou = 苏州, not 宿州). None without a gazetteer. Built on first use (~0.5 s)."""
        gazetteer = self.gazetteer
        if gazetteer is None:
            return None
        known = [i.place for i in self.infos if i.place is not None]
        places = {p.code: p for p in gazetteer.places.values()
                  if p.level != "county" or any(gazetteer.is_within(p, k) for k in known)}
        chains = {p.code: p for k in known for p in gazetteer.chain(k)}
        places.update(chains)
        related = frozenset(code for code, p in places.items()
                            if code in chains or any(gazetteer.is_within(p, k) for k in known))
        return LatinPlaces(list(places.values()), preferred=related)

    def titles_text(self, doc_ids) -> str:
        """The titles and short titles of ``doc_ids``, normalized and without whitespace: what a word that
        names one of those documents (OPC, 促进, 实施意见) is looked up in."""
        return "".join(re.sub(r"\s+", "", normalize_text(self.by_id[d].document.title + self.by_id[d].short_title))
                       for d in doc_ids if d in self.by_id)

    @cached_property
    def normalized(self) -> dict[tuple[str, str], str]:
        """Title + text of every record, normalized as the tokenizer does: for substring matching."""
        return {(d.doc_id, m.key): normalize_text(m.title + m.text) for d, m in self.pairs}

    @cached_property
    def department_matchers(self) -> dict[str, AliasMatcher]:
        """Per document, its alias table compiled (see :attr:`department_aliases`)."""
        return {doc_id: AliasMatcher(table) for doc_id, table in self.department_aliases.items()}

    def departments_in(self, text: str, doc_ids=None) -> dict[str, list[str]]:
        """doc_id → the full names of its departments that ``text`` mentions (工信局 → its 工信 unit)."""
        out = {}
        for doc_id, matcher in self.department_matchers.items():
            if doc_ids is not None and doc_id not in doc_ids:
                continue
            names = matcher.find(text)
            if names:
                out[doc_id] = names
        return out

    def without_departments(self, text: str, doc_ids=None) -> str:
        """``text`` with every department name of the documents (any alias: 市工信局) blanked out.

        Matched on the text as given, so the longest name of any document wins: 国家发展改革委 goes
        whole, even where another document writes only 发展改革委 (no stray 国家 left as a topic)."""
        blank = [False] * len(text)
        for doc_id, matcher in self.department_matchers.items():
            if (doc_ids is None or doc_id in doc_ids) and matcher.pattern is not None:
                for match in matcher.pattern.finditer(text):
                    blank[match.start():match.end()] = [True] * (match.end() - match.start())
        return "".join(" " if gone else c for c, gone in zip(text, blank))

    @cached_property
    def department_aliases(self) -> dict[str, dict[str, str]]:
        """Per document: every way to name its departments → its full name (工信局 → 市工业和信息化局).

        Built from that document's names and the data file only, so a short form means the
        unit of the document's own issuer: 工信局 is 郑州's in a 郑州 document, 省工业和信息化厅
        in a 广东 one.
        """
        return {d.doc_id: alias_table({n for m in d.measures for n in m.departments}) for d in self.documents}

    def covering(self, place: Place) -> list[DocInfo]:
        """Documents that apply at ``place``: its own, those of the levels above it, national ones."""
        out = []
        separate = self.gazetteer is not None and any(p.name in SEPARATE_JURISDICTIONS for p in self.gazetteer.chain(place))
        for info in self.infos:
            if info.national:
                if not separate:
                    out.append(info)
            elif info.place is not None and self.gazetteer is not None and self.gazetteer.is_within(place, info.place):
                out.append(info)
        return out

    def under(self, place: Place) -> list[DocInfo]:
        """Documents of places inside ``place`` (罗湖区's for 深圳市)."""
        if self.gazetteer is None:
            return []
        return [i for i in self.infos if i.place is not None and i.place.code != place.code
                and self.gazetteer.is_within(i.place, place)]

    # -- derived document facts -------------------------------------------------------------
    def _info(self, document: Document) -> DocInfo:
        national = document.level == "national" or document.place == "全国"
        place = None
        if not national and self.gazetteer is not None:
            place = self.gazetteer.resolve(document.place) or self.gazetteer.resolve(document.issuer) \
                or self.gazetteer.resolve(document.title)
        meta_short = getattr(document, "short_title", None)
        chain = self.gazetteer.chain(place) if (place is not None and self.gazetteer is not None) else []
        short = meta_short or short_title(document, chain, self.words)
        keywords = frozenset(self._keywords(document.title, document.issuer or "") | self._keywords(short, document.issuer or ""))
        plan = re.sub(r"\s+", "", (document.issuer or "") + "|" + _YEARS.sub("", zhconv.convert(document.title,
                                                                                                   "zh-hans")))
        return DocInfo(document, short, place, national, keywords, plan)

    def _keywords(self, title: str, issuer: str = "") -> set[str]:
        text = normalize_text(title)
        issuer = normalize_text(issuer)
        words = set()
        for word in self.words(text):
            word = word.strip()
            if len(word) < 2 or word in GENERIC_TITLE_WORDS or re.fullmatch(r"\d+", word) or any(
                    word in kind for kind in DOC_TYPES):
                continue  # 行动 of 行动方案, 实施 of 实施意见 name a kind of document, not this one
            if self.gazetteer is not None and self.gazetteer.by_name.get(word):
                continue  # places are matched by the place scope
            if issuer and word in issuer:
                continue  # the issuer is matched by the issuer scope
            words.add(word)
        return words

    def _link_versions(self) -> None:
        groups: dict[str, list[DocInfo]] = {}
        for info in self.infos:
            groups.setdefault(info.plan_key, []).append(info)
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda i: i.document.issued_on or "")
            for i, info in enumerate(members):
                info.older = [m.doc_id for m in members[:i]]
                info.newer = [m.doc_id for m in members[i + 1:]]


def _distinct_short_titles(infos: list[DocInfo]) -> list[DocInfo]:
    """Documents whose rule-made short titles coincide (versions of one plan) get their year after it:
    烟台市专精特新中小企业若干措施（2024年）. A short title set in a sidecar is kept as written."""
    count: dict[str, int] = {}
    for info in infos:
        count[info.short_title] = count.get(info.short_title, 0) + 1
    out = []
    for info in infos:
        year = info.year
        if count[info.short_title] > 1 and year and not getattr(info.document, "short_title", None):
            info = replace(info, short_title=f"{info.short_title}（{year}年）")
        out.append(info)
    return out


def short_title(document: Document, places: list[Place], words=None) -> str:
    """Place + the title's core + its type: 武汉市支持人工智能OPC创新发展若干措施 → 武汉市OPC若干措施.

    Years, 关于…, the issuer, the names of ``places`` (the document's place and the levels
    above it) and words that name no document in particular (支持, 促进, 发展 …, in
    assistant/data/title_words.json) are dropped; a Latin acronym (OPC) stands for the rest;
    the core is cut at a word boundary within 12 characters. A sidecar may set it instead.
    """
    title = zhconv.convert(document.title, "zh-hans")
    title = re.sub(r"[（(]\s*[）)]", "", _YEARS.sub("", title))  # 措施（2026年） → 措施, no empty （）
    if "关于" in title:
        title = title.split("关于", 1)[1]
    issuer = zhconv.convert(document.issuer or "", "zh-hans")
    if issuer and title.startswith(issuer):
        title = title[len(issuer):]
    prefix = _prefix(document, places[-1] if places else None, issuer)
    names = sorted({prefix, *(n for p in places for n in place_names(p))}, key=len, reverse=True)
    stripped = True
    while stripped:
        stripped = False
        for name in names:  # longest first on what is left: 济南市历下区 → 历下区…, then 历下区 (not 历下) goes
            if name and title.startswith(name) and len(title) > len(name):
                title, stripped = title[len(name):], True
                break
    kind = next((t for t in DOC_TYPES if title.endswith(t)), "")
    core = title[: len(title) - len(kind)] if kind else title
    latin = _LATIN.findall(core)
    if latin:
        core = "".join(dict.fromkeys(latin))
    else:
        for word in GENERIC_TITLE_WORDS:
            core = core.replace(word, "")
        if len(core) > 12:
            pieces = list(words(core)) if words else [core]
            kept = ""
            for piece in pieces:
                if len(kept) + len(piece) > 12:
                    break
                kept += piece
            core = kept or core[:12]
    return f"{prefix}{core}{kind}" or document.title


def _prefix(document: Document, place: Place | None, issuer: str) -> str:
    if place is not None:
        return place.name
    if issuer and len(issuer) <= 8:
        return issuer
    return "国务院" if issuer.startswith("国务院") else (issuer[:6] if issuer else "")


def place_names(place: Place) -> tuple[str, ...]:
    return (place.name, *place.aliases)
