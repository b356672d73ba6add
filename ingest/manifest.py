"""The manifest: what each corpus file was when last ingested, which makes ingestion incremental.

Tables of the shared database (SQLite beside the index, or PostgreSQL). It is written after the store, per document,
so that after a crash it may lag behind the store but never claim more than the store holds; `IngestionPipeline`
reconciles the two.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy import Column, Integer, MetaData, Table, Text, delete, func, insert, select, update

from sourcier.clock import now
from sourcier.database import engine_for, put
from sourcier.settings import StoreSettings

# The manifest's record of the chunks' state: changed by every ingestion and every `access apply`; a replica that
# sees it change reads the index again (its lexical index derived anew from the store if it is not that version).
INDEX_VERSION = "index_version"

_METADATA = MetaData()
_STATE = Table("index_state", _METADATA, Column("key", Text, primary_key=True), Column("value", Text))
_DOCUMENTS = Table(
    "documents",
    _METADATA,
    Column("collection", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    *(
        Column(name, Integer if name in ("chunks", "pages") else Text)
        for name in (
            "doc_id",
            "file_hash",
            "indexed_hash",
            "status",
            "chunks",
            "pages",
            "title",
            "format",
            "service",
            "doc_date",
            "reason",
            "updated_at",
            "details",
        )
    ),  # fmt: skip
)
# Documents an admin took out of retrieval; their files and chunks stay (re-including is instant).
_EXCLUDED = Table(
    "exclusions",
    _METADATA,
    Column("doc_id", Text, primary_key=True),
    Column("path", Text),
    Column("reason", Text),
    Column("excluded_at", Text),
)
_RUNS = Table(
    "ingestion_runs",
    _METADATA,
    Column("id", Text, primary_key=True),
    Column("collection", Text),
    Column("started_at", Text),
    Column("finished_at", Text),
    Column("report", Text),
)


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
    """The manifest of `store`'s index, in the shared database (`sourcier.database`). Every method is one
    transaction of its own; `switch_collection` changes the live collection and forgets the old one's documents
    in one."""

    def __init__(self, store: StoreSettings) -> None:
        self.engine = engine_for(store)

    def close(self) -> None:
        pass  # the engine's connections are pooled for the process

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- the live collection (switched atomically at the end of a rebuild) ----------------------------

    def active_collection(self, default: str) -> str:
        return self.state("active_collection") or default

    def switch_collection(self, new: str, old: str) -> None:
        with self.engine.begin() as db:
            put(db, _STATE, {"key": "active_collection"}, {"value": new})
            db.execute(delete(_DOCUMENTS).where(_DOCUMENTS.c.collection == old))

    def state(self, key: str) -> str | None:
        with self.engine.connect() as db:
            return db.execute(select(_STATE.c.value).where(_STATE.c.key == key)).scalar()

    def set_state(self, key: str, value: str) -> None:
        with self.engine.begin() as db:
            put(db, _STATE, {"key": key}, {"value": value})

    def forget_collection(self, collection: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(_DOCUMENTS).where(_DOCUMENTS.c.collection == collection))

    def collections(self) -> set[str]:
        with self.engine.connect() as db:
            return set(db.execute(select(_DOCUMENTS.c.collection).distinct()).scalars())

    # --- documents ------------------------------------------------------------------------------------

    def documents(self, collection: str) -> dict[str, DocumentRecord]:
        query = select(_DOCUMENTS).where(_DOCUMENTS.c.collection == collection).order_by(_DOCUMENTS.c.path)
        with self.engine.connect() as db:
            rows = db.execute(query).mappings().all()
        return {row["path"]: DocumentRecord(**{k: v for k, v in row.items() if k != "collection"}) for row in rows}

    def record(self, collection: str, document: DocumentRecord) -> None:
        document.updated_at = now()
        values = asdict(document)
        path = values.pop("path")
        with self.engine.begin() as db:
            put(db, _DOCUMENTS, {"collection": collection, "path": path}, values)

    def remove(self, collection: str, path: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(_DOCUMENTS).where(_DOCUMENTS.c.collection == collection, _DOCUMENTS.c.path == path))

    # --- exclusions from retrieval ------------------------------------------------------------------

    def exclude(self, doc_id: str, path: str, reason: str | None = None) -> None:
        with self.engine.begin() as db:
            put(db, _EXCLUDED, {"doc_id": doc_id}, {"path": path, "reason": reason, "excluded_at": now()})

    def include(self, doc_id: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(_EXCLUDED).where(_EXCLUDED.c.doc_id == doc_id))

    def excluded(self) -> dict[str, dict]:
        with self.engine.connect() as db:
            rows = db.execute(select(_EXCLUDED).order_by(_EXCLUDED.c.path)).mappings().all()
        return {row["doc_id"]: {"path": row["path"], "reason": row["reason"], "at": row["excluded_at"]} for row in rows}

    # --- runs -----------------------------------------------------------------------------------------

    def start_run(self, run_id: str, collection: str, started_at: str) -> None:
        with self.engine.begin() as db:
            db.execute(insert(_RUNS).values(id=run_id, collection=collection, started_at=started_at))

    def finish_run(self, run_id: str, report: dict) -> None:
        with self.engine.begin() as db:
            db.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(finished_at=now(), report=json.dumps(report)))

    def last_run(self) -> dict | None:
        query = select(_RUNS.c.report).where(_RUNS.c.report.is_not(None)).order_by(_RUNS.c.started_at.desc())
        with self.engine.connect() as db:
            report = db.execute(query.limit(1)).scalar()
        return json.loads(report) if report else None

    def unfinished_runs(self) -> int:
        with self.engine.connect() as db:
            return db.execute(select(func.count()).select_from(_RUNS).where(_RUNS.c.finished_at.is_(None))).scalar()
