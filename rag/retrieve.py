"""Retrieve: dense (Chroma, e5 `query: ` prompt) + lexical (BM25), fused by reciprocal rank fusion, with a
document-level term: the candidate documents ranked by how close their opening passage is to the question.

Filters (service, format...) are Chroma `where` clauses applied inside both retrievers, never after; the live
index ANDs its scope (the reader's rights, exclusions) into every read. Who reads is passed with each query
(`invoke(query, reader=...)`): one retriever serves every user.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from ingest.embed import TextEmbedder
from ingest.live import LiveIndex
from ingest.split import opening_chunk_id
from ingest.store import StoredChunk
from rag.question import plain, specifics
from sourcier.settings import RetrievalMode

RRF_K = 60  # the usual constant: flattens the head of each ranking so that agreement between them wins
FUSION_FILE = Path(__file__).with_name("fusion_weights.json")
BACKGROUND_FILE = Path(__file__).with_name("background_questions.txt")
MAX_FLOORS = 256  # noise floors kept (one per collection and reader scope)
# How far below the best passage's standing (in standard deviations among the candidates) a passage may stand and
# still be read by the model. Chosen on the dev parts, without the model: 2.0 keeps every question's right fiche on
# service-public and loses it for 8 of 406 CDTN queries (it ranked far below a passage that stood out) while leaving
# out 65 % and 21 % of the other documents' passages (see README, answer speed and quality).
STANDOUT_GAP = 2.0


@cache
def background_questions() -> tuple[str, ...]:
    lines = BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def reciprocal_rank_fusion(
    rankings: list[list[str]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return dict(sorted(fused.items(), key=lambda pair: pair[1], reverse=True))


def with_openings(
    fused: dict[str, float], document_of: dict[str, str], by_opening: list[str], weight: float, k: int = RRF_K
) -> dict[str, float]:
    """Each chunk gains its document's reciprocal rank in `by_opening` (documents ranked by how close their opening
    passage is to the question). A chunk can match a question by a detail; the document whose opening — what it
    says it is about — matches the question is usually the one that answers it, and its chunks move up."""
    bonus = {document: weight / (k + rank) for rank, document in enumerate(by_opening, start=1)}
    rescored = {chunk_id: score + bonus.get(document_of[chunk_id], 0.0) for chunk_id, score in fused.items()}
    return dict(sorted(rescored.items(), key=lambda pair: pair[1], reverse=True))


def with_a_word_match(first: list[str], lexical_ranking: list[str]) -> list[str]:
    """The first passages, with the best lexical one in the last place when none of them holds a word of the
    question. The documents' openings and meaning can outvote every passage that names what a terse query asks
    (« blâme », « loyauté »): the model would read nothing that names it, and abstention would refuse it (no
    question word in any passage)."""
    if not first or not lexical_ranking or set(first) & set(lexical_ranking):
        return first
    return [*first[:-1], lexical_ranking[0]]


def passage_naming(
    first: list[str],
    ranked: list[str],
    text_of: Callable[[str], str],
    wanted: Sequence[str],
    document_of: dict[str, str],
) -> str | None:
    """The best-ranked other passage of the first passages' documents that names a specific of the question none of
    them names — to take the last place (« gratification stagiaire 2020 »: the fiche's worked example for 2020 ranked
    below its general paragraphs). `text_of` gives a candidate's plain text, `wanted` the specifics' plain forms.
    Only those documents: elsewhere, the passages that name a year were about something else (an order of
    25 September 2019 on tourist zones for « jours fériés novembre 2019 ») and hid that the documents do not say it."""
    missing = [specific for specific in wanted if not any(specific in text_of(chunk_id) for chunk_id in first)]
    if len(first) < 2 or not missing:  # the first-ranked passage keeps its place
        return None
    documents = {document_of[chunk_id] for chunk_id in first}
    return next(
        (
            chunk_id
            for chunk_id in ranked
            if chunk_id not in first
            and document_of[chunk_id] in documents
            and any(specific in text_of(chunk_id) for specific in missing)
        ),
        None,
    )


@dataclass(frozen=True)
class Fusion:
    """How much each ranking weighs in the fusion. Learned on the dev part of the service-public set
    (`python -m evaluation.fusion`)."""

    dense: float = 1.0
    lexical: float = 1.0
    opening: float = 0.0  # the documents' ranking by their opening passage (hybrid mode)

    @classmethod
    @cache
    def shipped(cls) -> Fusion:
        return cls(**json.loads(FUSION_FILE.read_text(encoding="utf-8")))


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: LiveIndex  # every read is scoped there (the reader's rights, exclusions)
    embedder: TextEmbedder
    k: int = 6
    candidates: int = 30  # per retriever, before fusion
    mode: RetrievalMode = RetrievalMode.HYBRID
    where: dict | None = None
    fusion: Fusion | None = None  # None: the shipped weights
    _background_vectors: list = PrivateAttr(default_factory=list)
    _floors: dict[tuple[str, str], tuple[float, float]] = PrivateAttr(default_factory=dict)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None, **kwargs: Any
    ) -> list[Document]:
        where = kwargs.get("where", self.where)
        k = kwargs.get("k", self.k)
        reader = kwargs.get("reader")
        index = self.index.for_reader(reader) if reader is not None else self.index
        found: dict[str, Document] = {}
        rankings: list[list[str]] = []
        dense_scores: dict[str, float] = {}
        lexical_scores: dict[str, float] = {}

        query_vector: list[float] | None = None
        if self.mode in {RetrievalMode.HYBRID, RetrievalMode.DENSE}:
            query_vector = self.embedder.embed_query(query)
            hits = index.nearest([query_vector], self.candidates, where=where)[0]
            for hit in hits:
                found[hit.id] = _document(hit)
                dense_scores[hit.id] = float(hit.similarity or 0.0)
            rankings.append([hit.id for hit in hits])
            floor, floor_spread = self._noise_floor(index, where)

        if self.mode in {RetrievalMode.HYBRID, RetrievalMode.BM25}:
            lexical_hits = index.lexical_search(query, self.candidates, where=where)
            lexical_scores = dict(lexical_hits)
            rankings.append([chunk_id for chunk_id, _ in lexical_hits])
            missing = [chunk_id for chunk_id, _ in lexical_hits if chunk_id not in found]
            for chunk in index.get(missing):
                found[chunk.id] = _document(chunk)

        fusion = self.fusion or Fusion.shipped()
        weights = [fusion.dense, fusion.lexical] if self.mode == RetrievalMode.HYBRID else None
        fused = reciprocal_rank_fusion(rankings, weights=weights)
        if self.mode == RetrievalMode.HYBRID and fusion.opening and query_vector is not None:
            fused = with_openings(fused, *rank_by_opening(index, fused, query_vector), weight=fusion.opening)
        # How far each passage stands out from the other candidates of its retriever: a scale every embedding
        # model and every corpus shares, unlike raw cosine or BM25 values (what abstention is decided on).
        dense_z, lexical_z = _standardised(dense_scores), _standardised(lexical_scores)
        dense_rank = {chunk_id: rank for rank, chunk_id in enumerate(rankings[0], start=1)} if dense_scores else {}
        lexical_rank = {chunk_id: rank for rank, chunk_id in enumerate(rankings[-1], start=1)} if lexical_scores else {}
        first = list(fused)[:k]
        naming = None  # a passage brought in because it names a specific of the question
        wanted = [plain(specific.text) for specific in specifics(query) if not specific.relative_date]
        if wanted:

            @cache  # folded only when looked at: the first passages and the other passages of their documents
            def text_of(chunk_id: str) -> str:
                document = found.get(chunk_id)  # None: in the lexical index but gone from the store
                return plain(f"{document.page_content} {document.metadata.get('title', '')}") if document else ""

            document_of = {chunk_id: opening_chunk_id(chunk_id) for chunk_id in fused}
            naming = passage_naming(first, list(fused), text_of, wanted, document_of)
            first = [*first[:-1], naming] if naming else first
        if self.mode == RetrievalMode.HYBRID:
            first = with_a_word_match(first, rankings[-1])
        documents = []
        for chunk_id in first:
            score = fused[chunk_id]
            document = found.get(chunk_id)
            if document is None:  # in the lexical index but gone from the store (being re-ingested)
                continue
            document.metadata["score"] = round(score, 5)
            if chunk_id == naming:
                document.metadata["names_a_specific"] = True
            if chunk_id in dense_scores:
                document.metadata["dense_score"] = round(dense_scores[chunk_id], 4)
                document.metadata["dense_z"] = round(dense_z[chunk_id], 3)
                document.metadata["dense_rank"] = dense_rank[chunk_id]
                document.metadata["dense_lift"] = round((dense_scores[chunk_id] - floor) / floor_spread, 3)
            if chunk_id in lexical_scores:
                document.metadata["bm25_score"] = round(lexical_scores[chunk_id], 3)
                document.metadata["bm25_z"] = round(lexical_z[chunk_id], 3)
                document.metadata["bm25_rank"] = lexical_rank[chunk_id]
            documents.append(document)
        return documents

    def _noise_floor(self, index: LiveIndex, where: dict | None) -> tuple[float, float]:
        """Mean and spread of the similarity the best passage reaches for questions this index cannot be about
        (`background_questions.txt`), in what this reader may read. A passage's lift above that floor says how
        related it is on the embedding model's own scale — e5 puts every French pair above 0.75; another model
        elsewhere — without a threshold tied to one model. Computed once per collection and reader scope (the app
        and the API build a new retriever when an ingestion changes the index)."""
        key = (index.collection, json.dumps([index.scope(), where], sort_keys=True))
        if key not in self._floors:
            if not self._background_vectors:
                self._background_vectors = self.embedder.embed_queries(list(background_questions())).tolist()
            best = [hits[0].similarity or 0.0 for hits in index.nearest(self._background_vectors, 1, where) if hits]
            if len(self._floors) >= MAX_FLOORS:
                self._floors.clear()
            mean = statistics.fmean(best) if best else 0.0
            self._floors[key] = (mean, (statistics.pstdev(best) if len(best) > 1 else 0.0) or 1.0)
        return self._floors[key]


def rank_by_opening(
    index: LiveIndex, chunk_ids: Iterable[str], query_vector: Sequence[float]
) -> tuple[dict[str, str], list[str]]:
    """Each chunk's document (the id of its first chunk), and those documents ranked by the similarity of their first
    chunk to the question — read within the reader's scope, like every other read."""
    document_of = {chunk_id: opening_chunk_id(chunk_id) for chunk_id in chunk_ids}
    openings = index.get(list(dict.fromkeys(document_of.values())), with_vectors=True)
    query = np.asarray(query_vector, dtype=np.float32)
    closeness = {chunk.id: float(chunk.vector @ query) for chunk in openings if chunk.vector is not None}
    return document_of, sorted(closeness, key=closeness.__getitem__, reverse=True)


def standing_out(passages: Sequence[Document], gap: float = STANDOUT_GAP) -> list[Document]:
    """The passages that stand out among the candidates nearly as much as the best one does, by meaning or by words
    (their `dense_z` or `bm25_z`), and always the first-ranked. Given four passages, the small model wrote one list
    item per passage — the first sentence of each, in their order — whether or not it bore on the question (10 or 11
    of 24 FAQ answers: « horaires de la déchetterie » answered with the bus timetable and the bulky waste); given those
    that stand out, it has nothing else to list. Passages without standings (not scored by a retriever) are all kept;
    so is a passage brought in because it names what the question asks about (« 2020 »)."""
    standings = [
        max(values)
        for passage in passages
        if (values := [passage.metadata[key] for key in ("dense_z", "bm25_z") if key in passage.metadata])
    ]
    if len(standings) < len(passages):
        return list(passages)
    best = max(standings, default=0.0)
    kept = zip(passages, standings, strict=True)
    return [
        passage
        for rank, (passage, value) in enumerate(kept)
        if rank == 0 or value >= best - gap or passage.metadata.get("names_a_specific")
    ]


def _standardised(scores: dict[str, float]) -> dict[str, float]:
    if len(scores) < 3:
        return dict.fromkeys(scores, 0.0)
    values = list(scores.values())
    mean = statistics.fmean(values)
    spread = statistics.pstdev(values) or 1.0
    return {key: (value - mean) / spread for key, value in scores.items()}


def _document(chunk: StoredChunk) -> Document:
    return Document(page_content=chunk.text, metadata=dict(chunk.metadata), id=chunk.id)
