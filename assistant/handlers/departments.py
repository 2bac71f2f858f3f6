"""What a department answers for: the complete list, never cut at top-k, grouped by document.

A short form means each document's own unit (工信局 is 郑州's 市工业和信息化局 in a 郑州
document); units of different levels stay apart (省财政厅 ≠ 市财政局).
"""

from __future__ import annotations

from assistant import answers
from assistant.answers import Evidence
from assistant.handlers.base import Asked, Context, department_sentence
from assistant.models import AskResponse
from corpus.records import Measure

ROLE_WORDS = {"lead": "牵头", "cooperate": "配合"}


def role_of(measure: Measure, name: str) -> str:
    role = next((r.role for r in measure.roles if r.name == name), "responsible")
    if role in ROLE_WORDS:
        return ROLE_WORDS[role]
    return "负责" if measure.departments == [name] else "按职责分工负责"


def answer_department(asked: Asked, context: Context) -> AskResponse:
    catalog, scope, namer = context.catalog, asked.scope, context.namer
    allowed = None if scope.everything else set(scope.doc_ids)
    per_document = catalog.departments_in(asked.text, allowed)
    if not per_document and asked.intent.departments:
        per_document = {d.doc_id: [n for n in asked.intent.departments if n in {x for m in d.measures
                                                                                 for x in m.departments}]
                        for d in catalog.documents if allowed is None or d.doc_id in allowed}
        per_document = {k: v for k, v in per_document.items() if v}
    if not per_document:
        names = "、".join(asked.intent.departments) or "该部门"
        where = "所问文件中" if not scope.everything else "已收录的文件中"
        return AskResponse(answer=f"{where}没有由{names}负责或参与的措施。", found=False, intent="department",
                           citations=[])
    lines: list[str] = []
    citations = []
    total = 0
    for info in catalog.infos:
        names = per_document.get(info.doc_id)
        if not names:
            continue
        document = info.document
        for name in names:
            mine = [m for m in document.measures if name in m.departments]
            total += len(mine)
            prefix = namer.document(document) if catalog.multi else ""
            lines.append(f"{prefix}{name}负责或参与的措施共{len(mine)}项：")
            for i, measure in enumerate(mine, start=1):
                lines.append(f"{i}. {namer.measure(document, measure, with_document=False)}（{role_of(measure, name)}）")
                sentence = department_sentence(measure)
                quote = sentence.text if sentence else answers.departments_text(measure)
                citations.append(context.cite(Evidence(document, measure, [], 1.0), quote=quote))
    blocks = sum(len(v) for v in per_document.values())
    if blocks > 1:
        lines.insert(0, f"共{len(citations)}项，按{'文件和' if catalog.multi else ''}部门列出：")
    return AskResponse(answer="\n".join(lines), found=True, intent="department", citations=citations)
