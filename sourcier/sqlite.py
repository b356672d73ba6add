"""The small SQLite files beside the index (feedback, conversations, quality state): one way to open them."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """Rows by column name; waits for a writer in another process rather than failing at once."""
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    return db


def create(path: Path, schema: str) -> Path:
    """The file and its tables, if they are not there yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as db:
        db.executescript(schema)
    return path
