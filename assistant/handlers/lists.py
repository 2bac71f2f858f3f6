"""Every measure on a topic (哪些措施涉及人工智能？), with the count, grouped by document."""

from __future__ import annotations

import re
from dataclasses import replace

from assistant import answers
from assistant.answers import Evidence
from assistant.attributes import unstated
from assistant.handlers.base import Asked, Context, body, has_target
from assistant.handlers.search import answer_search, not_stated
from assistant.models import AskResponse
from assistant.scope import Scope
from corpus.records import Document, Measure
from index.tokenization import normalize_text


QUOTE_UP_TO = 4  # a list this short quotes each measure's sentence


def matching_measures(topic: str, scope: Scope, context: Context) -> list[tuple[Document, Measure]]:
    return _matching(topic, scope, context)[0]


def _matching(topic: str, scope: Scope, context: Context) -> tuple[list[tuple[Document, Measure]], bool]:
    """Every measure whose text names the topic (any of its 、-alternatives).

    Falls back to measures holding all the words of an alternative, then to the search
    hits close to the best one when the topic is in scope at all.
    """
    catalog = context.catalog
    alternatives = [_squeeze(a) for a in topic.split("、") if a.strip()]
    pairs = [(d, m) for d, m in catalog.pairs if scope.allows(d.doc_id)]
    texts = _squeezed_texts(catalog)
    exact = [(d, m) for d, m in pairs if any(holds(texts[(d.doc_id, m.key)], a) for a in alternatives)]
    if exact:
        return exact, True
    joined = [part for a in alternatives for part in re.split(r"和|与|及|以及", a) if part]
    if len(joined) > len(alternatives) and all(len(p) >= 2 for p in joined):
        # LNG和T1000: two terms asked together, each held by its own measures, none held whole
        each = [(d, m) for d, m in pairs if any(holds(texts[(d.doc_id, m.key)], p) for p in joined)]
        if each and all(any(holds(texts[(d.doc_id, m.key)], p) for d, m in each) for p in joined):
            return each, True
    # an acronym or lay word with one policy term for it (AI → 人工智能; index/data/expansion.tsv)
    from index.expansion import expansion_terms, lexicon

    terms = [_squeeze(t) for a in topic.split("、") for t in expansion_terms(a).split()]
    if 0 < len(terms) <= len(alternatives):
        named = [(d, m) for d, m in pairs if any(t in texts[(d.doc_id, m.key)] for t in terms)]
        # the words beside the lay phrase narrow it (AI标杆项目: the 人工智能 measures that also say 标杆 and 项目)
        phrases = {a: [m.group() for pattern, _ in lexicon() for m in pattern.finditer(a)] for a in alternatives}
        rest = [w for a in alternatives for w in context.searcher.tokenizer.words(a)
                if len(w) > 1 and not any(w in phrase for phrase in phrases[a])]
        narrowed = [(d, m) for d, m in named if rest and all(w in texts[(d.doc_id, m.key)] for w in rest)]
        if named:
            return narrowed or named, True
    words = [[w for w in context.searcher.tokenizer.words(a) if len(w) > 1] for a in alternatives]
    every = [(d, m) for d, m in pairs if any(ws and all(w in texts[(d.doc_id, m.key)] for w in ws) for ws in words)]
    if every:
        return every, True
    query = topic.replace("、", " ")
    vector = context.searcher.encode(query)
    hits = context.search(query, k=10, scope=scope, vector=vector)
    if not hits or not context.in_scope(query, vector, hits, scope):
        return [], False
    kept = [h for h in hits if context.relevance.keep_with(h, hits[0])]
    return [(catalog.document(h.doc_id), catalog.measure(h.doc_id, h.measure_key)) for h in kept], False


def _most_words(sentences, alternatives: list[str], context: Context):
    """The first of ``sentences`` holding the most words of the topic (Lng船: the sentence that says LNG, not
    the measure's first); None for no sentences."""
    words = {w for a in alternatives for w in context.searcher.tokenizer.words(a) if w.strip()}
    best, most = None, -1
    for sentence in sentences:
        held = sum(w in _squeeze(sentence.text) for w in words)
        if held > most:
            best, most = sentence, held
    return best


def holds(text: str, term: str) -> bool:
    """Does ``text`` hold ``term``, a number as a whole number? 60 is not in 960 万千瓦, 7% is not in 17%, 1.5 not
    in 11.5 or 1.56 (both squeezed)."""
    if not term or not (term[0].isdigit() or term[-1].isdigit()):
        return term in text
    left = r"(?<![\d.])" if term[0].isdigit() else ""
    right = r"(?!\.?\d)" if term[-1].isdigit() else ""
    return re.search(left + re.escape(term) + right, text) is not None


def _squeeze(text: str) -> str:
    """Normalized (index.tokenization.normalize_text) and without whitespace: 190 家 and 190家 match."""
    return re.sub(r"\s+", "", normalize_text(text))


def _squeezed_texts(catalog) -> dict[tuple[str, str], str]:
    """Every measure's headings above it, title and text, squeezed, by (doc_id, key); cached on the catalog.
    A chapter's heading names what its articles are about: 子女教育 holds 第五条 to 第七条 of 第二章 子女教育, whose
    text says 子女接受学前教育和学历教育 (NUL between the headings and the text: no term spans the two)."""
    cache = catalog.__dict__.get("_squeezed_texts")
    if cache is None:
        headings = {(d.doc_id, m.key): _squeeze("".join(m.path)) for d, m in catalog.pairs}
        cache = {key: headings.get(key, "") + "\x00" + re.sub(r"\s+", "", text)
                 for key, text in catalog.normalized.items()}
        catalog.__dict__["_squeezed_texts"] = cache
    return cache


def without_title_words(topic: str, scope: Scope, context: Context) -> str:
    """``topic`` (、-separated alternatives) without those inside the title of a document the question named:
    促进就业的若干意见里哪些措施… names 《…促进就业工作的若干意见》; 促进 is left of the naming, not a topic."""
    if scope.everything:
        return topic
    titles = context.catalog.titles_text(scope.doc_ids)
    kept = [a for a in topic.split("、") if a and _squeeze(a) not in titles]
    return "、".join(kept) if kept else topic


def answer_list(asked: Asked, context: Context) -> AskResponse:
    topic = without_title_words(asked.intent.topic, asked.scope, context)
    if not topic.strip():  # 泰安实施意见有哪些措施？ 列出全部措施: every measure of the documents in scope
        return _every_measure(asked, context)
    matches, literal = _matching(topic, asked.scope, context)
    if not matches:  # the topic alone reads as out of scope (企业上云有哪些扶持措施？ → 上云): the question as asked
        return answer_search(replace(asked, intent=replace(asked.intent, kind="search", topic="")), context)
    missing = None if literal or asked.lang != "zh" else unstated(asked.text, [m.title + m.text for _, m in matches])
    if missing:  # the measures nearest a list question that asks what none of them states (attributes.py)
        document, measure = matches[0]
        return context.refusal(asked.scope, text=not_stated(missing, Evidence(document, measure, [], 1.0),
                                                            context.namer_for(asked)))
    alternatives = [_squeeze(a) for a in topic.split("、") if a]
    namer, catalog = context.namer, context.catalog
    if asked.lang != "zh":  # the template's lead line, each measure quoted where it says the topic
        evidence = [Evidence(d, m, [next((s for s in body(m) if any(holds(_squeeze(s.text), a) for a in alternatives)),
                                         None) or _most_words(body(m), alternatives, context)], 1.0)
                    for d, m in matches]
        evidence = [Evidence(e.document, e.measure, [s for s in e.sentences if s is not None], 1.0) for e in evidence]
        return AskResponse(answer=answers.retrieval_answer(evidence, context.namer_for(asked)), found=True,
                           intent="list", citations=[context.cite(e) for e in evidence])
    citations, lines = [], []
    documents = list(dict.fromkeys(d.doc_id for d, _ in matches))
    # the topic is echoed only when every record names it; otherwise the records are "close" to it
    subject = f"涉及“{topic}”的措施" if literal else "与所问内容最相关的措施"
    lines.append(f"{subject}共{len(matches)}项" + (f"，分属{len(documents)}份文件" if len(documents) > 1 else "") + "：")
    number = 0
    for doc_id in documents:
        mine = [(d, m) for d, m in matches if d.doc_id == doc_id]
        if catalog.multi:
            lines.append(f"{namer.document(mine[0][0])}（{len(mine)}项）：")
        for document, measure in mine:
            number += 1
            sentence = next((s for s in body(measure) if any(holds(_squeeze(s.text), a) for a in alternatives)), None)
            sentence = sentence or _most_words(body(measure), alternatives, context)
            quote = sentence.text if sentence else measure.title
            citations.append(context.cite(Evidence(document, measure, [sentence] if sentence else [], 1.0),
                                          quote=quote))
            name = namer.measure(document, measure, with_document=False)
            if len(matches) <= QUOTE_UP_TO and sentence is not None:  # few: show where each one says it
                lines.append(f"{number}. {name}（责任单位：{answers.departments_text(measure)}）：“{sentence.text}”")
            else:
                lines.append(f"{number}. {name}：责任单位：{answers.departments_text(measure)}")
    return AskResponse(answer="\n".join(lines), found=True, intent="list", citations=citations)


def _every_measure(asked: Asked, context: Context) -> AskResponse:
    """The numbered measures of the documents a question names, in order, with their units (one line each)."""
    namer, catalog = context.namer, context.catalog
    lines, citations = [], []
    infos = [i for i in catalog.infos if asked.scope.allows(i.doc_id)]
    for info in infos:
        measures = [m for m in info.document.measures if m.kind == "measure"] or info.document.measures
        lines.append(f"{namer.document(info.document)}共{len(measures)}项措施：")
        for number, measure in enumerate(measures, start=1):
            lines.append(f"{number}. {namer.measure(info.document, measure, with_document=False)}："
                         f"责任单位：{answers.departments_text(measure)}")
            sentence = (body(measure)[:1] or [None])[0]
            citations.append(context.cite(Evidence(info.document, measure, [sentence] if sentence else [], 1.0),
                                          quote=sentence.text if sentence else measure.title))
    return AskResponse(answer="\n".join(lines), found=bool(citations), intent="list", citations=citations)


def _by_fit(topic: str, matches: list[tuple[Document, Measure]], asked: Asked,
            context: Context) -> list[tuple[Document, Measure]]:
    """The measures that name ``topic``, best fit first (the search, restricted to them), not in the
    documents' order: of two questions joined by 、 the first citation is the best measure of the first."""
    allowed = frozenset((d.doc_id, m.key) for d, m in matches)
    hits = context.search(topic, k=len(allowed), scope=asked.scope, measures=allowed)
    rank = {(h.doc_id, h.measure_key): i for i, h in enumerate(hits)}
    return sorted(matches, key=lambda dm: rank.get((dm[0].doc_id, dm[1].key), len(rank)))


def answer_topics(asked: Asked, context: Context) -> AskResponse:
    """低空经济和跨境电商分别由哪些部门负责？ → each subject with its own measures (and departments).

    When every subject lands on the same measures, the 和/及 joined one phrase (培训企业家及经营管理人员
    多少人次): the question is answered as one search."""
    namer = context.namer
    topics = [t for t in asked.intent.topic.split("、") if t]
    found_per_topic = []
    for topic in topics:
        matches, literal = _matching(topic, asked.scope, context)
        # 威海在人才和金融方面分别有什么支持？: the place's own measures on each subject, when it has some (the
        # national ones apply too, but are not what is asked about a place with its own policy)
        own = [(d, m) for d, m in matches if d.doc_id in asked.scope.own]
        matches = own or matches
        if literal and len(matches) > 1:
            matches = _by_fit(topic, matches, asked, context)
        if not literal:
            vector = context.searcher.encode(topic)
            hits = context.search(topic, k=1, scope=asked.scope, vector=vector)
            matches = [(context.catalog.document(h.doc_id), context.catalog.measure(h.doc_id, h.measure_key))
                       for h in hits if context.in_scope(topic, vector, hits, asked.scope)]
        if asked.intent.asks_figure:  # 住房租金…分别扣除多少: the measures that state figures, when some do
            matches = [(d, m) for d, m in matches if m.targets] or matches
        found_per_topic.append(matches)
    keys = [{(d.doc_id, m.key) for d, m in matches} for matches in found_per_topic]
    if len(topics) >= 2 and keys[0] and all(k == keys[0] for k in keys):
        return answer_search(asked, context)
    lines, citations = [], []
    for topic, matches in zip(topics, found_per_topic):
        if not matches:
            lines.append(f"“{topic}”：已收录的文件中没有找到相关内容。")
            continue
        with_units = asked.intent.asks_department or not asked.intent.asks_figure
        # a document is named once, before its first measure (第五条、第七条 of one 办法, not its title twice)
        names = [namer.measure(d, m, with_document=None if i == 0 or matches[i - 1][0] is not d else False)
                 for i, (d, m) in enumerate(matches)]
        if with_units and len({answers.departments_text(m) for _, m in matches}) > 1:
            # measures with different units (of several documents, say): each with its own, never pooled
            line = f"“{topic}”：" + "；".join(f"{name}，责任单位：{answers.departments_text(m)}"
                                             for name, (_, m) in zip(names, matches))
        else:
            line = f"“{topic}”：见{'、'.join(names)}"
            if with_units:
                line += f"，责任单位：{answers.departments_text(matches[0][1])}"
        lines.append(line + "。")
        for document, measure in matches:
            norm = normalize_text(topic)
            # the sentence naming the subject; else the one holding most of its words (opc算力 → …算力补贴…)
            parts = [w for w in context.searcher.tokenizer.words(norm) if len(w) > 1] or [norm]
            texts = [normalize_text(s.text) for s in body(measure)]
            # a word in fewer sentences counts more, and the last (the head: 算力 of OPC算力) a little more
            weight = {w: (1.5 if i == len(parts) - 1 else 1) / max(1, sum(w in t for t in texts))
                      for i, w in enumerate(parts)}
            scored = list(zip(body(measure), texts))
            if asked.intent.asks_figure:  # 赡养老人分别扣除多少: a sentence that states a figure, not the lead-in
                scored = [(s, t) for s, t in scored if has_target(measure, s)] or scored
            sentence = next((s for s, t in scored if norm in t), None) or \
                max(scored, key=lambda st: sum(weight[w] for w in parts if w in st[1]), default=(None,))[0]
            if sentence is not None:
                lines.append(f"  “{sentence.text}”")
            citations.append(context.cite(Evidence(document, measure, [sentence] if sentence else [], 1.0)))
    found = bool(citations)
    if not found:
        return context.refusal(asked.scope)
    return AskResponse(answer="\n".join(lines), found=True, intent="search", citations=citations)
