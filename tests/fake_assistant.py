"""A hand-made stand-in for the answering engine, so the UI can be built and tested now.

Three measures copied from the Weihai plan (第9条, 第14条, 第15条) and the same
duck-typed interface the real assistant offers to the UI:
ask / lookup / documents / measure / departments.

The fake answers a follow-up from the history it is given ("接上一问：…"), so a
test can see that the UI passes the conversation along.
"""

from __future__ import annotations

import re
import threading

from assistant.models import (
    AskResponse,
    Citation,
    DepartmentOut,
    DocumentOut,
    MeasureOut,
    MeasureRef,
    SentenceOut,
    TargetOut,
)

DOC_ID = "weihai-2026-industrial-action-plan"
DOC_TITLE = "威海市大力实施工业经济“头号工程”2026年行动方案"

_RAW = [
    (
        9,
        "加力推进智改数转网联",
        "三、促进实数深度融合，赋能行业数智化转型",
        "9. 加力推进智改数转网联。构建智能制造梯度培育体系，引导企业加快推进智能制造，力争培育2家卓越级智能工厂、"
        "5家先进级智能工厂。推动工业互联网创新发展，做好制造业数字化转型“揭榜挂帅”试点项目跟踪管理，打造省级以上工业"
        "互联网平台、场景等10个以上。扎实推进省级中小企业数字化转型引导区建设，优选一批“小快轻准”产品和解决方案，打造"
        "数字改造区域样板，力争规上工业企业数字化转型覆盖率达到98%。加快乳山市县域数字农业发展县建设，培育智慧农业应用"
        "场景6个。（市工业和信息化局、农业农村局按职责分工负责）",
        ["市工业和信息化局", "市农业农村局"],
        [("培育卓越级智能工厂", 2, "2", "家", None, "2家"), ("规上工业企业数字化转型覆盖率", 98, "98", "%", None, "98%")],
        ("智能工厂", "智能制造", "数字化", "智改数转"),
    ),
    (
        14,
        "强化金融助力",
        "四、优化协同推进机制，提升产业综合竞争力",
        "14. 强化金融助力。深化国家产融合作试点城市建设，梳理企业项目建设融资需求，加力推广“绿色工厂贷”等金融产品，加大"
        "科技创新、先进制造、绿色低碳等领域支持力度。开展“金融直达基层加速跑”活动，及时向金融机构推送融资需求。发挥再贷款"
        "牵引带动作用，推动金融机构建立再贷款使用与小微民营信贷投放正反馈机制，扩大首贷、续贷、信用贷、中长期贷款覆盖面，争取"
        " 2026 年小微民营企业贷款余额保持合理增长。(市工业和信息化局、财政局，人民银行威海市分行按职责分工负责)",
        ["市工业和信息化局", "市财政局", "人民银行威海市分行"],
        [],
        ("贷款", "融资", "金融", "贷"),
    ),
    (
        15,
        "强化人才支撑",
        "四、优化协同推进机制，提升产业综合竞争力",
        "15. 强化人才支撑。实施产业人才“领题攻坚”行动，优化新时代英才工程政策体系，新增国家和省级产业类高层次人才 30 人。"
        "按照“产业链上聚人才”思路，持续培育人才引领型企业，布局公共实训项目，进一步健全产业人才梯队。承办“海创人才齐鲁行”"
        "等活动，吸引海外创业人才走进威海。举办“技能兴威”职业技能大赛，设立 5 家威海市技能大师工作室，推广“引校进厂、引厂"
        "入校”等校企深度融合模式。组建技工教育联盟，年内开设订单班 70 个，推行“岗位需要 + 技能培训 + 技能评价 + 就业服务”"
        "项目化培训模式，开展职业技能培训 2.4 万人次。（市委组织部，市科技局、工业和信息化局、人力资源社会保障局按职责分工负责）",
        ["市委组织部", "市科技局", "市工业和信息化局", "市人力资源社会保障局"],
        [("新增高层次人才", 30, "30", "人", None, "30 人"), ("职业技能培训", 2.4, "2.4", "万人次", None, "2.4 万人次")],
        ("人才", "技工", "工人", "技能", "招工", "招不到"),
    ),
]

_FOLLOW_UP_WORDS = ("牵头", "部门", "单位", "谁", "这条", "那")
_DEPARTMENT_ALIASES = {"工信局": "市工业和信息化局", "财政局": "市财政局", "科技局": "市科技局", "人行": "人民银行威海市分行"}


def _sentences(text: str) -> list[SentenceOut]:
    out = []
    for match in re.finditer(r"[^。（(]+。|[（(][^）)]*[）)]", text):
        part = match.group()
        kind = "departments" if part[0] in "（(" else ("heading" if not out else "sentence")
        out.append(SentenceOut(start=match.start(), end=match.end(), text=part.strip(), kind=kind))
    return out


def _measure(number, title, section, text, departments, targets) -> MeasureOut:
    paren = re.search(r"[（(][^）)]*[）)]$", text).group()
    return MeasureOut(
        doc_id=DOC_ID,
        number=number,
        title=title,
        section=section,
        text=text,
        departments=departments,
        responsibility="按职责分工负责",
        departments_text=paren,
        targets=[
            TargetOut(value=v, value_text=vt, unit=u, phrase=p, qualifier=q, text=t) for p, v, vt, u, q, t in targets
        ],
        sentences=_sentences(text),
    )


class FakeAssistant:
    def __init__(self):
        self.measures = [_measure(*raw[:6]) for raw in _RAW]
        self._keywords = {raw[0]: raw[6] for raw in _RAW}
        self.calls: list[tuple[str, list[dict] | None]] = []  # every ask(), for tests to inspect
        self._lock = threading.Lock()

    # --- the interface the UI uses -------------------------------------------------

    def ask(self, question: str, history: list[dict] | None = None) -> AskResponse:
        with self._lock:
            self.calls.append((question, [dict(t) for t in history] if history is not None else None))

        department = next((full for short, full in _DEPARTMENT_ALIASES.items() if short in question), None)
        if department and "负责" in question:
            matches = [m for m in self.measures if department in m.departments]
            numbers = "、".join(f"第{m.number}条" for m in matches)
            return self._response(
                f"{department}负责以下 {len(matches)} 条措施：{numbers}。", "department", matches, quotes_per_measure=1
            )

        matches = self._match(question)
        if matches:
            titles = "；".join(f"第{m.number}条「{m.title}」" for m in matches)
            return self._response(f"相关措施：{titles}。", "search", matches)

        previous = self._previous_question(history)
        if previous and self._match(previous) and any(w in question for w in _FOLLOW_UP_WORDS):
            matches = self._match(previous)
            return self._response(
                f"接上一问「{previous}」：相关措施由{'、'.join(matches[0].departments)}负责。",
                "followup",
                matches,
            )

        return AskResponse(
            answer=f"抱歉，现有政策文件中没有找到与「{question}」相关的内容。本系统覆盖《{DOC_TITLE}》的各项措施。",
            found=False,
            intent="refusal",
            citations=[],
        )

    def lookup(self, query: str) -> list[MeasureOut]:
        query = query.strip()
        if not query:
            return []
        department = _DEPARTMENT_ALIASES.get(query, query)
        return [
            m
            for m in self.measures
            if query in m.title or query in m.text or query in m.section or department in m.departments
        ]

    def documents(self) -> list[DocumentOut]:
        return [
            DocumentOut(
                doc_id=DOC_ID,
                title=DOC_TITLE,
                doc_number="威政办字〔2026〕10号",
                issued_on="2026-05-16",
                issuer="威海市人民政府办公室",
                source="weihai-2026-industrial-action-plan.txt",
                measures=list(self.measures),
            )
        ]

    def measure(self, doc_id: str, number: int | None, section: str | None = None) -> MeasureOut:
        for m in self.measures:
            if m.doc_id == doc_id and m.number == number and (number is not None or m.section == section):
                return m
        raise KeyError(f"no measure {number!r} (section {section!r}) in document {doc_id!r}")

    def departments(self) -> list[DepartmentOut]:
        by_name: dict[str, list[MeasureRef]] = {}
        for m in self.measures:
            for name in m.departments:
                by_name.setdefault(name, []).append(MeasureRef(doc_id=m.doc_id, number=m.number, title=m.title))
        return [DepartmentOut(name=name, measures=refs) for name, refs in by_name.items()]

    # --- internals -------------------------------------------------------------------

    def _match(self, text: str) -> list[MeasureOut]:
        return [m for m in self.measures if any(k in text for k in self._keywords[m.number])]

    @staticmethod
    def _previous_question(history: list[dict] | None) -> str | None:
        for turn in reversed(history or []):
            if turn.get("role") == "user":
                return turn.get("content")
        return None

    def _response(self, answer: str, intent: str, matches: list[MeasureOut], quotes_per_measure: int = 2) -> AskResponse:
        citations = []
        for rank, m in enumerate(matches):
            quotes = [s for s in m.sentences if s.kind == "sentence"]
            for sentence in quotes[:quotes_per_measure]:
                citations.append(
                    Citation(
                        doc_id=m.doc_id,
                        doc_title=DOC_TITLE,
                        measure_number=m.number,
                        measure_title=m.title,
                        section=m.section,
                        departments=m.departments,
                        quote=sentence.text,
                        score=round(1.0 - 0.1 * rank, 2),
                    )
                )
        return AskResponse(answer=answer, found=True, intent=intent, citations=citations)
