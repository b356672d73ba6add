"""What persists between reports (in the shared database): owners' marks on findings, the history of counts, and
per-document results keyed by document version so that an unchanged corpus is not analysed again."""

from __future__ import annotations

import json

from sqlalchemy import Column, MetaData, Table, Text, delete, select

from quality.findings import Finding, FindingStatus, FindingType, Place, Severity
from sourcier.clock import now
from sourcier.database import engine_for, put
from sourcier.settings import StoreSettings

_METADATA = MetaData()
_MARKS = Table(
    "quality_marks",
    _METADATA,
    Column("id", Text, primary_key=True),
    Column("status", Text),
    Column("note", Text),
    Column("marked_at", Text),
)
_RUNS = Table("quality_runs", _METADATA, Column("at", Text, primary_key=True), Column("counts", Text))
_CACHE = Table(
    "quality_cache",
    _METADATA,
    Column("doc_id", Text, primary_key=True),
    Column("version", Text, primary_key=True),
    Column("analyses", Text),
    Column("findings", Text),
)


class QualityState:
    def __init__(self, store: StoreSettings) -> None:
        self.engine = engine_for(store)

    # --- owners' marks ---------------------------------------------------------------------------------

    def mark(self, finding_id: str, status: str, note: str | None = None) -> None:
        if status not in set(FindingStatus):
            raise ValueError(f"statut inconnu : {status} (attendu : {', '.join(FindingStatus)})")
        with self.engine.begin() as db:
            if status == FindingStatus.NEW:
                db.execute(delete(_MARKS).where(_MARKS.c.id == finding_id))
            else:
                put(db, _MARKS, {"id": finding_id}, {"status": status, "note": note, "marked_at": now()})

    def marks(self) -> dict[str, dict]:
        with self.engine.connect() as db:
            return {row["id"]: dict(row) for row in db.execute(select(_MARKS)).mappings()}

    # --- history -----------------------------------------------------------------------------------------

    def record_run(self, counts: dict) -> None:
        with self.engine.begin() as db:
            put(db, _RUNS, {"at": now()}, {"counts": json.dumps(counts)})

    def history(self) -> list[dict]:
        with self.engine.connect() as db:
            rows = db.execute(select(_RUNS).order_by(_RUNS.c.at)).mappings().all()
        return [{"at": row["at"], **json.loads(row["counts"])} for row in rows]

    # --- per-document cache ----------------------------------------------------------------------------

    def cached(self, doc_id: str, version: str, analyses: str) -> list[Finding] | None:
        query = select(_CACHE.c.findings).where(
            _CACHE.c.doc_id == doc_id, _CACHE.c.version == version, _CACHE.c.analyses == analyses
        )
        with self.engine.connect() as db:
            findings = db.execute(query).scalar()
        if findings is None:
            return None
        return [_finding(data) for data in json.loads(findings)]

    def store(self, entries: list[tuple[str, str, list[Finding]]], analyses: str) -> None:
        with self.engine.begin() as db:
            for doc_id, version, findings in entries:
                serialised = json.dumps([f.to_dict() for f in findings], ensure_ascii=False)
                put(db, _CACHE, {"doc_id": doc_id, "version": version}, {"analyses": analyses, "findings": serialised})

    def forget_other_versions(self, current: dict[str, str]) -> None:
        with self.engine.begin() as db:
            rows = db.execute(select(_CACHE.c.doc_id, _CACHE.c.version)).all()
            for doc_id, version in rows:
                if current.get(doc_id) != version:
                    db.execute(delete(_CACHE).where(_CACHE.c.doc_id == doc_id, _CACHE.c.version == version))


def _finding(data: dict) -> Finding:
    fields = {k: v for k, v in data.items() if k not in {"type_label", "severity_label", "status_label"}}
    fields["places"] = [Place(**place) for place in fields["places"]]
    fields["type"], fields["severity"] = FindingType(fields["type"]), Severity(fields["severity"])
    fields["status"] = FindingStatus(fields.get("status", FindingStatus.NEW))
    return Finding(**fields)
