"""A hand-made stand-in for the answering engine, for the fast UI tests (tests/test_ui.py).

Four measures copied from the Weihai plan (第9条, 第14条, 第15条 and the unnumbered
保障措施) behind the interface the UI uses (ui.app.Assistant), with the real
engine's signatures and answer shapes (assistant.service.PolicyAssistant):
ask / lookup / documents / departments / measure(doc_id, key), where key is the
number or, for an unnumbered measure, its title, and an unknown one raises
assistant.errors.NotFound.

Like the real engine, the fake answers a follow-up (这条由哪个部门负责？) from the
measures named in the last answer of the history it is given, so a test can see
that the UI passes the conversation along. The browser tests use the real engine.
"""

from __future__ import annotations

import re
import threading

from assistant.errors import NotFound
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

# number, title, section, text, departments, targets (phrase, value, unit, text), keywords
_RAW = [
    (
        9,
        "加力推进智改数转网联",
        "促进实数深度融合，赋能行业数智化转型",
        "加力推进智改数转网联。构建智能制造梯度培育体系，引导企业加快推进智能制造，力争培育2家卓越级智能工厂、"
        "5家先进级智能工厂。推动工业互联网创新发展，做好制造业数字化转型“揭榜挂帅”试点项目跟踪管理，打造省级以上工业"
        "互联网平台、场景等10个以上。扎实推进省级中小企业数字化转型引导区建设，优选一批“小快轻准”产品和解决方案，打造"
        "数字改造区域样板，力争规上工业企业数字化转型覆盖率达到98%。加快乳山市县域数字农业发展县建设，培育智慧农业应用"
        "场景6个。（市工业和信息化局、农业农村局按职责分工负责）",
        ["市工业和信息化局", "市农业农村局"],
        [("培育2家卓越级智能工厂、5家先进级智能工厂", 2, "家", "2家"),
         ("培育2家卓越级智能工厂、5家先进级智能工厂", 5, "家", "5家"),
         ("规上工业企业数字化转型覆盖率达到98%", 98, "%", "98%")],
        ("智能工厂", "智能制造", "数字化", "智改数转"),
    ),
    (
        14,
        "强化金融助力",
        "优化协同推进机制，提升产业综合竞争力",
        "强化金融助力。深化国家产融合作试点城市建设，梳理企业项目建设融资需求，加力推广“绿色工厂贷”等金融产品，加大"
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
        "优化协同推进机制，提升产业综合竞争力",
        "强化人才支撑。实施产业人才“领题攻坚”行动，优化新时代英才工程政策体系，新增国家和省级产业类高层次人才 30 人。"
        "按照“产业链上聚人才”思路，持续培育人才引领型企业，布局公共实训项目，进一步健全产业人才梯队。承办“海创人才齐鲁行”"
        "等活动，吸引海外创业人才走进威海。举办“技能兴威”职业技能大赛，设立 5 家威海市技能大师工作室，推广“引校进厂、引厂"
        "入校”等校企深度融合模式。组建技工教育联盟，年内开设订单班 70 个，推行“岗位需要 + 技能培训 + 技能评价 + 就业服务”"
        "项目化培训模式，开展职业技能培训 2.4 万人次。（市委组织部，市科技局、工业和信息化局、人力资源社会保障局按职责分工负责）",
        ["市委组织部", "市科技局", "市工业和信息化局", "市人力资源社会保障局"],
        [("新增国家和省级产业类高层次人才 30 人", 30, "人", "30 人"),
         ("开展职业技能培训 2.4 万人次", 2.4, "万人次", "2.4 万人次")],
        ("人才", "技工", "工人", "技能", "招工", "招不到"),
    ),
    (
        None,
        "保障措施",
        "保障措施",
        "完善“总链长+链长+链主”推进体系，强化跨部门协同联动，推动全市工业经济高质量发展。研究制定新一轮先进制造业扶持政策，"
        "为产业升级和企业发展加油助力。压实企业安全生产主体责任，从严从细排查整治各类安全风险隐患，提升企业本质安全水平。"
        "（市工业和信息化局、司法局、应急局按职责分工负责）",
        ["市工业和信息化局", "市司法局", "市应急局"],
        [],
        ("保障", "安全生产"),
    ),
]

_DEPARTMENT_ALIASES = {"工信局": "市工业和信息化局", "财政局": "市财政局", "科技局": "市科技局", "人行": "人民银行威海市分行"}
_FOLLOW_UP = re.compile(r"这条|这项|该条|哪个部门|谁负责|牵头")
_MEASURE_MENTION = re.compile(r"第(\d+)条")


def _sentences(text: str) -> list[SentenceOut]:
    out = []
    for match in re.finditer(r"[^。（(]+。|[（(][^）)]*[）)]", text):
        part = match.group()
        kind = "departments" if part[0] in "（(" else ("heading" if not out else "sentence")
        out.append(SentenceOut(start=match.start(), end=match.end(), text=part.strip(), kind=kind))
    return out


def _measure(number, title, section, text, departments, targets) -> MeasureOut:
    paren = re.search(r"[（(]([^）)]*)[）)]$", text).group(1)
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
            TargetOut(value=v, value_text=f"{v:g}", unit=u, phrase=p, qualifier=None, text=t) for p, v, u, t in targets
        ],
        sentences=_sentences(text),
    )


def _name(m: MeasureOut) -> str:
    return f"第{m.number}条「{m.title}」" if m.number is not None else f"「{m.title}」"


class FakeAssistant:
    def __init__(self):
        self.measures = [_measure(*raw[:6]) for raw in _RAW]
        self._keywords = {raw[1]: raw[6] for raw in _RAW}
        self.calls: list[tuple[str, list[dict] | None]] = []  # every ask(), for tests to inspect
        self._lock = threading.Lock()

    # --- the interface the UI uses (ui.app.Assistant) -------------------------------

    def ask(self, question: str, history: list[dict] | None = None, top_k: int | None = None) -> AskResponse:
        with self._lock:
            self.calls.append((question, [dict(t) for t in history] if history is not None else None))

        department = next((full for short, full in _DEPARTMENT_ALIASES.items() if short in question), None)
        if department and "负责" in question:
            mine = [m for m in self.measures if department in m.departments]
            lines = [f"{department}负责或参与的措施共{len(mine)}项："]
            lines += [f"{i}. {_name(m)}（按职责分工负责）" for i, m in enumerate(mine, start=1)]
            citations = [self._citation(m, f"（{m.departments_text}）") for m in mine]
            return AskResponse(answer="\n".join(lines), found=True, intent="department", citations=citations)

        context = self._last_answer_measures(history)
        if context and _FOLLOW_UP.search(question):
            names = list(dict.fromkeys(d for m in context for d in m.departments))
            answer = f"{'、'.join(_name(m) for m in context)}的责任单位：{'、'.join(names)}。"
            citations = [self._citation(m, f"（{m.departments_text}）") for m in context]
            return AskResponse(answer=answer, found=True, intent="followup", citations=citations)

        matches = [m for m in self.measures if any(k in question for k in self._keywords[m.title])]
        if matches:
            blocks, citations = [], []
            for m in matches:
                quotes = [s.text for s in m.sentences if s.kind == "sentence"][:2]
                blocks.append(f"{_name(m)}（责任单位：{'、'.join(m.departments)}）：\n" + "\n".join(f"“{q}”" for q in quotes))
                citations.append(self._citation(m, "".join(quotes)))
            answer = "根据" + blocks[0] if len(blocks) == 1 else "\n".join(f"{i}. {b}" for i, b in enumerate(blocks, 1))
            return AskResponse(answer=answer, found=True, intent="search", citations=citations)

        return AskResponse(
            answer=f"抱歉，已收录的政策文件中没有找到与这个问题相关的内容，无法据此回答。目前收录的是《{DOC_TITLE}》。",
            found=False,
            intent="refusal",
            citations=[],
        )

    def lookup(self, query: str) -> list[MeasureOut]:
        query = query.strip()
        return [m for m in self.measures if query and (query in m.title or query in m.text)]

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

    def measure(self, doc_id: str, key: str | int) -> MeasureOut:
        key = str(key)
        for m in self.measures:
            if m.doc_id == doc_id and (str(m.number) == key or m.title == key):
                return m
        raise NotFound(f"no measure {key!r} in {doc_id}")

    def departments(self) -> list[DepartmentOut]:
        by_name: dict[str, list[MeasureRef]] = {}
        for m in self.measures:
            for name in m.departments:
                by_name.setdefault(name, []).append(MeasureRef(doc_id=m.doc_id, number=m.number, title=m.title))
        ordered = sorted(by_name.items(), key=lambda item: (-len(item[1]), item[0]))
        return [DepartmentOut(name=name, measures=refs) for name, refs in ordered]

    # --- internals -------------------------------------------------------------------

    def _citation(self, m: MeasureOut, quote: str) -> Citation:
        return Citation(doc_id=m.doc_id, doc_title=DOC_TITLE, measure_number=m.number, measure_title=m.title,
                        section=m.section, departments=m.departments, quote=quote, score=1.0,
                        measure_key=m.key or (str(m.number) if m.number is not None else None), measure_label=m.label)

    def _last_answer_measures(self, history: list[dict] | None) -> list[MeasureOut]:
        for turn in reversed(history or []):
            if turn.get("role") == "assistant":
                numbers = {int(n) for n in _MEASURE_MENTION.findall(turn.get("content", ""))}
                return [m for m in self.measures if m.number in numbers]
        return []
