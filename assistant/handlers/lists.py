"""Every measure on a topic (哪些措施涉及人工智能？), with the count, grouped by document."""

from __future__ import annotations

from assistant import answers
from assistant.answers import Evidence
from assistant.handlers.base import Asked, Context, body
from assistant.models import AskResponse
from assistant.scope import Scope
from corpus.records import Document, Measure
from index.tokenization import normalize_text


def matching_measures(topic: str, scope: Scope, context: Context) -> list[tuple[Document, Measure]]:
    """Every measure whose text names the topic (any of its 、-alternatives).

    Falls back to measures holding all the words of an alternative, then to the search
    hits close to the best one when the topic is in scope at all.
    """
    catalog = context.catalog
    alternatives = [normalize_text(a) for a in topic.split("、") if a.strip()]
    pairs = [(d, m) for d, m in catalog.pairs if scope.allows(d.doc_id)]
    texts = catalog.normalized
    exact = [(d, m) for d, m in pairs if any(a in texts[(d.doc_id, m.key)] for a in alternatives)]
    if exact:
        return exact
    words = [[w for w in context.searcher.tokenizer.words(a) if len(w) > 1] for a in alternatives]
    every = [(d, m) for d, m in pairs if any(ws and all(w in texts[(d.doc_id, m.key)] for w in ws) for ws in words)]
    if every:
        return every
    query = topic.replace("、", " ")
    vector = context.searcher.encode(query)
    hits = context.search(query, k=10, scope=scope, vector=vector)
    if not hits or not context.in_scope(query, vector, hits):
        return []
    kept = [h for h in hits if context.relevance.keep_with(h, hits[0])]
    return [(catalog.document(h.doc_id), catalog.measure(h.doc_id, h.measure_key)) for h in kept]


def answer_list(asked: Asked, context: Context) -> AskResponse:
    topic = asked.intent.topic
    matches = matching_measures(topic, asked.scope, context)
    if not matches:
        return context.refusal(asked.scope)
    alternatives = [normalize_text(a) for a in topic.split("、") if a]
    namer, catalog = context.namer, context.catalog
    citations, lines = [], []
    documents = list(dict.fromkeys(d.doc_id for d, _ in matches))
    lines.append(f"涉及“{topic}”的措施共{len(matches)}项" + (f"，分属{len(documents)}份文件" if len(documents) > 1 else "")
                 + "：")
    number = 0
    for doc_id in documents:
        mine = [(d, m) for d, m in matches if d.doc_id == doc_id]
        if catalog.multi:
            lines.append(f"{namer.document(mine[0][0])}（{len(mine)}项）：")
        for document, measure in mine:
            number += 1
            sentence = next((s for s in body(measure) if any(a in normalize_text(s.text) for a in alternatives)), None)
            sentence = sentence or (body(measure)[:1] or [None])[0]
            quote = sentence.text if sentence else measure.title
            citations.append(context.cite(Evidence(document, measure, [sentence] if sentence else [], 1.0),
                                          quote=quote))
            name = namer.measure(document, measure, with_document=False)
            lines.append(f"{number}. {name}：责任单位：{answers.departments_text(measure)}")
    return AskResponse(answer="\n".join(lines), found=True, intent="list", citations=citations)
