"""What persists between reports (SQLite beside the index): owners' marks on findings, the history of counts, and
per-document results keyed by document version so that an unchanged corpus is not analysed again."""

from __future__ import annotations

import json
import sqlite3

from quality.findings import Finding, FindingStatus, FindingType, Place, Severity
from sourcier import sqlite
from sourcier.clock import now
from sourcier.layout import StoreLayout

_SCHEMA = """
CREATE TABLE IF NOT EXISTS marks (id TEXT PRIMARY KEY, status TEXT NOT NULL, note TEXT, marked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (at TEXT PRIMARY KEY, counts TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS document_cache (
    doc_id TEXT NOT NULL, version TEXT NOT NULL, analyses TEXT NOT NULL, findings TEXT NOT NULL,
    PRIMARY KEY (doc_id, version)
);
"""


class QualityState:
    def __init__(self, layout: StoreLayout) -> None:
        self.path = sqlite.create(layout.quality_state, _SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite.connect(self.path)

    # --- owners' marks ---------------------------------------------------------------------------------

    def mark(self, finding_id: str, status: str, note: str | None = None) -> None:
        if status not in set(FindingStatus):
            raise ValueError(f"statut inconnu : {status} (attendu : {', '.join(FindingStatus)})")
        with self._connect() as db:
            if status == FindingStatus.NEW:
                db.execute("DELETE FROM marks WHERE id=?", (finding_id,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO marks(id, status, note, marked_at) VALUES(?,?,?,?)",
                    (finding_id, status, note, now()),
                )

    def marks(self) -> dict[str, dict]:
        with self._connect() as db:
            return {row["id"]: dict(row) for row in db.execute("SELECT * FROM marks")}

    # --- history -----------------------------------------------------------------------------------------

    def record_run(self, counts: dict) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO runs(at, counts) VALUES(?, ?)", (now(), json.dumps(counts)))

    def history(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY at").fetchall()
        return [{"at": row["at"], **json.loads(row["counts"])} for row in rows]

    # --- per-document cache ----------------------------------------------------------------------------

    def cached(self, doc_id: str, version: str, analyses: str) -> list[Finding] | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT findings FROM document_cache WHERE doc_id=? AND version=? AND analyses=?",
                (doc_id, version, analyses),
            ).fetchone()
        if row is None:
            return None
        return [_finding(data) for data in json.loads(row["findings"])]

    def store(self, entries: list[tuple[str, str, list[Finding]]], analyses: str) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO document_cache(doc_id, version, analyses, findings) VALUES(?,?,?,?)",
                [
                    (doc_id, version, analyses, json.dumps([f.to_dict() for f in findings], ensure_ascii=False))
                    for doc_id, version, findings in entries
                ],
            )

    def forget_other_versions(self, current: dict[str, str]) -> None:
        with self._connect() as db:
            rows = db.execute("SELECT doc_id, version FROM document_cache").fetchall()
            stale = [(r["doc_id"], r["version"]) for r in rows if current.get(r["doc_id"]) != r["version"]]
            db.executemany("DELETE FROM document_cache WHERE doc_id=? AND version=?", stale)


def _finding(data: dict) -> Finding:
    fields = {k: v for k, v in data.items() if k not in {"type_label", "severity_label", "status_label"}}
    fields["places"] = [Place(**place) for place in fields["places"]]
    fields["type"], fields["severity"] = FindingType(fields["type"]), Severity(fields["severity"])
    fields["status"] = FindingStatus(fields.get("status", FindingStatus.NEW))
    return Finding(**fields)
