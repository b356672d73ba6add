"""What `sourcier status` and the admin page show about the index."""

from __future__ import annotations

from collections import Counter

from ingest.live import LiveIndex, read_live_documents
from ingest.lock import IngestionLock
from ingest.report import DocumentStatus
from sourcier.access import Reader
from sourcier.layout import StoreLayout
from sourcier.settings import Settings


def index_status(settings: Settings, index: LiveIndex | None = None) -> dict:
    live = read_live_documents(settings)
    index = index or LiveIndex.open(settings, reader=Reader.system("état de l'index"))
    status = {
        "store": settings.store.location,
        "collection": live.collection,
        "corpus": str(settings.corpus_dir.resolve()),
        "embedding_model": index.embedding_model,
        "documents": len(live.documents),
        "documents_by_status": dict(Counter(record.status for record in live.documents.values())),
        "chunks": index.count(),
        "ingestion_running": IngestionLock(StoreLayout(settings.store.path).lock).is_held(),
        "last_run": None,
    }
    if live.last_run:
        status["last_run"] = {
            "finished_at": live.last_run["finished_at"],
            "duration_s": live.last_run["duration_s"],
            "counts": live.last_run["counts"],
        }
    # Problems are those of the documents as they stand, whichever run found them.
    status["problems"] = [
        {"path": record.path, "status": record.status, "reason": record.reason}
        for record in live.documents.values()
        if DocumentStatus(record.status).is_problem
    ]
    return status
