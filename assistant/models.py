"""The JSON shapes of the public API (see docs/architecture.md, "Public contracts").

These pydantic models are the contract between the answering code, the HTTP
routes, the CLI's --json output and the UI. Field names are stable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_QUESTION_CHARS = 500
MAX_HISTORY_TURNS = 20


class Citation(BaseModel):
    doc_id: str
    doc_title: str
    measure_number: int | None  # null for unnumbered sections such as 保障措施
    measure_title: str
    section: str
    departments: list[str]
    quote: str
    score: float


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=4000)


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


class SentenceOut(BaseModel):
    start: int
    end: int
    text: str
    kind: str


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


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    doc_number: str | None
    issued_on: str | None
    issuer: str | None
    source: str
    measures: list[MeasureOut]


class MeasuresResponse(BaseModel):
    documents: list[DocumentOut]


class MeasureRef(BaseModel):
    doc_id: str
    number: int | None
    title: str


class DepartmentOut(BaseModel):
    name: str
    measures: list[MeasureRef]


class DepartmentsResponse(BaseModel):
    departments: list[DepartmentOut]


class HealthResponse(BaseModel):
    status: Literal["ok"]
    index_version: str
    documents: int
    chunks: int
