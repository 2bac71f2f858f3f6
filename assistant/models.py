"""The JSON shapes of the public API (see docs/architecture.md, "Public contracts").

These pydantic models are the contract between the answering code, the HTTP
routes, the CLI's --json output and the UI. Field names are stable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

MAX_QUESTION_CHARS = 500
MAX_HISTORY_TURNS = 20
MAX_ASSISTANT_TURN_CHARS = 1500  # longer assistant turns are cut to head + "…" + tail (Turn)
ASSISTANT_TURN_HEAD = 1200
MAX_TURN_CITATIONS = 50


class Citation(BaseModel):
    doc_id: str
    doc_title: str
    measure_number: int | None  # null for unnumbered sections such as 保障措施
    measure_title: str
    section: str
    departments: list[str]
    quote: str
    score: float
    measure_key: str | None = None  # unique in the document ("9", "2.1", "r22"): GET /api/measures/{doc_id}/{key}
    measure_label: str | None = None  # the label as written: "9.", "（一）", "第五条"
    key: str | None = None  # the same as measure_key
    label: str | None = None  # the same as measure_label
    doc_number: str | None = None  # the document's 文号
    doc_short_title: str | None = None  # 罗湖区OPC若干措施: how answers name the document
    doc_issued_on: str | None = None  # ISO date
    doc_expires_on: str | None = None  # ISO date when its validity ends, else null


class TurnCitation(BaseModel):
    """A record an earlier answer cited: its document and its key (``Citation.measure_key``)."""

    model_config = ConfigDict(extra="forbid")
    doc_id: str = Field(max_length=200)
    key: str = Field(max_length=50)


class Turn(BaseModel):
    """One earlier turn of the conversation.

    A user turn is at most MAX_QUESTION_CHARS (500) characters, like a question: a longer one is
    a 422. An assistant turn longer than MAX_ASSISTANT_TURN_CHARS (1,500) is cut, not refused: it
    keeps its first ASSISTANT_TURN_HEAD (1,200) characters, where an answer names its measures and
    documents, and its last ones, joined by "…". ``citations`` (assistant turns, at most 50): the
    records that answer cited, so a follow-up can find them without reading the text.
    """

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str
    citations: list[TurnCitation] | None = Field(default=None, max_length=MAX_TURN_CITATIONS)

    @field_validator("content")
    @classmethod
    def _bounded(cls, content: str, info: ValidationInfo) -> str:
        role = info.data.get("role")
        if role == "user" and len(content) > MAX_QUESTION_CHARS:
            raise PydanticCustomError(
                "user_turn_too_long", "a user turn is at most {limit} characters, like a question (this one has {length})",
                {"limit": MAX_QUESTION_CHARS, "length": len(content)})
        if role == "assistant" and len(content) > MAX_ASSISTANT_TURN_CHARS:
            tail = MAX_ASSISTANT_TURN_CHARS - ASSISTANT_TURN_HEAD - 1
            return content[:ASSISTANT_TURN_HEAD] + "…" + content[-tail:]
        return content


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
    top_k: int | None = Field(default=None, ge=1, le=50)


class AskResponse(BaseModel):
    answer: str
    found: bool
    intent: str  # measure | department | list | docfact | search | followup | refusal
    citations: list[Citation]
    answer_source: Literal["extractive", "llm"] = "extractive"


class SearchResponse(BaseModel):
    hits: list[Citation]


class TargetOut(BaseModel):
    value: float
    value_text: str
    unit: str
    phrase: str
    qualifier: str | None
    text: str
    kind: Literal["target", "cap", "rate", "threshold", "duration", "amount"] = "target"
    per: str | None = None  # the basis of a per-unit amount: 每人每月, 亩


class RoleOut(BaseModel):
    name: str
    role: Literal["lead", "cooperate", "responsible"]  # 牵头 / 配合 / 负责


class SentenceOut(BaseModel):
    start: int
    end: int
    text: str
    kind: str
    departments: list[str] = Field(default_factory=list)  # the units whose marker covers this sentence


class MeasureOut(BaseModel):
    doc_id: str
    number: int | None
    title: str
    section: str
    text: str
    departments: list[str]
    responsibility: str | None
    departments_text: str | None
    targets: list[TargetOut]
    sentences: list[SentenceOut]
    key: str = ""  # unique in the document: "9", "2.1" (二、（一）), "r22" (an unnumbered record)
    label: str | None = None  # as written: "9.", "（一）", "第五条"
    path: list[str] = Field(default_factory=list)  # the headings above it, as written
    roles: list[RoleOut] = Field(default_factory=list)  # departments with their role
    kind: Literal["measure", "text", "supplementary"] = "measure"


class NoticeOut(BaseModel):
    title: str
    text: str


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    doc_number: str | None
    issued_on: str | None
    issuer: str | None
    source: str
    short_title: str | None = None  # 罗湖区OPC若干措施: how answers name it
    measures: list[MeasureOut]
    effective_on: str | None = None  # ISO date: 自…起施行
    expires_on: str | None = None  # ISO date: 有效期至…, 试行一年
    notice: NoticeOut | None = None  # the 关于印发…的通知 that carries the plan
    place: str | None = None  # where it applies: 威海市, 广州市海珠区, 全国
    level: str | None = None  # national | province | city | district | county


class MeasuresResponse(BaseModel):
    documents: list[DocumentOut]


class MeasureRef(BaseModel):
    doc_id: str
    number: int | None
    title: str
    key: str | None = None
    label: str | None = None


class DepartmentOut(BaseModel):
    name: str
    measures: list[MeasureRef]


class DepartmentsResponse(BaseModel):
    departments: list[DepartmentOut]


class HealthResponse(BaseModel):
    status: Literal["ok"]
    index_version: str  # the live index version (changes when a rebuild switches to a new one)
    documents: int
    chunks: int
    rebuild: Literal["idle", "pending", "running"] = "idle"  # pending: changes settling or waiting for a rebuild
    watching: bool = False  # the corpus folder is watched (off with POLICYQA_WATCH=0)
    last_rebuild_error: str | None = None  # why the last rebuild failed (the old index kept serving), else null
    search_backend: Literal["inprocess", "milvus"] = "inprocess"  # what answers search through (POLICYQA_SEARCH)
    milvus_uri: str | None = None  # the Milvus searched (POLICYQA_MILVUS_URI without credentials or query), else null
