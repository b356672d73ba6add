"""The audit trail (RGPD): who signed in, asked, downloaded, uploaded, excluded, marked, changed rights or ran an
ingestion — append-only, beside the index, kept `access.audit_retention_days` then purged automatically.

Append-only is enforced by the database itself: triggers refuse any UPDATE, and any DELETE of an event younger than
the retention period. Personal data in questions (NIR, IBAN, phone numbers, e-mail addresses, birth dates) is
masked before it is written, with the same detectors as the quality report.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sourcier import sqlite
from sourcier.access import Reader
from sourcier.layout import StoreLayout
from sourcier.personal_data import mask
from sourcier.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    user TEXT NOT NULL,
    groups TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE TABLE IF NOT EXISTS retention (days INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS events_append_only BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'journal d''audit : modification interdite'); END;
CREATE TRIGGER IF NOT EXISTS events_kept BEFORE DELETE ON events
WHEN julianday(old.at) > julianday('now') - (SELECT COALESCE(MAX(days), 36500) FROM retention)
BEGIN SELECT RAISE(ABORT, 'journal d''audit : suppression interdite avant la fin de la durée de conservation'); END;
"""


class AuditKind(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    QUESTION = "question"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    EXCLUSION = "exclusion"
    INCLUSION = "inclusion"
    MARK = "mark"
    POLICY = "policy"
    USERS = "users"
    API_KEYS = "api_keys"
    INGESTION = "ingestion"
    DENIED = "denied"  # a page or an action the user's role does not allow
    FALC = "falc"  # a FALC draft written, validated or exported

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    AuditKind.SIGN_IN: "connexion",
    AuditKind.SIGN_IN_FAILED: "connexion refusée",
    AuditKind.SIGN_OUT: "déconnexion",
    AuditKind.QUESTION: "question",
    AuditKind.DOWNLOAD: "téléchargement",
    AuditKind.UPLOAD: "dépôt de document",
    AuditKind.EXCLUSION: "document retiré de la recherche",
    AuditKind.INCLUSION: "document réintégré",
    AuditKind.MARK: "constat marqué",
    AuditKind.POLICY: "droits d'accès appliqués",
    AuditKind.USERS: "comptes modifiés",
    AuditKind.API_KEYS: "clés d'API modifiées",
    AuditKind.INGESTION: "ingestion",
    AuditKind.DENIED: "accès refusé",
    AuditKind.FALC: "version FALC",
}


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: str
    kind: AuditKind
    user: str
    groups: list[str]
    detail: dict


class AuditLog:
    def __init__(self, path: Path, retention_days: int = 365) -> None:
        self.path = sqlite.create(path, _SCHEMA)
        self.retention_days = retention_days
        with self._connect() as db:
            db.execute("DELETE FROM retention")
            db.execute("INSERT INTO retention VALUES (?)", (retention_days,))
        self.purge()

    @classmethod
    def of(cls, layout: StoreLayout, retention_days: int = 365) -> AuditLog:
        return cls(layout.audit, retention_days)

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditLog:
        """The trail beside `settings`' store, with its retention period."""
        return cls.of(StoreLayout(settings.store.path), settings.access.audit_retention_days)

    def _connect(self) -> sqlite3.Connection:
        return sqlite.connect(self.path)

    def record(self, kind: AuditKind, reader: Reader | str, **detail) -> None:
        """`detail` values are JSON; a `question` is masked (personal data) before it is written."""
        if "question" in detail and detail["question"]:
            detail["question"] = mask(str(detail["question"]))
        name, groups = (reader.name, sorted(reader.groups)) if isinstance(reader, Reader) else (reader, [])
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as db:
            db.execute(
                "INSERT INTO events (at, kind, user, groups, detail) VALUES (?,?,?,?,?)",
                (at, kind.value, name, json.dumps(groups, ensure_ascii=False), json.dumps(detail, ensure_ascii=False)),
            )

    def purge(self) -> int:
        """Delete the events older than the retention period; returns how many."""
        cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).isoformat(timespec="seconds")
        with self._connect() as db:
            return db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount

    def events(
        self,
        kinds: list[AuditKind] | None = None,
        user: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 10_000,
    ) -> list[AuditEvent]:
        clauses, values = [], []
        if kinds:
            clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
            values += [k.value for k in kinds]
        if user:
            clauses.append("user LIKE ?")
            values.append(f"%{user}%")
        if since:
            clauses.append("at >= ?")
            values.append(since)
        if until:
            clauses.append("at < ?")
            values.append(until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM events {where} ORDER BY id DESC LIMIT ?", (*values, limit)).fetchall()
        return [
            AuditEvent(
                row["id"],
                row["at"],
                AuditKind(row["kind"]),
                row["user"],
                json.loads(row["groups"]),
                json.loads(row["detail"]),
            )
            for row in rows
        ]


def to_csv(events: list[AuditEvent]) -> str:
    """For the DPO: one line per event, French headers."""
    buffer = io.StringIO()
    buffer.write("\ufeff")  # the BOM: French Excel reads the accents right
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["horodatage (UTC)", "événement", "utilisateur", "groupes", "détail"])
    for event in events:
        writer.writerow(
            [
                event.at,
                event.kind.label,
                event.user,
                ", ".join(event.groups),
                json.dumps(event.detail, ensure_ascii=False),
            ]
        )
    return buffer.getvalue()
