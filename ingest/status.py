"""What `sourcier status` and the admin page show about the index — read from the manifest alone: instant, and
available even when the vector store is busy or down (opening Chroma took ~20 s here)."""

from __future__ import annotations

from collections import Counter

from ingest.live import read_live_documents
from ingest.lock import IngestionLock
from ingest.report import DocumentStatus
from sourcier.models.embedding import embedding_model_id
from sourcier.settings import Settings


def index_status(settings: Settings) -> dict:
    live = read_live_documents(settings)
    status = {
        "store": settings.store.location,
        "collection": live.collection,
        "corpus": str(settings.corpus_dir.resolve()),
        "embedding_model": embedding_model_id(settings.embedding),
        "documents": len(live.documents),
        "documents_by_status": dict(Counter(record.status for record in live.documents.values())),
        "chunks": sum(record.chunks or 0 for record in live.documents.values()),
        "ingestion_running": IngestionLock(settings.store).is_held(),
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
