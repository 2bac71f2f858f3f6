"""Facts about documents (文号, 印发日期, 发文机关, 有效期, 措施数量…) and the list of documents.

A fact is answered for the document the question names; with several documents and none
named, for each of them (a count per document plus the total).
"""

from __future__ import annotations

import re

from assistant.answers import Evidence
from assistant.catalog import DocInfo
from assistant.handlers.base import Asked, Context
from assistant.models import AskResponse, Citation
from corpus.records import Document, Sentence


def _date(iso: str | None) -> str:
    if not iso:
        return "未注明"
    y, m, d = (int(x) for x in iso.split("-"))
    return f"{y}年{m}月{d}日"


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _preamble_quote(document: Document, predicate) -> Sentence | None:
    return next((s for s in [*document.preamble, *document.closing] if predicate(s.text)), None)


def _fact(info: DocInfo, fact: str, context: Context) -> tuple[str, str | None]:
    """(the answer line, the quote it rests on) for one document."""
    document = info.document
    if fact == "doc_number":
        if not document.doc_number:
            return "文件未注明文号", None
        quote = _preamble_quote(document, lambda t: document.doc_number in _squeeze(t))
        return f"文号：{document.doc_number}", quote.text if quote else document.doc_number
    if fact == "issued_on":
        if not document.issued_on:
            return "文件未注明印发日期", None
        y, m, d = (int(x) for x in document.issued_on.split("-"))
        quote = _preamble_quote(document, lambda t: f"{y}年{m}月{d}日" in _squeeze(t))
        return f"印发日期：{y}年{m}月{d}日（{document.issued_on}）", quote.text if quote else None
    if fact == "issuer":
        if not document.issuer:
            return "文件未注明发文机关", None
        quote = _preamble_quote(document, lambda t: document.issuer in _squeeze(t))
        return f"发文机关：{document.issuer}", quote.text if quote else document.issuer
    if fact == "validity":
        parts = []
        if document.effective_on:
            parts.append(f"自{_date(document.effective_on)}起施行")
        if document.expires_on:
            state = "已到期" if info.expired(context.today) else "仍在有效期内"
            parts.append(f"有效期至{_date(document.expires_on)}（{state}）")
        quote = validity_clause(document)
        line = "；".join(parts) or "文件未写明施行日期和有效期"
        return (line + (f"。原文：“{quote.text}”" if quote is not None else "")), quote.text if quote else None
    if fact == "count":
        numbered = [m for m in document.measures if m.number is not None and m.kind == "measure"]
        others = [m for m in document.measures if m.number is None and m.title]
        line = f"共有{len(numbered)}条编号措施"
        if others and len(others) <= 4:
            line += "，另有" + "、".join(f"「{m.title}」" for m in others) + "内容"
        stated = _preamble_quote(document, lambda t: re.search(r"全文\s*\d+\s*[条條]", t) is not None)
        if stated is not None:  # the document states its own count (…發布全文 19 條)
            line += f"（文件记载：“{stated.text}”）"
            return line, stated.text
        return line, (numbered[-1].sentences[0].text if numbered and numbered[-1].sentences else None)
    if fact == "parts":  # 一共有几个部分？ the top-level parts by their titles
        sections = [s for s in document.sections if s.title]
        if not sections:
            return "文件未分部分", None
        titles = "；".join(f"{s.heading.text if s.heading else s.title}" for s in sections)
        return f"分为{len(sections)}个部分：{titles}", sections[0].heading.text if sections[0].heading else None
    if fact == "recipients":
        quote = _preamble_quote(document, lambda t: t.rstrip().endswith(("：", ":")))
        return "主送单位：" + (quote.text.rstrip("：:") if quote else "未列明"), quote.text if quote else None
    if fact == "publicity":
        quote = _preamble_quote(document, lambda t: "公开" in t)
        return (quote.text if quote else "文件未注明公开属性"), quote.text if quote else None
    if fact == "approval":
        quote = _preamble_quote(document, lambda t: "同意" in t or "批准" in t)
        return (quote.text if quote else "文件未说明"), quote.text if quote else None
    title = f"文件标题：《{document.title}》" + (f"，文号{document.doc_number}" if document.doc_number else "")
    quote = _preamble_quote(document, lambda t: document.title[:8] in _squeeze(t))
    return title, quote.text if quote else document.title


def _record_of(document: Document, quote: str | None):
    if not quote:
        return None
    return next((m for m in document.measures for s in m.sentences if s.text == quote), None)


def validity_clause(document: Document) -> Sentence | None:
    """The sentence that says when the document takes effect or ends (本措施自…起施行，试行一年); a trial as a
    term (试行一年, 试行期), not a measure that tries something out (12.试行汽车保税存储)."""
    patterns = (re.compile(r"自.{0,20}起?(?:施行|实施|執行)"),
                re.compile(r"有效期至|[试試]行(?:期|[一二两兩三四五六七八九十\d]+\s*(?:年|个月|個月))"), re.compile(r"有效期"))
    ordered = [*[m for m in document.measures if m.kind == "supplementary"], *reversed(document.measures)]
    for pattern in patterns:  # the clause that sets the date first, then one that sets the term
        for measure in ordered:
            for sentence in measure.sentences:
                if pattern.search(sentence.text):
                    return sentence
        found = _preamble_quote(document, lambda t, p=pattern: p.search(t) is not None)
        if found is not None:
            return found
    return None


def _citation(info: DocInfo, quote: str | None) -> Citation:
    document = info.document
    return Citation(doc_id=document.doc_id, doc_title=document.title, measure_number=None, measure_title="文件信息",
                    section="", departments=[], quote=quote or document.title, score=1.0,
                    doc_number=document.doc_number, doc_short_title=info.short_title,
                    doc_issued_on=document.issued_on, doc_expires_on=document.expires_on)


def _in_language(lines: list[str], asked: Asked) -> list[str]:
    """For a question in English or Korean, a lead line in its language; the facts stay as written."""
    if asked.lang == "zh":
        return lines
    from assistant.language import template

    return [template(asked.lang, "as_written"), *lines]


def answer_docfact(asked: Asked, context: Context) -> AskResponse:
    """Each fact the question asks (``intent.facts``, in their order), for each document in scope."""
    catalog, scope = context.catalog, asked.scope
    facts = asked.intent.facts or (asked.intent.fact or "title",)
    infos = [i for i in catalog.infos if scope.allows(i.doc_id)]
    if not infos:
        return context.refusal(scope, text=scope.uncovered)
    lines, citations = [], []
    if asked.intent.topic and len(infos) > 1:  # 外贸那个文件的文号: the document that is about 外贸
        infos = _on_topic(asked.intent.topic, infos, scope, context)
        lines.append(f"按「{asked.intent.topic}」找到的文件：")
    for info in infos:
        answered = []
        for fact in facts:
            line, quote = _fact(info, fact, context)
            answered.append(line)
            record = _record_of(info.document, quote) if fact in ("validity", "count") else None
            if record is not None and fact == "validity":  # the clause it rests on, e.g. 第十九条 …试行一年
                citations.append(context.cite(Evidence(info.document, record, [], 1.0), quote=quote))
            if not any(c.doc_id == info.doc_id and c.quote == (quote or info.document.title) for c in citations):
                citations.append(_citation(info, quote))
        # with several documents loaded, the one answered for is named even when it is the only one asked
        lines.append((f"{info.name()}：" if len(infos) > 1 or catalog.multi else "") + "；".join(answered) + "。")
    fact = facts[0]
    if fact == "count" and len(infos) > 1 and len(facts) == 1:
        total = sum(len([m for m in i.document.measures if m.number is not None and m.kind == "measure"])
                    for i in infos)
        lines.insert(0, f"{len(infos)}份文件合计{total}条编号措施，分别为：")
    elif len(infos) > 1:
        lines.insert(0, f"未指明文件，以下列出{len(infos)}份文件的情况（可在问题中写明文件名称或地区）：")
    return AskResponse(answer="\n".join(_in_language(lines, asked)), found=True, intent="docfact", citations=citations)


def _on_topic(topic: str, infos: list[DocInfo], scope, context: Context) -> list[DocInfo]:
    """The documents a topic names: those whose title holds it (or the policy word it stands for),
    else the document of the measure that matches it best. ``infos`` when nothing matches."""
    from index.expansion import expansion_terms
    from index.tokenization import normalize_text

    terms = [normalize_text(topic), *(normalize_text(t) for t in expansion_terms(topic).split())]
    titled = [i for i in infos if any(t and t in normalize_text(i.document.title + i.short_title) for t in terms)]
    if titled:
        return titled
    hits = context.search(topic, k=1, scope=scope)
    return [i for i in infos if hits and i.doc_id == hits[0].doc_id] or infos


EXPIRED_ASKED = re.compile(r"过期|失效|到期|废止|作废|expired|no longer valid|만료", re.IGNORECASE)
IN_FORCE_ASKED = re.compile(r"有效期内|现行|有效的|还有效|仍有效|仍然有效|在有效期|生效|still valid|in force|currently valid"
                            r"|유효한", re.IGNORECASE)


def answer_documents(asked: Asked, context: Context) -> AskResponse:
    """有哪些文件 / 最新的文件: the documents in scope with their 文号, dates and validity."""
    catalog, scope = context.catalog, asked.scope
    infos = [i for i in catalog.infos if scope.allows(i.doc_id)]
    heading = "收录的政策文件"
    if scope.places and catalog.gazetteer is not None:  # 台湾地区的法规: the place's own documents, not those above
        own = [i for i in infos if i.place is not None and any(catalog.gazetteer.is_within(i.place, p)
                                                               for p in scope.places)]
        if not own:  # 南京有哪些政策？ with only 江苏's and the State Council's: say so, and list those
            where = "、".join(p.name for p in scope.places)
            heading = f"没有{where}本地的文件；适用于{where}的（上级和国家层面）文件"
        infos = own or infos
    if asked.intent.topic:  # the documents on a topic: by their titles, else by what their records say
        from assistant.handlers.lists import matching_measures
        from index.tokenization import normalize_text

        topic = normalize_text(asked.intent.topic)
        titled = [i for i in infos if topic in normalize_text(i.document.title + i.short_title)]
        about = {d.doc_id for d, _ in matching_measures(asked.intent.topic, scope, context)}
        infos = titled or [i for i in infos if i.doc_id in about]
        if heading == "收录的政策文件":
            heading = f"涉及“{asked.intent.topic}”的文件"
    if not infos:
        return context.refusal(scope, text=scope.uncovered)
    today = _date(context.today.isoformat())
    if EXPIRED_ASKED.search(asked.text):  # 哪些文件已经过期了？
        infos, heading = [i for i in infos if i.expired(context.today)], f"截至{today}已到期的文件"
    elif IN_FORCE_ASKED.search(asked.text):  # 哪些文件还在有效期内？ (no end date written: in force)
        infos, heading = [i for i in infos if not i.expired(context.today)], f"截至{today}仍在有效期内的文件"
    if not infos:
        return AskResponse(answer=f"{heading}：没有。", found=True, intent="documents", citations=[])
    infos.sort(key=lambda i: i.document.issued_on or "", reverse=True)
    lines = [f"{heading}共{len(infos)}份" + ("，按印发日期从新到旧：" if len(infos) > 1 else "：")]
    for n, info in enumerate(infos, start=1):
        document = info.document
        facts = [x for x in (document.doc_number, _date(document.issued_on) if document.issued_on else None,
                             document.issuer) if x]
        state = "（已到期）" if info.expired(context.today) else ""
        lines.append(f"{n}. 《{document.title}》" + ("（" + "，".join(facts) + "）" if facts else "") + state)
    if asked.intent.latest and len(infos) > 1:
        newest = infos[0]
        lines.insert(0, f"最新的是《{newest.document.title}》（{_date(newest.document.issued_on)}印发）。")
    citations = [_citation(i, i.document.title) for i in infos]
    return AskResponse(answer="\n".join(_in_language(lines, asked)), found=True, intent="documents",
                       citations=citations)
