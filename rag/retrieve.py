"""Retrieve: dense (Chroma, e5 `query: ` prompt) + lexical (BM25), fused by reciprocal rank fusion.

Filters (service, format...) are Chroma `where` clauses applied inside both retrievers, never after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from ingest.embed import Embedder
from ingest.lexical import LexicalIndex
from ingest.store import ChunkStore

Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60  # the usual constant: flattens the head of each ranking so that agreement between them wins


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return dict(sorted(fused.items(), key=lambda pair: pair[1], reverse=True))


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChunkStore
    embedder: Embedder
    lexical: LexicalIndex
    k: int = 6
    candidates: int = 30  # per retriever, before fusion
    mode: Mode = "hybrid"
    where: dict | None = None
    # Read at every query, so that an exclusion made by an admin applies at once, in every retriever.
    excluded: Callable[[], Iterable[str]] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None, **kwargs: Any
    ) -> list[Document]:
        where = self._scoped(kwargs.get("where", self.where))
        k = kwargs.get("k", self.k)
        found: dict[str, Document] = {}
        rankings: list[list[str]] = []
        dense_scores: dict[str, float] = {}
        lexical_scores: dict[str, float] = {}

        if self.mode in {"hybrid", "dense"}:
            result = self.store.collection.query(
                query_embeddings=[self.embedder.embed_query(query)],
                n_results=self.candidates,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
            ids = result["ids"][0]
            for chunk_id, text, metadata, distance in zip(
                ids, result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            ):
                found[chunk_id] = Document(page_content=text, metadata=dict(metadata), id=chunk_id)
                dense_scores[chunk_id] = 1.0 - float(distance)  # cosine similarity
            rankings.append(ids)

        if self.mode in {"hybrid", "bm25"}:
            hits = self.lexical.search(query, self.candidates, where=where)
            lexical_scores = dict(hits)
            rankings.append([chunk_id for chunk_id, _ in hits])
            missing = [chunk_id for chunk_id, _ in hits if chunk_id not in found]
            if missing:
                page = self.store.collection.get(ids=missing, include=["documents", "metadatas"])
                for chunk_id, text, metadata in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                    found[chunk_id] = Document(page_content=text, metadata=dict(metadata), id=chunk_id)

        fused = reciprocal_rank_fusion(rankings)
        documents = []
        for chunk_id, score in list(fused.items())[:k]:
            document = found.get(chunk_id)
            if document is None:  # in the lexical index but gone from the store (being re-ingested)
                continue
            document.metadata["score"] = round(score, 5)
            if chunk_id in dense_scores:
                document.metadata["dense_score"] = round(dense_scores[chunk_id], 4)
            if chunk_id in lexical_scores:
                document.metadata["bm25_score"] = round(lexical_scores[chunk_id], 3)
            documents.append(document)
        return documents

    def _scoped(self, where: dict | None) -> dict | None:
        """The caller's filter, narrowed to the documents retrieval may return."""
        excluded = sorted(self.excluded()) if self.excluded else []
        if not excluded:
            return where or None
        allowed = {"doc_id": {"$nin": excluded}}
        return {"$and": [where, allowed]} if where else allowed
