"""What the analysis reads: the documents of the live index (manifest) and their chunks (store), with vectors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ingest.live import LiveIndex, read_live_documents
from sourcier.access import Reader
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
    index: LiveIndex
    documents: dict[str, DocumentView]  # by doc_id
    chunk_ids: list[str]
    vectors: np.ndarray  # aligned with chunk_ids
    chunks: dict[str, ChunkView]


def read_corpus(settings: Settings, index: LiveIndex | None = None) -> CorpusView:
    """The documents of the live index and their current chunks, with vectors; excluded documents are left out."""
    live = read_live_documents(settings)
    index = index or LiveIndex.open(settings, reader=Reader.system("rapport qualité"))
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
        for record in live.documents.values()
        if record.doc_id not in live.excluded
    }
    chunk_ids: list[str] = []
    vectors: list[np.ndarray] = []
    chunks: dict[str, ChunkView] = {}
    for stored in index.chunks(with_vectors=True):
        meta = stored.metadata
        document = documents.get(meta.get("doc_id"))
        if document is None or meta.get("version") != document.version:
            continue  # excluded, or an older version still being replaced
        chunk = ChunkView(
            id=stored.id,
            doc_id=document.doc_id,
            text=stored.text,
            page=meta.get("page"),
            section=meta.get("section"),
            ocr=bool(meta.get("ocr")),
            index=int(meta.get("chunk_index", 0)),
        )
        chunks[stored.id] = chunk
        document.chunks.append(chunk)
        chunk_ids.append(stored.id)
        vectors.append(stored.vector)
    for document in documents.values():
        document.chunks.sort(key=lambda chunk: chunk.index)
    # Without chunks there is no dimension to speak of; nothing downstream multiplies an empty matrix.
    matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)
    return CorpusView(live.collection, index, documents, chunk_ids, matrix, chunks)
