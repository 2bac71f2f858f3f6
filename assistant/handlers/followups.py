"""Follow-ups (这条由谁负责？ 具体目标是多少？ 还有别的支持吗？) answered from what the last answer cited.

The referent is read from the history (citations when the turn carries them, else the answer's
text, else the earlier question asked again). 这条 / 该条 means the first measure of the last
answer, not a weakly related second one; 这些 / 上述 means all of them. With nothing to refer to,
the answer asks which measure is meant and names no department.
"""

from __future__ import annotations

import re

from assistant import answers
from assistant.answers import Evidence
from assistant.conversation import referent
from assistant.handlers.base import Asked, Context, body, department_sentence, has_target
from assistant.handlers.search import figure_evidence, figure_lines
from assistant.intents import asks_lead_only
from assistant.models import AskResponse
from corpus.records import Document, Measure

PLURAL = re.compile(r"这些|它们|上述|以上|这几|那些|分别")
CLARIFY = ("请问您指的是哪一项措施？请说明措施的名称、编号或所在文件，例如“智能工厂的支持措施由哪个部门负责？”。")


def _context_measures(asked: Asked, context: Context) -> list[tuple[Document, Measure]]:
    found = referent(asked.conversation, context.catalog)
    pairs = found.pairs
    if not pairs and asked.conversation.has_user_turn and context.ask is not None:
        previous = asked.conversation.last_user()
        earlier = context.ask(previous, None)
        for c in earlier.citations:
            measure = context.catalog.measure(c.doc_id, c.measure_key or "")
            if measure is not None:
                pairs.append((context.catalog.document(c.doc_id), measure))
        pairs = pairs[:2]
    pairs = [(d, m) for d, m in pairs if asked.scope.allows(d.doc_id)] or pairs
    if pairs and not PLURAL.search(asked.text):
        return pairs[:1] if asked.intent.asks_department else pairs[:3]
    return pairs[:3]


def answer_followup(asked: Asked, context: Context) -> AskResponse:
    pairs = _context_measures(asked, context)
    if not pairs:
        return AskResponse(answer=CLARIFY, found=False, intent="followup", citations=[])
    intent, namer = asked.intent, context.namer
    if intent.asks_department:
        # each measure with its own units and roles: two measures' units are never merged into one list
        lead_asked = asks_lead_only(asked.text)
        said = [(namer.measure(d, m), answers.responsibility(m, lead_asked)) for d, m in pairs]
        # 第10条的责任单位：… / 第10条：未列明牵头单位，责任单位：…
        answer = "；".join(f"{who}{'：' if what.startswith('未列明') else '的'}{what}" for who, what in said) + "。"
        citations = []
        for document, measure in pairs:
            sentence = department_sentence(measure)
            citations.append(context.cite(Evidence(document, measure, [], 1.0),
                                          quote=sentence.text if sentence else answers.departments_text(measure)))
        return AskResponse(answer=answer, found=True, intent="followup", citations=citations)
    allowed = frozenset((d.doc_id, m.key) for d, m in pairs)
    previous = asked.conversation.last_user()
    query = asked.text + " " + previous
    hits = context.search(query, k=len(allowed), scope=asked.scope, measures=allowed)
    evidence = [context.evidence(h) for h in hits] or [Evidence(d, m, body(m)[:2], 1.0) for d, m in pairs]
    if intent.asks_figure:
        evidence = [figure_evidence(e, context.searcher, asked.text) for e in evidence]
        evidence = [e for e in evidence if any(has_target(e.measure, s) for s in e.sentences)] or evidence
    if intent.asks_more:
        extra = context.search(previous + " " + asked.text, k=1, scope=asked.scope, exclude=allowed)
        if extra and extra[0].score >= context.relevance.keep_ratio * (hits[0].score if hits else 0):
            evidence.append(context.evidence(extra[0]))
    evidence = evidence[:max(asked.top_k, 1)]
    lines = figure_lines(evidence, context.searcher, asked.text, namer) if intent.asks_figure else None
    answer = answers.retrieval_answer(evidence, namer, figure_lines=lines)
    return AskResponse(answer=answer, found=True, intent="followup", citations=[context.cite(e) for e in evidence])
