"""What `sourcier status` and the admin page show about the index."""

from __future__ import annotations

from collections import Counter

from ingest.lock import IngestionLock
from ingest.manifest import Manifest
from ingest.pipeline import MANIFEST_FILE
from ingest.store import ChunkStore
from sourcier.settings import Settings


def index_status(settings: Settings) -> dict:
    with Manifest(settings.store.path / MANIFEST_FILE) as manifest:
        collection = manifest.active_collection(settings.store.collection)
        documents = manifest.documents(collection)
        last = manifest.last_run()
    store = ChunkStore.open(settings.store, settings.embedding.model, collection)
    status = {
        "store": settings.store.location,
        "collection": collection,
        "corpus": str(settings.corpus_dir.resolve()),
        "embedding_model": settings.embedding.model,
        "documents": len(documents),
        "documents_by_status": dict(Counter(record.status for record in documents.values())),
        "chunks": store.count(),
        "ingestion_running": IngestionLock(settings.store.path).is_held(),
        "last_run": None,
    }
    if last:
        status["last_run"] = {
            "finished_at": last["finished_at"],
            "duration_s": last["duration_s"],
            "counts": last["counts"],
        }
    # Problems are those of the documents as they stand, whichever run found them.
    status["problems"] = [
        {"path": record.path, "status": record.status, "reason": record.reason}
        for record in documents.values()
        if record.status in {"failed", "unsupported", "no_text"}
    ]
    return status
