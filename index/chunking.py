"""Chunks: what the index searches.

Two kinds, each pointing back to its document, its measure and the character
offsets of the span it covers:

- a *measure* chunk (number, title, section, full text, departments): context;
- a *sentence* chunk (the measure's title + one sentence): the evidence quoted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

from corpus.records import Document, Measure


@dataclass(frozen=True)
class Chunk:
    chunk_id: int
    doc_id: str
    measure_key: str
    kind: str  # "measure" or "sentence"
    text: str  # what is embedded and tokenized
    quote: str  # what an answer quotes: the sentence itself (measure chunks: the title)
    start: int  # span in the document text
    end: int
    sentence_index: int | None = None  # position in measure.sentences (sentence chunks)

    def to_json(self) -> dict:
        return asdict(self)


def measure_label(measure: Measure) -> str:
    return f"第{measure.number}条" if measure.number is not None else ""


def measure_passage(measure: Measure) -> str:
    """The measure as one passage: number, title, section, text, departments."""
    head = " ".join(part for part in (measure_label(measure), measure.title) if part)
    parts = [head, measure.section if measure.section != measure.title else "", measure.text]
    if measure.departments:
        parts.append("责任单位：" + "、".join(measure.departments))
    return "\n".join(part for part in parts if part)


def _heading(measure: Measure) -> str:
    """An untitled measure's nearest heading, spaces squeezed (第十一条 under 第四章　大病医疗 → 大病医疗): what
    its sentences are about when the article itself names no subject."""
    return "".join(measure.section.split()) if measure.section else ""


def chunk_document(document: Document, first_id: int = 0) -> list[Chunk]:
    chunks: list[Chunk] = []
    for measure in document.measures:
        chunks.append(Chunk(first_id + len(chunks), document.doc_id, measure.key, "measure",
                            measure_passage(measure), measure.title, measure.start, measure.end))
        for index, sentence in enumerate(measure.sentences):
            if sentence.kind != "sentence":
                continue  # the heading is the title; the departments have the measure chunk
            context = measure.title or _heading(measure)
            text = f"{context}：{sentence.text}" if context else sentence.text
            chunks.append(Chunk(first_id + len(chunks), document.doc_id, measure.key, "sentence",
                                text, sentence.text, sentence.start, sentence.end, index))
    return chunks


def chunk_documents(documents: Iterable[Document]) -> list[Chunk]:
    chunks: list[Chunk] = []
    for document in documents:
        chunks.extend(chunk_document(document, first_id=len(chunks)))
    return chunks
