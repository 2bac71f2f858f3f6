"""A measure by its number (第9条, 第五条, 措施3, 保障措施) and a part by its number (第五部分).

A number is never resolved silently: when no document is named and several documents have
that number, the answer gives each document's measure, grouped and named, and says how to
narrow the question.
"""

from __future__ import annotations

from dataclasses import replace

from assistant import answers
from assistant.answers import Evidence
from assistant.handlers.base import Asked, Context, body, has_target, in_scope_pairs
from assistant.intents import asks_lead_only
from assistant.models import AskResponse
from corpus.records import Document, Measure
from index.tokenization import normalize_text


def answer_measure(asked: Asked, context: Context) -> AskResponse:
    intent, scope, catalog = asked.intent, asked.scope, context.catalog
    found: list[tuple[Document, Measure]] = []
    for number in intent.numbers:
        found += in_scope_pairs(catalog.by_number.get(number, []), scope)
    if intent.safeguards:
        found += [(d, m) for d, m in in_scope_pairs(catalog.pairs, scope)
                  if m.number is None and "保障措施" in (m.title + m.section)]
    found = list({(d.doc_id, m.key): (d, m) for d, m in found}.values())
    if not found:
        return _missing(asked, context)
    # of two versions of one plan, the newer comes first (the older is still shown, and named)
    held = {d.doc_id for d, _ in found}
    found.sort(key=lambda dm: len(set(catalog.info(dm[0].doc_id).newer) & held))
    namer = context.namer_for(asked)
    evidence = []
    for document, measure in found:
        sentences = body(measure)
        if intent.asks_figure:
            sentences = [s for s in sentences if has_target(measure, s)] or sentences
        evidence.append(Evidence(document, measure, sentences, 1.0))
    documents = list(dict.fromkeys(d.doc_id for d, _ in found))
    citations = [context.cite(e) for e in evidence]
    if len(documents) > 1 and scope.everything:
        return AskResponse(answer=_per_document(evidence, namer, intent.numbers), found=True, intent="measure",
                           citations=citations)
    answer = answers.retrieval_answer(evidence, namer, department_first=intent.asks_department,
                                      lead_asked=intent.asks_department and asks_lead_only(asked.text))
    return AskResponse(answer=answer, found=True, intent="measure", citations=citations)


def _per_document(evidence: list[Evidence], namer, numbers: tuple[int, ...]) -> str:
    """第五条 in several documents: one block per document, and how to narrow the question."""
    asked = "、".join(f"第{n}条" for n in numbers) or "该措施"
    documents = list(dict.fromkeys(e.document.doc_id for e in evidence))
    lines = [f"{len(documents)}份文件都有{asked}，分别如下："]
    for i, e in enumerate(evidence, start=1):
        lines.append(answers.measure_block(e, namer, prefix=f"{i}. "))
    example = namer.info(evidence[0].document).short_title
    lines.append(f"如只需其中一份文件的{asked}，请在问题中写明文件名称、地区或文号，例如“{example}{asked}”。")
    return "\n".join(lines)


def _missing(asked: Asked, context: Context) -> AskResponse:
    catalog, scope = context.catalog, asked.scope
    asked_for = "、".join(f"第{n}条" for n in asked.intent.numbers) or "该措施"
    infos = [i for i in catalog.infos if scope.allows(i.doc_id)]
    parts = []
    for info in infos:
        numbers = [m.number for m in info.document.measures if m.number is not None and m.kind == "measure"]
        span = f"第{min(numbers)}条到第{max(numbers)}条" if numbers else "没有编号措施"
        extra = "，另有" + "、".join(dict.fromkeys(f"「{m.title}」" for m in info.document.measures
                                                  if m.number is None and m.title))[:60] if any(
            m.number is None for m in info.document.measures) else ""
        parts.append(("" if not catalog.multi else info.name()) + f"现有措施编号从{span}{extra}")
    answer = f"文件中没有{asked_for}。" + "；".join(parts) + "。"
    return AskResponse(answer=answer, found=False, intent="measure", citations=[])


def _asked_sections(asked: Asked, document: Document, words) -> list:
    """The parts of ``document`` the question asks for: by number (-1: the last), or by words of the heading
    (绿色低碳那一部分 → 五、坚持绿色低碳发展…)."""
    sections = document.sections
    if asked.intent.topic:
        wanted = [w for w in words(asked.intent.topic) if len(w) >= 2] or [asked.intent.topic]
        return [s for s in sections if all(w in normalize_text(s.title) for w in wanted)]
    numbered = [s.number for s in sections]
    wanted = {n if n > 0 else (numbered[n] if -n <= len(numbered) else None) for n in asked.intent.numbers}
    return [s for s in sections if s.number in wanted]


def _item(within: int) -> str:
    """第2项, or 最后一项 for -1."""
    return "最后一项" if within < 0 else f"第{within}项"


def answer_part(asked: Asked, context: Context) -> AskResponse:
    """第五部分有哪些措施 → every measure of that part (section), per document; 第三部分第二条 → the second
    measure of part three; 最后一部分, 绿色低碳那一部分 → that part."""
    catalog, scope, namer = context.catalog, asked.scope, context.namer
    blocks, citations, inside = [], [], []
    for info in catalog.infos:
        if not scope.allows(info.doc_id):
            continue
        for section in _asked_sections(asked, info.document, context.searcher.tokenizer.words):
            measures = [m for m in section.measures if m.kind == "measure"] or section.measures
            if asked.intent.within is not None:
                if 0 < asked.intent.within <= len(measures) or -len(measures) <= asked.intent.within < 0:
                    within = asked.intent.within
                    inside.append((info.document, measures[within - 1 if within > 0 else within]))
                continue
            if asked.lang != "zh" and asked.intent.within is None:  # the template's lead line, the measures
                inside.extend((info.document, m) for m in measures)
                continue
            heading = (namer.document(info.document) if catalog.multi else "") + \
                f"第{section.number}部分「{section.title}」共{len(measures)}项："
            rows = []
            for measure in measures:
                rows.append((namer.measure(info.document, measure, with_document=False),
                             f"责任单位：{answers.departments_text(measure)}"))
                citations.append(context.cite(Evidence(info.document, measure, body(measure)[:1], 1.0)))
            blocks.append(answers.measures_list_answer(heading, rows))
    if inside:
        evidence = [Evidence(d, m, body(m) if asked.intent.within is not None else body(m)[:1], 1.0)
                    for d, m in inside]
        answer = answers.retrieval_answer(evidence, context.namer_for(asked),
                                          department_first=asked.intent.asks_department)
        return AskResponse(answer=answer, found=True, intent="part", citations=[context.cite(e) for e in evidence])
    if not blocks and asked.lang != "zh":
        return context.refusal(scope, lang=asked.lang)
    if not blocks and asked.intent.topic:  # no heading holds those words: the question is about the topic
        from assistant.handlers.search import answer_search

        return answer_search(replace(asked, intent=replace(asked.intent, kind="search", topic="")), context)
    if not blocks and asked.intent.within is not None:
        sizes = "；".join(f"{i.name() + '的' if catalog.multi else ''}第{s.number}部分共{len(s.measures)}项"
                         for i in catalog.infos if scope.allows(i.doc_id) for s in _asked_sections(
                             asked, i.document, context.searcher.tokenizer.words))
        if sizes:
            return AskResponse(answer=f"没有第{asked.intent.numbers[0]}部分{_item(asked.intent.within)}：{sizes}。",
                               found=False, intent="part", citations=[])
    if not blocks:
        wanted = asked.intent.topic and f"“{asked.intent.topic}”部分" or "、".join(
            "最后一部分" if n == -1 else f"倒数第{-n}部分" if n < 0 else f"第{n}部分" for n in asked.intent.numbers)
        if asked.intent.within is not None:
            wanted += _item(asked.intent.within)
        counts = "；".join(f"{i.name() if catalog.multi else '文件'}共{len(i.document.sections)}部分"
                          for i in catalog.infos if scope.allows(i.doc_id))
        return AskResponse(answer=f"没有{wanted}。{counts}。", found=False, intent="part", citations=[])
    return AskResponse(answer="\n".join(blocks), found=True, intent="part", citations=citations)
