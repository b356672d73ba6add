"""What users tell document owners, kept in SQLite beside the index: the questions the assistant could not answer
(coverage gaps) and the thumbs up/down given to answers, with the chunks those answers cited."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sourcier import sqlite
from sourcier.clock import now
from sourcier.layout import StoreLayout

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unanswered (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at TEXT NOT NULL,
    question TEXT NOT NULL,
    standalone_question TEXT,
    reason TEXT NOT NULL,
    closest TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    given_at TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    cited_chunks TEXT NOT NULL,
    backend TEXT,
    model TEXT
);
"""


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = sqlite.create(path, _SCHEMA)

    @classmethod
    def of(cls, layout: StoreLayout) -> FeedbackStore:
        return cls(layout.feedback)

    def _connect(self) -> sqlite3.Connection:
        return sqlite.connect(self.path)

    def record_unanswered(self, question: str, standalone: str, reason: str, closest: list[dict]) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO unanswered(asked_at, question, standalone_question, reason, closest) VALUES(?,?,?,?,?)",
                (now(), question, standalone, reason, json.dumps(closest, ensure_ascii=False)),
            )

    def unanswered(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM unanswered ORDER BY asked_at DESC").fetchall()
        return [{**dict(row), "closest": json.loads(row["closest"] or "[]")} for row in rows]

    def record_feedback(
        self,
        rating: int,
        question: str,
        answer: str,
        cited_chunks: list[str],
        comment: str | None = None,
        backend: str | None = None,
        model: str | None = None,
    ) -> int:
        if rating not in (-1, 1):
            raise ValueError("rating must be 1 (utile) or -1 (pas utile)")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback(given_at, rating, comment, question, answer, cited_chunks, backend, model) "
                "VALUES(?,?,?,?,?,?,?,?)",
                (
                    now(),
                    rating,
                    (comment or "").strip() or None,
                    question,
                    answer,
                    json.dumps(cited_chunks),
                    backend,
                    model,
                ),
            )
            return int(cursor.lastrowid)

    def update_comment(self, feedback_id: int, comment: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE feedback SET comment=? WHERE id=?", (comment.strip() or None, feedback_id))

    def feedback(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM feedback ORDER BY given_at DESC, id DESC").fetchall()
        return [{**dict(row), "cited_chunks": json.loads(row["cited_chunks"])} for row in rows]
