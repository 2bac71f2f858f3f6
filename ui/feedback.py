"""Votes and comments that users leave on answers, kept in a small SQLite file.

One connection per call (sqlite3 connections must not cross threads, and
Gradio runs handlers in a thread pool), WAL mode so that an export can read
while a vote is being written, and a lock so that writers from the same
process queue up instead of failing with "database is locked".
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TextIO

VOTES = ("up", "down")
MAX_COMMENT_CHARS = 2000
COLUMNS = ("id", "created_at", "question", "answer", "citations", "vote", "comment")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    comment TEXT
)
"""


class FeedbackStore:
    """``FeedbackStore(path)`` creates the file and its table on first use."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            with conn:  # commits on success, rolls back on error
                yield conn
        finally:
            conn.close()

    def add(
        self,
        question: str,
        answer: str,
        citations: Sequence[Any],
        vote: str,
        comment: str | None = None,
    ) -> int:
        """Store one vote and return its id.

        ``citations`` may hold dicts or pydantic models (``Citation``); they are
        stored as a JSON array. ``comment`` is stripped, cut to 2000 characters,
        and stored as NULL when empty.
        """
        if vote not in VOTES:
            raise ValueError(f"vote must be 'up' or 'down', got {vote!r}")
        if comment is not None:
            comment = comment.strip()[:MAX_COMMENT_CHARS] or None
        citations_json = json.dumps(
            [c.model_dump() if hasattr(c, "model_dump") else c for c in citations],
            ensure_ascii=False,
        )
        created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock, self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO feedback (created_at, question, answer, citations, vote, comment)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (created_at, question, answer, citations_json, vote, comment),
            )
            return int(cursor.lastrowid)

    def rows(self) -> list[dict]:
        """Every row, oldest first; ``citations`` is decoded back to a list."""
        with self._connect() as conn:
            records = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id").fetchall()
        rows = [dict(r) for r in records]
        for row in rows:
            row["citations"] = json.loads(row["citations"])
        return rows

    def export(self, out: str | Path | TextIO, format: Literal["csv", "jsonl"] = "csv") -> int:
        """Write every row to ``out`` and return how many were written.

        ``out`` is a path (written as UTF-8) or an open text file such as sys.stdout
        (open it with newline="" for csv).
        csv: a header row, then one row per vote, ``citations`` as a JSON string.
        jsonl: one JSON object per line, ``citations`` as a JSON array.
        """
        if format not in ("csv", "jsonl"):
            raise ValueError(f"format must be 'csv' or 'jsonl', got {format!r}")
        rows = self.rows()
        if hasattr(out, "write"):
            self._write(out, rows, format)
            return len(rows)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as f:
            self._write(f, rows, format)
        return len(rows)

    @staticmethod
    def _write(f: TextIO, rows: list[dict], format: str) -> None:
        if format == "csv":
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "citations": json.dumps(row["citations"], ensure_ascii=False)})
        else:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
