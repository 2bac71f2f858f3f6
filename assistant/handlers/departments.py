"""What a department answers for: the complete list, never cut at top-k, grouped by document.

A short form means each document's own unit (工信局 is 郑州's 市工业和信息化局 in a 郑州
document); units of different levels stay apart (省财政厅 ≠ 市财政局).
"""

from __future__ import annotations

import re
from dataclasses import replace

from assistant import answers
from assistant.answers import Evidence
from assistant.handlers.base import Asked, Context, body, department_sentence
from assistant.handlers.search import answer_search
from assistant.intents import RESPONSIBILITY, asks_lead_only, without_names
from assistant.models import AskResponse
from corpus.records import Measure
from index.tokenization import normalize_text

ROLE_WORDS = {"lead": "牵头", "cooperate": "配合"}


def role_of(measure: Measure, name: str) -> str:
    role = next((r.role for r in measure.roles if r.name == name), "responsible")
    if role in ROLE_WORDS:
        return ROLE_WORDS[role]
    # the wording the document uses (负责, 按职责分工负责, 责任单位 …), never one it does not
    wording = measure.responsibility or ("负责" if measure.departments == [name] else "责任单位")
    wording = {"牵头单位": "牵头", "牵头负责": "牵头"}.get(wording, wording)
    if wording == "牵头" and any(r.role == "lead" for r in measure.roles):
        return "责任单位"  # 太仓: 牵头单位 names the lead; the units after it are 责任单位, not leads too
    return wording


def asks_beyond_the_measures(asked: Asked, context: Context) -> bool:
    """The question asks something of the department that no measure in scope speaks of
    (市工业和信息化局的办公地址和联系电话？): of the words left after the department's name and the
    asking words, no single measure holds even half. 市工信局负责哪些跟船舶有关的措施 keeps 船舶."""
    catalog, scope = context.catalog, asked.scope
    allowed = None if scope.everything else set(scope.doc_ids)
    words = topic_words(asked, context)
    if not words:
        return False
    texts = [text for (doc_id, _), text in catalog.normalized.items() if allowed is None or doc_id in allowed]
    best = max((sum(w in text for w in words) for text in texts), default=0)
    return best < len(words) / 2


def topic_words(asked: Asked, context: Context) -> list[str]:
    """The words of a department question besides the department, the asking and the naming of its
    documents (船舶 in 市工信局负责哪些跟船舶有关的措施？; nothing in 泰安市财政局在OPC实施意见里负责什么？,
    where OPC and 实施意见 name the document), normalized."""
    from assistant.intents import DEPARTMENT_LIST, LIST_WORDS_AROUND

    scope = asked.scope
    allowed = None if scope.everything else set(scope.doc_ids)
    rest = DEPARTMENT_LIST.sub(" ", context.catalog.without_departments(asked.text, allowed))
    rest = without_names(rest, scope.names)
    # a word of a scoped document's title names that document, not a topic within it
    titles = "" if scope.everything else context.catalog.titles_text(scope.doc_ids)
    # the words that name the records asked for (条目, 条款, 举措) are asking, not a topic
    words = [normalize_text(w) for w in context.content_words(rest, scope)
             if w not in LIST_WORDS_AROUND and not context.catalog.departments_in(w, allowed)]
    return [w for w in words if w not in titles]


def named_in_text(names, context: Context, allowed) -> AskResponse | None:
    """省财政厅负责哪些工作？ over a 办法 whose articles name their units only in the text (第四条 省财政厅负责
    专项资金的预算管理): the articles whose sentences name the unit, each quoted, said to be found in the text
    (no 责任单位 line of theirs lists it). None when no sentence names it. A place before the level
    (浙江省财政厅) is also looked for without it (省财政厅), as articles write it."""
    lines, citations = [], []
    for name in names:
        level = re.search(r"[省市区县](?=.{2,})", name[1:])
        place = name[:level.start() + 1] if level else ""  # 浙江 of 浙江省财政厅
        for info in context.catalog.infos:
            if allowed is not None and info.doc_id not in allowed:
                continue
            own = place and info.place is not None and info.place.name.startswith(place)
            variants = [normalize_text(v) for v in ([name, name[len(place):]] if own else [name])]
            measures = [m for m in info.document.measures  # those whose text names it, then their sentences
                        if any(v in context.catalog.normalized[(info.doc_id, m.key)] for v in variants)]
            found = [(m, s) for m in measures for s in m.sentences if s.kind == "sentence"
                     and any(v in normalize_text(s.text) for v in variants)]
            by_measure: dict[str, tuple] = {}  # the first sentence of each measure that names the unit
            for measure, sentence in found:
                by_measure.setdefault(measure.key, (measure, sentence))
            if not by_measure:
                continue
            prefix = context.namer.document(info.document) if context.catalog.multi else ""
            lines.append(f"{prefix}正文中写到{name}的条款共{len(by_measure)}项（未列为其责任单位，以下为原文）：")
            for i, (measure, sentence) in enumerate(by_measure.values(), start=1):
                lines.append(f"{i}. {context.namer.measure(info.document, measure, with_document=False)}：“{sentence.text}”")
                citations.append(context.cite(Evidence(info.document, measure, [sentence], 1.0), quote=sentence.text))
    if not citations:
        return None
    return AskResponse(answer="\n".join(lines), found=True, intent="department", citations=citations)


def unknown_unit(mention: str, context: Context) -> AskResponse:
    """济南市财政局负责哪些措施？ when no document names that unit: say so, and name the units of the same
    kind the documents do hold (市财政局 of 泰安's and 威海's documents), which are other places' or levels'."""
    def core(name: str) -> str:  # the unit without its place and level: 济南市财政局 → 财政局
        return re.sub(r"^.*?[省市区县]", "", name) or name

    same: dict[str, list[str]] = {}
    for info in context.catalog.infos:
        for name in dict.fromkeys(n for m in info.document.measures for n in m.departments):
            if name != mention and core(name) == core(mention):
                same.setdefault(name, []).append(f"《{info.short_title}》")
    text = f"已收录的文件中没有由“{mention}”负责或参与的措施。"
    if same:
        held = "；".join(f"{name}（见{'、'.join(docs[:3])}{'等' if len(docs) > 3 else ''}）" for name, docs in same.items())
        text += f"文件中的同类单位有：{held}，它们属于其他地区或层级，不能代替所问单位。"
    return AskResponse(answer=text, found=False, intent="department", citations=[])


def answer_department(asked: Asked, context: Context) -> AskResponse:
    catalog, scope, namer = context.catalog, asked.scope, context.namer
    allowed = None if scope.everything else set(scope.doc_ids)
    if asked.lang != "zh":  # asked in English or Korean: the unit's measures, under the template's lead line
        pairs = [(d, m) for name in asked.intent.departments for d, m in catalog.by_department.get(name, [])
                 if scope.allows(d.doc_id)]
        pairs = list({(d.doc_id, m.key): (d, m) for d, m in pairs}.values())
        if not pairs:
            return context.refusal(scope, lang=asked.lang)
        evidence = [Evidence(d, m, body(m)[:1], 1.0) for d, m in pairs]
        return AskResponse(answer=answers.retrieval_answer(evidence, context.namer_for(asked)), found=True,
                           intent="department", citations=[context.cite(e) for e in evidence])
    if asked.intent.mentions and not asked.intent.departments:
        return named_in_text(asked.intent.mentions[:1], context, allowed) or unknown_unit(asked.intent.mentions[0],
                                                                                         context)
    if asks_beyond_the_measures(asked, context):
        return context.refusal(scope)
    # a unit inside the naming of a document (国务院办公厅…通知里财政部负责什么) is not the one asked about
    per_document = (catalog.departments_in(without_names(asked.text, scope.names), allowed)
                    or catalog.departments_in(asked.text, allowed))
    if not per_document and asked.intent.departments:
        per_document = {d.doc_id: [n for n in asked.intent.departments if n in {x for m in d.measures
                                                                                 for x in m.departments}]
                        for d in catalog.documents if allowed is None or d.doc_id in allowed}
        per_document = {k: v for k, v in per_document.items() if v}
    if not per_document:
        in_text = named_in_text(asked.intent.departments or asked.intent.mentions, context, allowed)
        if in_text is not None:
            return in_text
        names = "、".join(asked.intent.departments or asked.intent.mentions) or "该部门"
        where = "所问文件中" if not scope.everything else "已收录的文件中"
        return AskResponse(answer=f"{where}没有由{names}负责或参与的措施。", found=False, intent="department",
                           citations=[])
    on_topic = topic_words(asked, context)
    # the unit is context of a question about a subject, not the subject of a lookup, when nothing asks for its
    # responsibility (海关对进口汽车保税存储有什么规定？ 人社部对培训合格的失业人员给什么补贴？) or none of its
    # measures holds the subject (有关部门要向税务部门提供哪些专项附加扣除信息？): what the measures say is asked
    if on_topic and (not RESPONSIBILITY.search(asked.text) or not any(
            all(w in catalog.normalized[(d.doc_id, m.key)] for w in on_topic)
            for d in catalog.documents if d.doc_id in per_document
            for m in d.measures if any(n in m.departments for n in per_document[d.doc_id]))):
        return answer_search(replace(asked, intent=replace(asked.intent, kind="search")), context)
    lines: list[str] = []
    citations = []
    total = blocks = 0
    lead_only = asks_lead_only(asked.text)
    for info in catalog.infos:
        names = per_document.get(info.doc_id)
        if not names:
            continue
        document = info.document
        for name in names:
            mine = [m for m in document.measures if name in m.departments]
            narrowed = [m for m in mine if all(w in catalog.normalized[(document.doc_id, m.key)] for w in on_topic)]
            about = ""
            if on_topic and narrowed:  # 工信局负责的跟船舶有关的措施: those of its measures that name 船舶
                mine, about = narrowed, "涉及“" + "、".join(on_topic) + "”的"
            elif on_topic:  # another document's unit of that name holds the topic: this one's measures are not asked
                continue
            # 工信局牵头哪些任务？ in a document that says who leads: those it leads; else all, and say so
            led = lead_only and any(r.role == "lead" for m in document.measures for r in m.roles)
            if led:
                mine = [m for m in mine if role_of(m, name) == "牵头"]
            total += len(mine)
            prefix = namer.document(document) if catalog.multi else ""
            unsaid = "（该文件未区分牵头与配合单位）" if lead_only and not led else ""
            what = f"的{about}牵头措施" if led else f"负责或参与的{about}措施"
            lines.append(f"{prefix}{name}{what}共{len(mine)}项{unsaid}：")
            blocks += 1
            for i, measure in enumerate(mine, start=1):
                lines.append(f"{i}. {namer.measure(document, measure, with_document=False)}（{role_of(measure, name)}）")
                sentence = department_sentence(measure)
                quote = sentence.text if sentence else answers.departments_text(measure)
                citations.append(context.cite(Evidence(document, measure, [], 1.0), quote=quote))
    if blocks > 1:
        lines.insert(0, f"共{len(citations)}项，按{'文件和' if catalog.multi else ''}部门列出：")
    return AskResponse(answer="\n".join(lines), found=True, intent="department", citations=citations)
