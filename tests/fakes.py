"""Test doubles that implement the product's real contracts, for fast unit tests of Sourcier's own logic.

- `HashingEmbedder`: a `TextEmbedder` (and LangChain `Embeddings`) whose vectors are hashed bags of French stems:
  deterministic, instant, and similar texts are close — enough to test ranking, fusion and filters.
- `MemoryStore`: a `VectorStore` in memory; it passes the same contract suite as Chroma
  (`tests/unit/test_memory_store.py`).
- `ScriptedChat` / `scripted_backend`: an LLM `Backend` whose chat model replies from a script, streams token by
  token like the real servers, and records every prompt it receives.

No feature is tested by these alone: each has integration tests with the real model, Chroma and LLM server.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from ingest.documents import Chunk
from ingest.lexical import matches
from ingest.store import StoredChunk
from rag.llm import Backend
from sourcier.access import Reader
from sourcier.french import content_terms

SYSTEM = Reader.system()  # reads every document: for tests of what is not about rights


class HashingEmbedder(Embeddings):
    name = "hashing-test-embedder"

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for term in content_terms(text) or ["∅"]:
            digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dimension] += 1.0 if digest[4] % 2 else -1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text).tolist()


class MemoryStore:
    """A `VectorStore` held in a dict; collections of one `MemoryStore.registry` see each other."""

    def __init__(self, name: str = "sourcier", embedding_model: str = HashingEmbedder.name, registry=None) -> None:
        self.name = name
        self.embedding_model = embedding_model
        self.registry: dict[str, dict[str, StoredChunk]] = registry if registry is not None else {}
        self._rows = self.registry.setdefault(name, {})

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for chunk, vector in zip(chunks, vectors, strict=True):
            self._rows[chunk.id] = StoredChunk(chunk.id, chunk.text, dict(chunk.metadata), np.asarray(vector, float))

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        for chunk_id, metadata in zip(ids, metadatas, strict=True):
            if chunk_id in self._rows:
                self._rows[chunk_id].metadata.update(metadata)

    def delete_document(self, doc_id: str, keep_version: str | None = None) -> None:
        for chunk_id, row in list(self._rows.items()):
            if row.metadata["doc_id"] == doc_id and (keep_version is None or row.metadata["version"] != keep_version):
                del self._rows[chunk_id]

    def count(self) -> int:
        return len(self._rows)

    def versions(self) -> dict[str, Counter]:
        held: dict[str, Counter] = defaultdict(Counter)
        for row in self._rows.values():
            held[row.metadata["doc_id"]][row.metadata["version"]] += 1
        return held

    def vectors_by_content(self, doc_id: str) -> dict[str, list[float]]:
        return {
            row.metadata["content_hash"]: row.vector.tolist()
            for row in self._rows.values()
            if row.metadata["doc_id"] == doc_id
        }

    def _matching(self, where: dict | None) -> list[StoredChunk]:
        return [row for row in self._rows.values() if not where or matches(row.metadata, where)]

    def query(self, vectors: Sequence[Sequence[float]], k: int, where: dict | None = None) -> list[list[StoredChunk]]:
        rows = self._matching(where)
        results = []
        for vector in vectors:
            scored = sorted(rows, key=lambda row: -float(np.dot(row.vector, vector)))[:k]
            results.append(
                [
                    StoredChunk(r.id, r.text, dict(r.metadata), similarity=float(np.dot(r.vector, vector)))
                    for r in scored
                ]
            )
        return results

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict | None = None,
        limit: int | None = None,
        offset: int = 0,
        with_vectors: bool = False,
    ) -> list[StoredChunk]:
        rows = self._matching(where)
        if ids is not None:
            wanted = set(ids)
            rows = [row for row in rows if row.id in wanted]
        rows = rows[offset : offset + limit if limit is not None else None]
        return [StoredChunk(r.id, r.text, dict(r.metadata), r.vector if with_vectors else None) for r in rows]

    def collection_names(self) -> list[str]:
        return list(self.registry)

    def drop_collection(self, name: str) -> None:
        self.registry.pop(name, None)


class ScriptedChat(GenericFakeChatModel):
    """LangChain's generic fake chat model (it streams word by word), recording the prompts it is sent."""

    prompts: list[list[BaseMessage]] = []
    fail_with: type[BaseException] | None = None

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        self.prompts.append(list(messages))
        if self.fail_with is not None:
            raise self.fail_with("connexion refusée")
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def scripted_backend(*replies: str, fail_with: type[BaseException] | None = None) -> Backend:
    def forever() -> Iterator[str]:
        yield from replies
        while True:
            yield replies[-1] if replies else ""

    return Backend("test", "modèle de test", ScriptedChat(messages=forever(), prompts=[], fail_with=fail_with))
