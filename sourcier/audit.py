"""The audit trail (RGPD): who signed in, asked, rated an answer, downloaded or viewed a
document's page, uploaded, excluded, marked, computed or exported the quality report, changed rights or ran an
ingestion — append-only, in the shared database (`sourcier.database`), kept `access.audit_retention_days` then
purged automatically.

Append-only is enforced by the database itself: triggers refuse any UPDATE, and any DELETE of an event younger than
the retention period. Personal data in questions (NIR, IBAN, phone numbers, e-mail addresses, birth dates) is
masked before it is written, with the same detectors as the quality report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, delete, insert, select

from sourcier import spreadsheet
from sourcier.access import Reader
from sourcier.database import engine_for
from sourcier.personal_data import mask
from sourcier.settings import Settings, StoreSettings

_EVENTS = Table(
    "audit_events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("at", Text),
    Column("kind", Text),
    Column("user_name", Text),
    Column("groups", Text),
    Column("detail", Text),
)
_RETENTION = Table("audit_retention", _EVENTS.metadata, Column("days", Integer))


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
    FEEDBACK = "feedback"  # an answer rated (the question and comment are kept, masked, in the feedback store)
    REPORT = "report"  # the quality report computed, read through the API or exported
    PAGE_VIEW = "page_view"  # a page of a document shown as an image: its content, as a download is

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
    AuditKind.FEEDBACK: "avis sur une réponse",
    AuditKind.REPORT: "rapport de qualité",
    AuditKind.PAGE_VIEW: "page de document affichée",
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
    def __init__(self, engine: Engine, retention_days: int = 365) -> None:
        self.engine = engine
        self.retention_days = retention_days
        with engine.begin() as db:
            if db.execute(select(_RETENTION.c.days)).scalars().all() != [retention_days]:
                db.execute(delete(_RETENTION))
                db.execute(insert(_RETENTION).values(days=retention_days))
        self.purge()

    @classmethod
    def of(cls, store: StoreSettings, retention_days: int = 365) -> AuditLog:
        return cls(engine_for(store), retention_days)

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditLog:
        """The trail of `settings`' store, with its retention period."""
        return cls.of(settings.store, settings.access.audit_retention_days)

    def record(self, kind: AuditKind, reader: Reader | str, **detail) -> None:
        """`detail` values are JSON; a `question` is masked (personal data) before it is written."""
        if "question" in detail and detail["question"]:
            detail["question"] = mask(str(detail["question"]))
        name, groups = (reader.name, sorted(reader.groups)) if isinstance(reader, Reader) else (reader, [])
        with self.engine.begin() as db:
            db.execute(
                insert(_EVENTS).values(
                    at=datetime.now(UTC).isoformat(timespec="seconds"),
                    kind=kind.value,
                    user_name=name,
                    groups=json.dumps(groups, ensure_ascii=False),
                    detail=json.dumps(detail, ensure_ascii=False),
                )
            )

    def purge(self) -> int:
        """Delete the events older than the retention period; returns how many."""
        cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).isoformat(timespec="seconds")
        with self.engine.begin() as db:
            return db.execute(delete(_EVENTS).where(_EVENTS.c.at < cutoff)).rowcount

    def events(
        self,
        kinds: list[AuditKind] | None = None,
        user: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 10_000,
    ) -> list[AuditEvent]:
        query = select(_EVENTS).order_by(_EVENTS.c.id.desc()).limit(limit)
        if kinds:
            query = query.where(_EVENTS.c.kind.in_([k.value for k in kinds]))
        if user:
            query = query.where(_EVENTS.c.user_name.ilike(f"%{user}%"))
        if since:
            query = query.where(_EVENTS.c.at >= since)
        if until:
            query = query.where(_EVENTS.c.at < until)
        with self.engine.connect() as db:
            rows = db.execute(query).mappings().all()
        return [
            AuditEvent(
                row["id"],
                row["at"],
                AuditKind(row["kind"]),
                row["user_name"],
                json.loads(row["groups"]),
                json.loads(row["detail"]),
            )
            for row in rows
        ]


def to_csv(events: list[AuditEvent]) -> str:
    """For the DPO: one line per event, French headers."""
    return spreadsheet.to_csv(
        ["horodatage (UTC)", "événement", "utilisateur", "groupes", "détail"],
        (
            [
                event.at,
                event.kind.label,
                event.user,
                ", ".join(event.groups),
                json.dumps(event.detail, ensure_ascii=False),
            ]
            for event in events
        ),
    )
