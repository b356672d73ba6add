"""The manifest: what each corpus file was when last ingested, which makes ingestion incremental.

A small SQLite database beside the index. It is written after the store, per document, so that after a crash
it may lag behind the store but never claim more than the store holds; `IngestionPipeline` reconciles the two.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from sourcier.clock import now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    path TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    indexed_hash TEXT,
    status TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    pages INTEGER,
    title TEXT,
    format TEXT,
    service TEXT,
    doc_date TEXT,
    reason TEXT,
    updated_at TEXT NOT NULL,
    details TEXT,
    PRIMARY KEY (collection, path)
);
-- Documents an admin took out of retrieval; their files and chunks stay (re-including is instant).
CREATE TABLE IF NOT EXISTS excluded (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    reason TEXT,
    excluded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    report TEXT
);
"""


@dataclass
class DocumentRecord:
    path: str
    doc_id: str
    file_hash: str
    indexed_hash: str | None  # the chunk version (file + chunking) held by the store (None: nothing indexed)
    status: str
    chunks: int = 0
    pages: int | None = None
    title: str | None = None
    format: str | None = None
    service: str | None = None
    doc_date: str | None = None
    reason: str | None = None
    updated_at: str = ""
    details: str | None = None  # JSON: pages without text, pages read by OCR


class Manifest:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(documents)")}
        if "details" not in columns:  # manifests written before the quality report
            self._db.execute("ALTER TABLE documents ADD COLUMN details TEXT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- the live collection (switched atomically at the end of a rebuild) ----------------------------

    def active_collection(self, default: str) -> str:
        row = self._db.execute("SELECT value FROM state WHERE key='active_collection'").fetchone()
        return row["value"] if row else default

    def switch_collection(self, new: str, old: str) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO state(key, value) VALUES('active_collection', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (new,),
            )
            self._db.execute("DELETE FROM documents WHERE collection=?", (old,))

    def forget_collection(self, collection: str) -> None:
        self._db.execute("DELETE FROM documents WHERE collection=?", (collection,))

    def collections(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT DISTINCT collection FROM documents")}

    # --- documents ------------------------------------------------------------------------------------

    def documents(self, collection: str) -> dict[str, DocumentRecord]:
        rows = self._db.execute("SELECT * FROM documents WHERE collection=? ORDER BY path", (collection,))
        # sqlite3.Row iterates over values, not keys: .keys() is needed here.
        return {
            row["path"]: DocumentRecord(**{k: row[k] for k in row.keys() if k != "collection"})  # noqa: SIM118
            for row in rows
        }

    def record(self, collection: str, document: DocumentRecord) -> None:
        document.updated_at = now()
        values = asdict(document)
        columns = ", ".join(["collection", *values])
        marks = ", ".join("?" * (len(values) + 1))
        self._db.execute(f"INSERT OR REPLACE INTO documents({columns}) VALUES({marks})", (collection, *values.values()))

    def remove(self, collection: str, path: str) -> None:
        self._db.execute("DELETE FROM documents WHERE collection=? AND path=?", (collection, path))

    # --- exclusions from retrieval ------------------------------------------------------------------

    def exclude(self, doc_id: str, path: str, reason: str | None = None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO excluded(doc_id, path, reason, excluded_at) VALUES(?, ?, ?, ?)",
            (doc_id, path, reason, now()),
        )

    def include(self, doc_id: str) -> None:
        self._db.execute("DELETE FROM excluded WHERE doc_id=?", (doc_id,))

    def excluded(self) -> dict[str, dict]:
        rows = self._db.execute("SELECT * FROM excluded ORDER BY path")
        return {row["doc_id"]: {"path": row["path"], "reason": row["reason"], "at": row["excluded_at"]} for row in rows}

    # --- runs -----------------------------------------------------------------------------------------

    def start_run(self, run_id: str, collection: str, started_at: str) -> None:
        self._db.execute(
            "INSERT INTO runs(id, collection, started_at) VALUES(?, ?, ?)", (run_id, collection, started_at)
        )

    def finish_run(self, run_id: str, report: dict) -> None:
        self._db.execute("UPDATE runs SET finished_at=?, report=? WHERE id=?", (now(), json.dumps(report), run_id))

    def last_run(self) -> dict | None:
        row = self._db.execute(
            "SELECT * FROM runs WHERE report IS NOT NULL ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        return json.loads(row["report"]) if row else None

    def unfinished_runs(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM runs WHERE finished_at IS NULL").fetchone()[0]

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, value, traceback):
                db.execute("ROLLBACK" if kind else "COMMIT")

        return _Tx()
