"""Store: chunks and their vectors in Chroma — embedded in `vectorstore/`, or a `chroma run` server.

Writes go through the chromadb collection API (vectors are computed by the embed stage, so unchanged chunks
are never re-embedded); reads for answering go through `langchain-chroma` (`as_langchain`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from ingest.documents import Chunk
from sourcier.errors import ConfigurationError, StoreUnavailableError
from sourcier.settings import StoreSettings

_PAGE = 5000


def _client(settings: StoreSettings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.is_remote:
            client = chromadb.HttpClient(host=settings.host, port=settings.port, settings=chroma_settings)
            client.heartbeat()
            return client
        settings.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.path / "chroma"), settings=chroma_settings)
    except Exception as exc:
        raise StoreUnavailableError(
            f"Base vectorielle injoignable ({settings.location}) : {' '.join(str(exc).split())[:200]}"
        ) from exc


class ChunkStore:
    def __init__(self, client, collection_name: str, embedding_model: str) -> None:
        self.client = client
        self.name = collection_name
        self.embedding_model = embedding_model
        try:
            self.collection = client.get_or_create_collection(
                collection_name,
                metadata={"hnsw:space": "cosine", "embedding_model": embedding_model},
                embedding_function=None,
            )
        except Exception as exc:
            raise StoreUnavailableError(f"Collection Chroma « {collection_name} » inaccessible : {exc}") from exc
        stored_model = (self.collection.metadata or {}).get("embedding_model")
        if stored_model and stored_model != embedding_model:
            raise ConfigurationError(
                f"L'index a été construit avec le modèle « {stored_model} » et la configuration demande "
                f"« {embedding_model} » : relancez « sourcier ingest --rebuild »."
            )

    @classmethod
    def open(cls, settings: StoreSettings, embedding_model: str, collection_name: str | None = None) -> ChunkStore:
        return cls(_client(settings), collection_name or settings.collection, embedding_model)

    # --- writes ---------------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        batch = max(1, min(self.client.get_max_batch_size(), 1000))
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            self.collection.upsert(
                ids=[chunk.id for chunk in part],
                documents=[chunk.text for chunk in part],
                metadatas=[chunk.metadata for chunk in part],
                embeddings=vectors[start : start + batch],
            )

    def delete_document(self, doc_id: str, keep_version: str | None = None) -> None:
        """Remove a document's chunks, except those of `keep_version` when given."""
        where: dict = {"doc_id": doc_id}
        if keep_version is not None:
            where = {"$and": [{"doc_id": doc_id}, {"version": {"$ne": keep_version}}]}
        self.collection.delete(where=where)

    # --- reads ----------------------------------------------------------------------------------------

    def count(self) -> int:
        return self.collection.count()

    def _metadatas(self, where: dict | None = None) -> Iterable[dict]:
        offset = 0
        while True:
            page = self.collection.get(where=where, include=["metadatas"], limit=_PAGE, offset=offset)
            yield from page["metadatas"]
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def versions(self) -> dict[str, Counter]:
        """doc_id → {version: chunk count}: what the index actually holds, to reconcile with the manifest."""
        held: dict[str, Counter] = defaultdict(Counter)
        for metadata in self._metadatas():
            held[str(metadata["doc_id"])][str(metadata.get("version", metadata.get("file_hash")))] += 1
        return held

    def vectors_by_content(self, doc_id: str) -> dict[str, list[float]]:
        """content_hash → vector of a document's stored chunks: unchanged chunks of an edited file are reused."""
        page = self.collection.get(where={"doc_id": doc_id}, include=["metadatas", "embeddings"])
        return {
            str(metadata["content_hash"]): vector
            for metadata, vector in zip(page["metadatas"], page["embeddings"], strict=True)
        }

    def as_langchain(self, embeddings):
        from langchain_chroma import Chroma

        return Chroma(client=self.client, collection_name=self.name, embedding_function=embeddings)

    def drop(self) -> None:
        self.client.delete_collection(self.name)

    def collection_names(self) -> list[str]:
        return [getattr(c, "name", c) for c in self.client.list_collections()]
