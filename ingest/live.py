"""The live index: the one way to read chunks.

`LiveIndex.open(settings)` resolves, once, the manifest's active collection (a rebuild switches it), the vector store
holding it and its lexical index. Every read — nearest vectors, lexical search, chunks by id, iteration, counts — goes
through `scope()`, which narrows it to what its reader may see: documents an admin excluded are left out, and only
chunks whose `access` groups meet the reader's groups are read — so that no caller (chat, CLI, report, admin page,
API) can reach around the rules. An index opened without a reader reads nothing: `for_reader` binds one (the same
store and lexical index, shared). Only the ingestion pipeline, which writes, talks to a `VectorStore` directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ingest.lexical import LexicalIndex, matches
from ingest.manifest import INDEX_VERSION, DocumentRecord, Manifest
from ingest.store import ChromaStore, StoredChunk, VectorStore
from sourcier.access import Reader
from sourcier.errors import AccessDeniedError
from sourcier.layout import StoreLayout
from sourcier.models.embedding import embedding_model_id
from sourcier.settings import Settings, StoreSettings

OVERFETCH = 4  # how many more nearest chunks to fetch unfiltered before falling back to a filtered query


@dataclass(frozen=True)
class LiveDocuments:
    """What the manifest says of the live collection, read in one go."""

    collection: str
    documents: dict[str, DocumentRecord]  # by path
    excluded: dict[str, dict]  # by doc_id
    last_run: dict | None


def read_live_documents(settings: Settings) -> LiveDocuments:
    with Manifest(settings.store) as manifest:
        collection = manifest.active_collection(settings.store.collection)
        return LiveDocuments(collection, manifest.documents(collection), manifest.excluded(), manifest.last_run())


def index_stamp(settings: Settings) -> tuple[str, str]:
    """Changes whenever an ingestion (or a change of rights) changed what the live index holds, on any server."""
    with Manifest(settings.store) as manifest:
        return manifest.active_collection(settings.store.collection), manifest.state(INDEX_VERSION) or ""


def narrowed_to(services: Sequence[str] = (), formats: Sequence[str] = ()) -> dict | None:
    """The filter of a search an agent narrowed to some services or formats (None: the whole index they may read),
    in the store's filter language: what the pages, the CLI and the API hand to the answerer."""
    chosen = (("service", services), ("format", formats))
    return _and(*({key: {"$in": list(values)}} for key, values in chosen if values))


def _and(*clauses: dict | None) -> dict | None:
    present = [clause for clause in clauses if clause]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"$and": present}


class LiveIndex:
    def __init__(
        self, state: StoreSettings, collection: str, store: VectorStore, reader: Reader | None = None, _lexical=None
    ) -> None:
        self.state = state  # where the manifest and the lexical index's local copy are
        self.layout = StoreLayout(state.path)
        self.collection = collection
        self.reader = reader
        self._store = store
        self._lexical_holder: list[LexicalIndex] = _lexical if _lexical is not None else []

    def for_reader(self, reader: Reader) -> LiveIndex:
        """The same index, read for `reader`: only what they may read."""
        return LiveIndex(self.state, self.collection, self._store, reader, self._lexical_holder)

    @classmethod
    def open(
        cls, settings: Settings, store: VectorStore | None = None, reader: Reader | None = None, fresh: bool = False
    ) -> LiveIndex:
        """The active collection of `settings`' store, read for `reader` (none: nothing can be read until
        `for_reader`); `store` replaces Chroma (tests, other backends); `fresh`: read from disk again, for a server
        process after an ingestion in another process."""
        with Manifest(settings.store) as manifest:
            collection = manifest.active_collection(settings.store.collection)
        if store is None:
            store = ChromaStore.open(settings.store, embedding_model_id(settings.embedding), collection, fresh=fresh)
        return cls(settings.store, collection, store, reader)

    @property
    def embedding_model(self) -> str:
        return self._store.embedding_model

    # --- the scope every read goes through ------------------------------------------------------------

    def scope(self) -> dict | None:
        """The filter every read is narrowed by: the reader's rights and the exclusions (read at each call, so
        that an admin's exclusion applies at once)."""
        if self.reader is None:
            raise AccessDeniedError("Lecture de l'index sans utilisateur identifié : refusée.")
        with Manifest(self.state) as manifest:
            excluded = sorted(manifest.excluded())
        return _and({"doc_id": {"$nin": excluded}} if excluded else None, self.reader.clause())

    # --- reads ----------------------------------------------------------------------------------------

    def nearest(self, vectors: Sequence[Sequence[float]], k: int, where: dict | None = None) -> list[list[StoredChunk]]:
        """For each vector, its `k` nearest chunks within the scope (and `where`), best first.

        A filtered Chroma query first lists every chunk the filter allows (~60 ms at 40k chunks, growing with the
        collection), while an unfiltered one costs a few milliseconds. So the nearest `OVERFETCH × k` are fetched
        unfiltered and filtered here with the same clause: when `k` of them pass, they are exactly the `k` nearest
        allowed chunks (any nearer allowed chunk would be among them). Otherwise — a reader who may read little —
        the filtered query runs. Either way nothing outside the scope is returned."""
        scope = _and(where, self.scope())
        if scope is None:
            return self._store.query(vectors, k)
        wide = self._store.query(vectors, k * OVERFETCH)
        results = []
        for vector, hits in zip(vectors, wide, strict=True):
            allowed = [hit for hit in hits if matches(hit.metadata, scope)]
            if len(allowed) >= k or len(hits) < k * OVERFETCH:  # enough, or the whole collection was seen
                results.append(allowed[:k])
            else:
                results.append(self._store.query([vector], k, scope)[0])
        return results

    def lexical_search(self, query: str, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """BM25 hits (chunk id, score) within the scope; the filter applies before ranking."""
        return self._lexical.search(query, k, where=_and(where, self.scope()))

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[StoredChunk]:
        """Chunks by id; ids outside the scope are simply not returned. (Filtered here: Chroma would evaluate the
        clause over the whole collection before looking at the ids.)"""
        scope = self.scope()
        chunks = self._store.get(ids=list(ids), with_vectors=with_vectors)
        return chunks if scope is None else [chunk for chunk in chunks if matches(chunk.metadata, scope)]

    def chunks(self, with_vectors: bool = False, page_size: int = 2000) -> Iterator[StoredChunk]:
        """Every chunk within the scope, page by page."""
        where = self.scope()
        offset = 0
        while True:
            page = self._store.get(where=where, limit=page_size, offset=offset, with_vectors=with_vectors)
            yield from page
            if len(page) < page_size:
                return
            offset += page_size

    def counts_per_document(self) -> Counter:
        """doc_id → chunks held, within the scope."""
        where = self.scope()
        if self.reader is not None and self.reader.clause() is not None:  # rights are per chunk: count those read
            return Counter(chunk.metadata["doc_id"] for chunk in self.chunks())
        counts: Counter = Counter()
        for doc_id, versions in self._store.versions().items():
            if where is None or matches({"doc_id": doc_id}, where):
                counts[doc_id] = sum(versions.values())
        return counts

    def count(self) -> int:
        return self._store.count() if self.scope() is None else sum(self.counts_per_document().values())

    def may_read_document(self, relative_path: str) -> bool:
        """Whether the reader may open a document's file (downloads, rendered pages): they may read one of its
        chunks."""
        return bool(self._store.get(where=_and({"source": relative_path}, self.scope()), limit=1))

    @property
    def _lexical(self) -> LexicalIndex:
        # Loaded on first lexical search only (status and the report never pay for it), shared by every reader.
        if not self._lexical_holder:
            with Manifest(self.state) as manifest:
                version = manifest.state(INDEX_VERSION) or ""
            path = self.layout.lexical(self.collection)
            self._lexical_holder.append(LexicalIndex.at_version(path, self._store, version))
        return self._lexical_holder[0]
