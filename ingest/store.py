"""Store: chunks and their vectors, behind the small `VectorStore` contract the product uses.

`ChromaStore` implements it on Chroma — embedded in `vectorstore/chroma`, or a `chroma run` server. Vectors are
computed by the embed stage (Chroma's own embedder, which would download a model, is never used), so unchanged
chunks are never re-embedded. The ingestion pipeline writes through a `VectorStore`; everything that reads chunks
goes through `ingest.live.LiveIndex`, which scopes every read.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ingest.documents import Chunk
from sourcier.errors import ConfigurationError, StoreUnavailableError
from sourcier.layout import StoreLayout
from sourcier.settings import StoreSettings

_PAGE = 5000


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict
    vector: np.ndarray | None = None  # when asked for
    similarity: float | None = None  # cosine to the query, for query results


@runtime_checkable
class VectorStore(Protocol):
    """One collection of chunks; `where` filters use Chroma's language (see `ingest.lexical.matches`)."""

    name: str
    embedding_model: str

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def delete_document(self, doc_id: str, keep_version: str | None = None) -> None:
        """Remove a document's chunks, except those of `keep_version` when given."""
        ...

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        """Replace the given keys of each chunk's metadata (others kept); text and vector untouched."""
        ...

    def count(self) -> int: ...

    def versions(self) -> dict[str, Counter]:
        """doc_id → {version: chunk count}: what the store actually holds."""
        ...

    def vectors_by_content(self, doc_id: str) -> dict[str, list[float]]:
        """content_hash → vector of a document's stored chunks."""
        ...

    def query(self, vectors: Sequence[Sequence[float]], k: int, where: dict | None = None) -> list[list[StoredChunk]]:
        """The `k` nearest chunks of each vector (best first), among those matching `where`."""
        ...

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict | None = None,
        limit: int | None = None,
        offset: int = 0,
        with_vectors: bool = False,
    ) -> list[StoredChunk]:
        """Chunks by id and/or filter, in a stable order so that `limit`/`offset` pages cover everything once."""
        ...

    def collection_names(self) -> list[str]:
        """Every collection beside this one (rebuilds fill a new one)."""
        ...

    def drop_collection(self, name: str) -> None: ...


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _client(settings: StoreSettings, fresh: bool = False):
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.is_remote and not settings.tls and not _is_loopback(settings.host):
        raise ConfigurationError(
            f"Le serveur Chroma {settings.host} serait joint en clair et sans authentification : placez-le derrière "
            "un proxy TLS qui vérifie un jeton, puis réglez store.tls = true et store.token (voir la documentation, "
            "Déploiement)."
        )
    try:
        if settings.is_remote:
            if settings.tls:
                verify = str(settings.ca_file) if settings.ca_file else True
                chroma_settings = ChromaSettings(
                    anonymized_telemetry=False, allow_reset=False, chroma_server_ssl_verify=verify
                )
            headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else None
            client = chromadb.HttpClient(
                host=settings.host, port=settings.port, ssl=settings.tls, headers=headers, settings=chroma_settings
            )
            client.heartbeat()
            return client
        layout = StoreLayout(settings.path).ensure()
        if fresh:
            # An embedded Chroma keeps each collection's vector index in memory, once per process and path: what
            # another process (an ingestion started from the app or the API) wrote since is counted, but never
            # found by a nearest-neighbour query (measured). Forgetting the cached system reads it from disk again;
            # clients already open keep working on what they had.
            SharedSystemClient.clear_system_cache()
        return chromadb.PersistentClient(path=str(layout.chroma), settings=chroma_settings)
    except Exception as exc:
        if "401" in str(exc) or "403" in str(exc):
            raise ConfigurationError(
                f"Le proxy devant Chroma ({settings.location}) refuse Sourcier : jeton absent ou faux (store.token)."
            ) from exc
        raise StoreUnavailableError(
            f"Base vectorielle injoignable ({settings.location}) : {' '.join(str(exc).split())[:200]}"
        ) from exc


class ChromaStore:
    """A Chroma collection as a `VectorStore`; its client and collection stay private."""

    def __init__(self, client, collection_name: str, embedding_model: str) -> None:
        self._client = client
        self.name = collection_name
        self.embedding_model = embedding_model
        try:
            self._collection = client.get_or_create_collection(
                collection_name,
                metadata={"hnsw:space": "cosine", "embedding_model": embedding_model},
                embedding_function=None,
            )
        except Exception as exc:
            raise StoreUnavailableError(f"Collection Chroma « {collection_name} » inaccessible : {exc}") from exc
        stored_model = (self._collection.metadata or {}).get("embedding_model")
        if stored_model and stored_model != embedding_model:
            raise ConfigurationError(
                f"L'index a été construit avec le modèle « {stored_model} » et la configuration demande "
                f"« {embedding_model} » : relancez « sourcier ingest --rebuild »."
            )

    @classmethod
    def open(
        cls, settings: StoreSettings, embedding_model: str, collection_name: str | None = None, fresh: bool = False
    ) -> ChromaStore:
        """`fresh`: as the store is on disk now, whatever this process read of it before (for a long-running reader
        after another process wrote)."""
        return cls(_client(settings, fresh), collection_name or settings.collection, embedding_model)

    # --- writes ---------------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        batch = max(1, min(self._client.get_max_batch_size(), 1000))
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            self._collection.upsert(
                ids=[chunk.id for chunk in part],
                documents=[chunk.text for chunk in part],
                metadatas=[chunk.metadata for chunk in part],
                embeddings=vectors[start : start + batch],
            )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        batch = max(1, min(self._client.get_max_batch_size(), 1000))
        for start in range(0, len(ids), batch):
            self._collection.update(
                ids=list(ids[start : start + batch]), metadatas=list(metadatas[start : start + batch])
            )

    def delete_document(self, doc_id: str, keep_version: str | None = None) -> None:
        where: dict = {"doc_id": doc_id}
        if keep_version is not None:
            where = {"$and": [{"doc_id": doc_id}, {"version": {"$ne": keep_version}}]}
        self._collection.delete(where=where)

    # --- reads ----------------------------------------------------------------------------------------

    def count(self) -> int:
        return self._collection.count()

    def versions(self) -> dict[str, Counter]:
        held: dict[str, Counter] = defaultdict(Counter)
        offset = 0
        while True:
            page = self._collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for metadata in page["metadatas"]:
                held[str(metadata["doc_id"])][str(metadata.get("version", metadata.get("file_hash")))] += 1
            if len(page["ids"]) < _PAGE:
                return held
            offset += _PAGE

    def vectors_by_content(self, doc_id: str) -> dict[str, list[float]]:
        page = self._collection.get(where={"doc_id": doc_id}, include=["metadatas", "embeddings"])
        return {
            str(metadata["content_hash"]): vector
            for metadata, vector in zip(page["metadatas"], page["embeddings"], strict=True)
        }

    def query(self, vectors: Sequence[Sequence[float]], k: int, where: dict | None = None) -> list[list[StoredChunk]]:
        if len(vectors) == 0:
            return []
        result = self._collection.query(
            query_embeddings=[list(map(float, v)) for v in vectors],
            n_results=k,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            [
                StoredChunk(chunk_id, text, dict(metadata), similarity=1.0 - float(distance))
                for chunk_id, text, metadata, distance in zip(ids, texts, metadatas, distances, strict=True)
            ]
            for ids, texts, metadatas, distances in zip(
                result["ids"], result["documents"], result["metadatas"], result["distances"], strict=True
            )
        ]

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict | None = None,
        limit: int | None = None,
        offset: int = 0,
        with_vectors: bool = False,
    ) -> list[StoredChunk]:
        if ids is not None and not ids:
            return []
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        page = self._collection.get(
            ids=list(ids) if ids is not None else None,
            where=where or None,
            limit=limit,
            offset=offset or None,
            include=include,
        )
        vectors = page["embeddings"] if with_vectors else [None] * len(page["ids"])
        return [
            StoredChunk(chunk_id, text, dict(metadata), np.asarray(vector, dtype=np.float32) if with_vectors else None)
            for chunk_id, text, metadata, vector in zip(
                page["ids"], page["documents"], page["metadatas"], vectors, strict=True
            )
        ]

    # --- collections ----------------------------------------------------------------------------------

    def collection_names(self) -> list[str]:
        return [getattr(c, "name", c) for c in self._client.list_collections()]

    def drop_collection(self, name: str) -> None:
        if name in self.collection_names():
            self._client.delete_collection(name)
