"""What every handler gets: the question as decided once (``Asked``) and the index state (``Context``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Protocol

import numpy as np

from assistant.answers import Evidence, Namer, citation
from assistant.catalog import Catalog, place_names
from assistant.conversation import Conversation
from assistant.intents import Intent
from assistant.models import AskResponse, Citation
from assistant.relevance import Relevance, scope_text
from assistant.scope import Scope
from corpus.records import Document, Measure, Sentence
from index.hybrid import HybridSearcher, MeasureHit, SearchFilters
from index.expansion import QUERY_FILLER, with_defined_terms
from index.tokenization import normalize_text


@dataclass(frozen=True)
class Asked:
    """A question with its intent, scope and conversation, resolved once before any handler runs."""

    text: str
    intent: Intent
    scope: Scope
    conversation: Conversation = field(default_factory=Conversation)
    top_k: int = 3
    lang: str = "zh"  # the question's language: zh, en or ko
    terms: str = ""  # for en/ko: the Chinese words of the field its words stand for (the lexical query)

    @property
    def lexical(self) -> str:
        """What the lexical side searches: the question, or for English and Korean its Chinese terms."""
        return self.terms if self.lang != "zh" else self.text


# a measure's second-best sentence is quoted only when it scores at least this share of its best (BM25 share
# + cosine): T1000是什么？ quoted 信创打印机 (cosine alone) before the T1000 sentence. 0.6 left every tuning
# figure unchanged; 0.75 lost a figure of the 13-document set (2026-11-30).
QUOTE_BAND = 0.6


@dataclass
class Context:
    """One consistent index state and what answering needs from it."""

    catalog: Catalog
    searcher: HybridSearcher
    relevance: Relevance
    today: date
    sides: tuple[str, ...] = ("lexical", "dense")
    ask: Callable[[str, list | None], AskResponse] | None = None  # to re-ask an earlier question (follow-ups)

    @property
    def namer(self) -> Namer:
        return Namer(self.catalog, self.today)

    def namer_for(self, asked: "Asked") -> Namer:
        return Namer(self.catalog, self.today, lang=asked.lang)

    def cite(self, evidence: Evidence, quote: str | None = None) -> Citation:
        return citation(evidence, self.catalog, quote)

    # -- retrieval ---------------------------------------------------------------------------
    def filters(self, scope: Scope, measures: frozenset | None = None,
                exclude: frozenset = frozenset()) -> SearchFilters | None:
        if scope.everything and measures is None and not exclude:
            return None
        doc_ids = None if scope.everything else frozenset(scope.doc_ids)
        return SearchFilters(doc_ids=doc_ids, measures=measures, exclude=exclude)

    def search(self, query: str, k: int, scope: Scope, vector: np.ndarray | None = None,
               measures: frozenset | None = None, exclude: frozenset = frozenset()) -> list[MeasureHit]:
        query = with_defined_terms(query, self.catalog.defined_terms)  # 一人公司 also searches OPC, when defined so
        return self.searcher.search(query, k=k, filters=self.filters(scope, measures, exclude), sides=self.sides,
                                    vector=vector)

    def refusal_features(self, query: str, vector: np.ndarray, hits: list[MeasureHit],
                         scope: Scope | None = None) -> dict[str, float] | None:
        """The refusal model's signals for ``query`` in ``scope`` (see relevance.py); None without any hit."""
        scope = scope or Scope()
        query = with_defined_terms(query, self.catalog.defined_terms)  # as searched (OPC for 一人公司)
        best = hits if hits and self.sides == ("lexical", "dense") else self.search(query, k=1, scope=scope,
                                                                                        vector=vector)
        if not best:
            return None
        self.relevance.model_for(self.searcher.embedder)
        measure = self.catalog.measure(best[0].doc_id, best[0].measure_key)
        text = scope_text(self.catalog, None if scope.everything else scope.doc_ids)
        # the headings above the measure name its subject too (第二章 子女教育 over 第五条, whose text says 子女接受…教育),
        # and so does its document's title (台湾中小企业升级转型补助上限是多少？ of 《中小企業升級轉型…辦法》第5條)
        document = self.catalog.document(best[0].doc_id)
        title = document.title if document is not None else ""
        place = self.catalog.info(best[0].doc_id).place if document is not None else None
        for name in sorted(place_names(place) if place else (), key=len, reverse=True):
            title = title.replace(name, " ")  # the title's place says where, not what (威海 of 《威海市…方案》)
        heading = title + "".join(measure.path)
        return self.relevance.features(self.searcher, strip_names(query, scope), vector, best[0],
                                       normalize_text(heading + measure.title + measure.text), text,
                                       None if scope.everything else scope.doc_ids)

    def in_scope(self, query: str, vector: np.ndarray, hits: list[MeasureHit], scope: Scope | None = None,
                 lang: str = "zh") -> bool:
        """Does the corpus (the question's scope of it) answer ``query``? Judged on the best hit.

        ``lang``: en and ko questions are judged by the cross-lingual model of the embedder."""
        features = self.refusal_features(query, vector, hits, scope)
        return features is not None and not self.relevance.refuse(features, self.searcher.embedder, lang)

    def holds_topic(self, query: str, vector: np.ndarray, hit: MeasureHit, scope: Scope | None = None) -> bool:
        """Whether ``hit``'s measure holds every topic word of ``query`` (the refusal's ``topic_held``)."""
        features = self.refusal_features(query, vector, [hit], scope)
        return bool(features and features["topic_held"])

    def evidence(self, hit: MeasureHit) -> Evidence:
        document = self.catalog.document(hit.doc_id)
        measure = self.catalog.measure(hit.doc_id, hit.measure_key)
        best = max((s.score for s in hit.sentences), default=0.0)
        sentences = [measure.sentences[s.chunk.sentence_index] for s in hit.sentences
                     if s.chunk.sentence_index is not None and s.chunk.sentence_index < len(measure.sentences)
                     and s.score >= QUOTE_BAND * best]
        sentences.sort(key=lambda s: s.start)
        return Evidence(document, measure, sentences or body(measure)[:1], hit.score)

    def foreign_terms(self, question: str, scope: Scope) -> tuple[list[str], list]:
        """Words of ``question`` found in the corpus but in none of the documents of its place scope.

        上海有什么OPC补贴？ with only national documents applying to 上海: OPC occurs only in the
        documents of 武汉, 泰安 …, whose policy does not apply there. Returns (those words, the
        documents that hold them); empty unless the scope was narrowed by a place.
        """
        if scope.everything or "地点" not in scope.named:
            return [], []
        tokenizer = self.searcher.tokenizer
        # a term a document defines counts as the name it defines (人工智能一人公司 is OPC, as the search reads it)
        asked = with_defined_terms(strip_names(question, scope), self.catalog.defined_terms)
        words = {w for w in tokenizer.words(asked)
                 if len(w) >= 2 and w not in QUERY_FILLER and w not in tokenizer.stopwords and re.search(r"\w", w)}
        inside = scope_text(self.catalog, scope.doc_ids)
        # only the names of other places' policies count (OPC of 武汉's, 泰安's … titles), not any word
        programs = {k for i in self.catalog.infos if not scope.allows(i.doc_id) for k in i.keywords}
        foreign = [w for w in words if w not in inside and w in programs]
        flat = asked.lower()
        foreign = [asked[flat.index(w):flat.index(w) + len(w)] if w in flat else w for w in foreign]
        holders = [i for i in self.catalog.infos if not scope.allows(i.doc_id)
                   and any(normalize_text(w) in scope_text(self.catalog, (i.doc_id,)) for w in foreign)]
        return sorted(foreign), holders

    def content_words(self, question: str, scope: Scope) -> list[str]:
        """The words of ``question`` that say what it is about (not asking words, not the scope's names)."""
        from assistant.intents import GENERIC_ASKING

        tokenizer = self.searcher.tokenizer
        return [w for w in tokenizer.words(strip_names(question, scope))
                if len(w) >= 2 and w not in QUERY_FILLER and w not in tokenizer.stopwords and w not in GENERIC_ASKING
                and re.search(r"\w", w)]

    def nothing_in_scope(self, question: str, scope: Scope) -> bool:
        """Neither the question's content words nor the policy words its lay phrasing stands for
        (index/data/expansion.tsv) occur in its documents (威海市GDP是多少？): nothing to answer from.

        A paraphrase such as 造船厂 / 借钱难 is kept: its expansion (船舶, 融资) is in the text."""
        from index.expansion import expansion_terms

        allowed = None if scope.everything else set(scope.doc_ids)
        # a department's name says who, not what: 工信局局长 asks about 局长
        words = self.content_words(self.catalog.without_departments(question, allowed), scope)
        text = scope_text(self.catalog, None if scope.everything else scope.doc_ids)
        if not words or any(w in text for w in words):
            return False
        return not any(normalize_text(term) in text for term in expansion_terms(strip_names(question, scope)).split())

    # -- what the corpus covers ----------------------------------------------------------------
    def coverage(self, scope: Scope | None = None) -> str:
        """Which documents are loaded and what their parts are about: said when refusing. For a question
        scoped to some documents (a place, a title), those documents, and how many the corpus holds in all."""
        every = self.catalog.infos
        infos = [i for i in every if scope is None or scope.allows(i.doc_id)] or every
        names = "、".join(f"《{i.short_title}》" for i in infos[:6]) + (f"等{len(infos)}份文件" if len(infos) > 6 else "")
        topics: list[str] = []
        for info in infos:  # each document's parts; for a document without parts, its measures' titles
            titles = ["".join(section.title.split()) for section in info.document.sections]  # 总　　则 → 总则
            titles = [t for t in titles if t] or [m.title for m in info.document.measures
                                                  if m.title and m.kind == "measure"]
            topics += [t for t in titles if t not in topics]
        topics = topics or [i.short_title for i in infos]
        # each title in 「」: a part title holds commas of its own (强化…调控，夯实…基本盘), which run together otherwise
        topic_text = "、".join(f"「{t}」" for t in topics[:10]) + ("等" if len(topics) > 10 else "")
        if len(infos) < len(every):
            return f"与所问相关的，目前收录的是{names}（共收录{len(every)}份文件），内容涵盖：{topic_text}。"
        return f"目前收录的是{names}，内容涵盖：{topic_text}。"

    def refusal(self, scope: Scope | None = None, intent: str = "refusal", text: str | None = None,
                lang: str = "zh") -> AskResponse:
        if lang != "zh" and text is None:
            from assistant.language import template

            infos = self.catalog.infos
            documents = "、".join(f"《{i.short_title}》" for i in infos[:6]) + ("…" if len(infos) > 6 else "")
            return AskResponse(answer=template(lang, "refusal", documents=documents, n=len(infos)), found=False,
                               intent="refusal",
                               citations=[])
        answer = text or ("抱歉，已收录的政策文件中没有找到与这个问题相关的内容，无法据此回答。"
                          + self.coverage(scope) + "如需其他政策，请咨询相关主管部门。")
        return AskResponse(answer=answer, found=False, intent="refusal", citations=[])


class Handler(Protocol):
    def __call__(self, asked: Asked, context: Context) -> AskResponse: ...


# -- small helpers shared by the handlers ------------------------------------------------------

def strip_names(question: str, scope: Scope) -> str:
    """The question without the words that named its documents (they are not what it asks about)."""
    for name in scope.names:
        question = question.replace(name, " ")
    return question


def body(measure: Measure) -> list[Sentence]:
    return [s for s in measure.sentences if s.kind == "sentence"] or \
        [s for s in measure.sentences if s.kind != "departments"]


def has_target(measure: Measure, sentence: Sentence) -> bool:
    return any(sentence.start <= t.start < sentence.end for t in measure.targets)


def in_scope_pairs(pairs: list[tuple[Document, Measure]], scope: Scope) -> list[tuple[Document, Measure]]:
    return [(d, m) for d, m in pairs if scope.allows(d.doc_id)]


def department_sentence(measure: Measure) -> Sentence | None:
    return next((s for s in measure.sentences if s.kind == "departments"), None)
