"""What the analysis reads: the documents of the live index (manifest) and their chunks (store), with vectors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ingest.manifest import Manifest
from ingest.pipeline import MANIFEST_FILE
from ingest.store import ChunkStore
from sourcier.settings import Settings


@dataclass
class ChunkView:
    id: str
    doc_id: str
    text: str
    page: int | None
    section: str | None
    ocr: bool
    index: int


@dataclass
class DocumentView:
    doc_id: str
    path: str
    title: str
    service: str
    format: str
    status: str
    reason: str | None
    pages: int | None
    version: str | None
    file_hash: str
    doc_date: date | None
    details: dict = field(default_factory=dict)
    chunks: list[ChunkView] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(chunk.text for chunk in self.chunks)


@dataclass
class CorpusView:
    collection: str
    store: ChunkStore
    documents: dict[str, DocumentView]  # by doc_id
    chunk_ids: list[str]
    vectors: np.ndarray  # aligned with chunk_ids
    chunks: dict[str, ChunkView]


def read_corpus(settings: Settings, page_size: int = 2000) -> CorpusView:
    with Manifest(settings.store.path / MANIFEST_FILE) as manifest:
        collection = manifest.active_collection(settings.store.collection)
        records = manifest.documents(collection)
        excluded = manifest.excluded()
    store = ChunkStore.open(settings.store, settings.embedding.model, collection)
    documents = {
        record.doc_id: DocumentView(
            doc_id=record.doc_id,
            path=record.path,
            title=record.title or record.path,
            service=record.service or "general",
            format=record.format or "",
            status=record.status,
            reason=record.reason,
            pages=record.pages,
            version=record.indexed_hash,
            file_hash=record.file_hash,
            doc_date=date.fromisoformat(record.doc_date) if record.doc_date else None,
            details=json.loads(record.details) if record.details else {},
        )
        for record in records.values()
        if record.doc_id not in excluded
    }
    chunk_ids: list[str] = []
    vectors: list[np.ndarray] = []
    chunks: dict[str, ChunkView] = {}
    total = store.count()
    for offset in range(0, total, page_size):
        page = store.collection.get(limit=page_size, offset=offset, include=["documents", "metadatas", "embeddings"])
        for chunk_id, text, meta, vector in zip(
            page["ids"], page["documents"], page["metadatas"], page["embeddings"], strict=True
        ):
            document = documents.get(meta.get("doc_id"))
            if document is None or meta.get("version") != document.version:
                continue  # excluded, or an older version still being replaced
            chunk = ChunkView(
                id=chunk_id,
                doc_id=document.doc_id,
                text=text,
                page=meta.get("page"),
                section=meta.get("section"),
                ocr=bool(meta.get("ocr")),
                index=int(meta.get("chunk_index", 0)),
            )
            chunks[chunk_id] = chunk
            document.chunks.append(chunk)
            chunk_ids.append(chunk_id)
            vectors.append(np.asarray(vector, dtype=np.float32))
    for document in documents.values():
        document.chunks.sort(key=lambda chunk: chunk.index)
    matrix = np.vstack(vectors) if vectors else np.zeros((0, 384), dtype=np.float32)
    return CorpusView(collection, store, documents, chunk_ids, matrix, chunks)
