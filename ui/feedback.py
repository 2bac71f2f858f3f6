"""Votes and comments that users leave on answers, kept in a small SQLite file.

One connection per call (sqlite3 connections must not cross threads, and
Gradio runs handlers in a thread pool), WAL mode so that an export can read
while a vote is being written, and a lock so that writers from the same
process queue up instead of failing with "database is locked".

One vote per answer: the UI gives each answer an ``answer_id``, a unique index
holds it, and ``INSERT … ON CONFLICT DO NOTHING`` keeps the first vote however
many arrive at once. A file that is not a usable feedback database never stops
the service: ``FeedbackStore.open_or_disable`` moves a corrupt one aside and
returns None (feedback off), with one warning.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TextIO

VOTES = ("up", "down")
MAX_COMMENT_CHARS = 2000
COLUMNS = ("id", "created_at", "question", "answer", "citations", "vote", "comment")
OPEN_TIMEOUT_S = 2.0  # how long a start waits for a database that another process has locked
WRITE_TIMEOUT_S = 10.0
# OWASP "CSV injection": a cell starting with one of these is read as a formula by spreadsheets
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# sqlite error names (sqlite3.Error.sqlite_errorname) that mean the file's content is not a database
CORRUPT_ERRORS = {"SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_FORMAT"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    comment TEXT,
    answer_id TEXT
)
"""
_UNIQUE_ANSWER = "CREATE UNIQUE INDEX IF NOT EXISTS feedback_answer_id ON feedback(answer_id)"


class FeedbackUnavailable(Exception):
    """The feedback file cannot be used. ``corrupt``: its content is not a feedback database
    (it may be moved aside); otherwise it is unreadable, read-only or locked (left alone)."""

    def __init__(self, message: str, corrupt: bool = False):
        super().__init__(message)
        self.corrupt = corrupt


def neutralize_formula(value: Any) -> Any:
    """A string cell that a spreadsheet would run as a formula (starts with = + - @, tab or CR)
    gets a leading apostrophe, as OWASP recommends; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _error_name(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


class FeedbackStore:
    """``FeedbackStore(path)`` creates the file and its table on first use, and checks an existing
    one (``PRAGMA quick_check`` and the table's columns). Raises ``FeedbackUnavailable`` when the
    file cannot be used; ``open_or_disable`` turns that into one warning and None."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeedbackUnavailable(f"cannot create the folder {self.path.parent}: {exc.strerror}") from exc
        if self.path.is_dir():
            raise FeedbackUnavailable(f"{self.path} is a directory, not a database file", corrupt=True)
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise FeedbackUnavailable(f"{self.path} is not readable and writable by this user")
        try:
            self._prepare()
        except sqlite3.Error as exc:
            name = _error_name(exc)
            if name in CORRUPT_ERRORS:
                raise FeedbackUnavailable(f"{self.path} is not a valid SQLite database ({exc})", corrupt=True) from exc
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                raise FeedbackUnavailable(f"{self.path} is locked by another process ({exc})") from exc
            raise FeedbackUnavailable(f"{self.path} cannot be used ({exc})") from exc

    def _prepare(self) -> None:
        with self._connect(timeout=OPEN_TIMEOUT_S) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise FeedbackUnavailable(f"{self.path} is damaged (quick_check: {check[0] if check else '?'})",
                                          corrupt=True)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            tables.discard("sqlite_sequence")
            if tables and "feedback" not in tables:
                raise FeedbackUnavailable(f"{self.path} holds other tables ({', '.join(sorted(tables))}), "
                                          "not feedback", corrupt=True)
            if "feedback" in tables:
                columns = {r[1] for r in conn.execute("PRAGMA table_info(feedback)")}
                missing = [c for c in COLUMNS if c not in columns]
                if missing:
                    raise FeedbackUnavailable(f"{self.path} has a feedback table without the columns "
                                              f"{', '.join(missing)}", corrupt=True)
                if "answer_id" not in columns:  # a file from before one-vote-per-answer
                    conn.execute("ALTER TABLE feedback ADD COLUMN answer_id TEXT")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            conn.execute(_UNIQUE_ANSWER)

    @classmethod
    def open_or_disable(cls, path: str | Path, warn: Callable[[str], None]) -> FeedbackStore | None:
        """The store, or None (feedback off) after one ``warn(message)`` when the file cannot be used.

        A corrupt file (not a database, damaged, other tables, a directory) is renamed to
        ``NAME.bad-YYYYmmddTHHMMSS`` (with its -wal and -shm files), so the next start begins a new
        one; an unreadable, read-only or locked file is left where it is."""
        try:
            return cls(path)
        except FeedbackUnavailable as exc:
            if not exc.corrupt:
                warn(f"feedback is off: {exc}; fix the file's permissions or lock and restart")
                return None
            path = Path(path)
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
            moved = path.with_name(f"{path.name}.bad-{stamp}")
            try:
                path.rename(moved)
                for suffix in ("-wal", "-shm"):
                    side = path.with_name(path.name + suffix)
                    if side.exists():
                        side.rename(moved.with_name(moved.name + suffix))
            except OSError as move_error:
                warn(f"feedback is off: {exc}; it could not be moved aside ({move_error.strerror}): "
                     "move or delete it and restart")
                return None
            warn(f"feedback is off: {exc}; moved it to {moved}; the next start begins a new feedback file")
            return None

    @contextmanager
    def _connect(self, timeout: float = WRITE_TIMEOUT_S) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=timeout)
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
        answer_id: str | None = None,
    ) -> int:
        """Store one vote and return its row id.

        ``citations`` may hold dicts or pydantic models (``Citation``); they are
        stored as a JSON array. ``comment`` is stripped, cut to 2000 characters,
        and stored as NULL when empty. ``answer_id`` names the answer voted on:
        the first vote for it is kept and later ones return the same row id
        (None: a new id, so every call stores a row). Raises ValueError for a
        bad vote, FeedbackUnavailable when the file cannot be written.
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
        answer_id = answer_id or uuid.uuid4().hex
        try:
            with self._lock, self._connect() as conn:
                conn.execute(
                    "INSERT INTO feedback (created_at, question, answer, citations, vote, comment, answer_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (answer_id) DO NOTHING",
                    (created_at, question, answer, citations_json, vote, comment, answer_id),
                )
                return int(conn.execute("SELECT id FROM feedback WHERE answer_id = ?", (answer_id,)).fetchone()[0])
        except sqlite3.Error as exc:
            raise FeedbackUnavailable(f"the vote could not be stored in {self.path} ({exc})") from exc

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
        csv: a header row, then one row per vote, ``citations`` as a JSON string; a text
        cell that starts with = + - @, tab or CR gets a leading ' (not run as a formula).
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
                cells = {**row, "citations": json.dumps(row["citations"], ensure_ascii=False)}
                writer.writerow({k: neutralize_formula(v) for k, v in cells.items()})
        else:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
