"""Policy documents and the code that parses them into structured records.

``corpus`` imports nothing from the other packages of the project.
"""

from corpus.errors import CorpusError, CorpusNotFoundError, DocumentReadError
from corpus.records import Document, Measure, Section, Sentence, Target

__all__ = [
    "CorpusError", "CorpusNotFoundError", "DocumentReadError",
    "Document", "Measure", "Section", "Sentence", "Target",
]
