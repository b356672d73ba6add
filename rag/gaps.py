"""Coverage gaps: questions the assistant could not answer, kept for document owners (SQLite beside the index)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unanswered (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at TEXT NOT NULL,
    question TEXT NOT NULL,
    standalone_question TEXT,
    reason TEXT NOT NULL,
    closest TEXT
);
"""


class GapStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def record_unanswered(self, question: str, standalone: str, reason: str, closest: list[dict]) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO unanswered(asked_at, question, standalone_question, reason, closest) VALUES(?,?,?,?,?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    question,
                    standalone,
                    reason,
                    json.dumps(closest, ensure_ascii=False),
                ),
            )

    def unanswered(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM unanswered ORDER BY asked_at DESC").fetchall()
        return [{**dict(row), "closest": json.loads(row["closest"] or "[]")} for row in rows]
