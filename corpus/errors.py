"""Errors raised while reading and parsing policy documents.

Every message names the file and says what was wrong; the edges (CLI, HTTP)
show the message as is, never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class CorpusError(Exception):
    """Base class for everything the corpus package raises on purpose."""


class DocumentReadError(CorpusError):
    """A file could not be turned into text (empty, binary, undecodable, ...)."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path.name}: {problem}")


class CorpusNotFoundError(CorpusError):
    """The corpus folder is missing or holds no readable document."""
