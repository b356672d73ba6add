"""The `VectorStore` contract, in the style of Haystack's document-store tests: a backend's test class subclasses
`VectorStoreContract` and provides one fixture, `store`, an empty store. Vectors are fixed (no embedding model), so
every expectation is exact."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.documents import Chunk
from ingest.store import VectorStore

# Four directions: each text's vector points mostly along its own axis.
VECTORS = {
    "liste": [1.0, 0.0, 0.0, 0.0],
    "cantine": [0.0, 1.0, 0.0, 0.0],
    "permis": [0.0, 0.0, 1.0, 0.0],
    "mariage": [0.0, 0.0, 0.0, 1.0],
}
TEXTS = {
    "liste": "Pour s'inscrire sur la liste électorale, fournissez un justificatif de domicile de moins de 3 mois.",
    "cantine": "Le tarif de la cantine scolaire est fixé à 3,20 euros par repas pour les élèves de maternelle.",
    "permis": "Le permis de construire est exigé pour une construction de plus de 20 mètres carrés.",
    "mariage": "Le dossier de mariage comprend un acte de naissance de moins de 3 mois.",
}


def chunks_for(doc_id: str, version: str, service: str, keys: list[str]) -> list[Chunk]:
    return [
        Chunk(
            id=f"{doc_id}:{version}:{i:04d}",
            text=TEXTS[key],
            embedding_text=TEXTS[key],
            metadata={
                "doc_id": doc_id,
                "file_hash": version,
                "version": version,
                "content_hash": key,
                "service": service,
                "source": f"{service}/{doc_id}.pdf",
                "chunk_index": i,
                "page": i + 1,
            },
        )
        for i, key in enumerate(keys)
    ]


def write(store: VectorStore, chunks: list[Chunk]) -> None:
    store.upsert(chunks, np.array([VECTORS[c.metadata["content_hash"]] for c in chunks], dtype=np.float32))


def near(key: str) -> list[float]:
    """A query vector close to `key`'s, not equal to it."""
    vector = np.array(VECTORS[key]) + 0.1
    return (vector / np.linalg.norm(vector)).tolist()


def fill(store: VectorStore) -> None:
    write(store, chunks_for("doc1", "v1", "elections", ["liste", "cantine"]))
    write(store, chunks_for("doc2", "v1", "urbanisme", ["permis"]))
    write(store, chunks_for("doc3", "v1", "etat-civil", ["mariage"]))


class VectorStoreContract:
    @pytest.fixture
    def store(self) -> VectorStore:
        raise NotImplementedError("a backend's test class provides an empty store")

    def test_implements_the_protocol(self, store):
        assert isinstance(store, VectorStore)
        assert store.count() == 0 and store.versions() == {}

    def test_upsert_counts_and_versions(self, store):
        fill(store)
        assert store.count() == 4
        assert {k: dict(v) for k, v in store.versions().items()} == {
            "doc1": {"v1": 2},
            "doc2": {"v1": 1},
            "doc3": {"v1": 1},
        }

    def test_upsert_of_the_same_ids_replaces(self, store):
        fill(store)
        fill(store)
        assert store.count() == 4

    def test_a_new_version_coexists_until_the_old_one_is_deleted(self, store):
        fill(store)
        write(store, chunks_for("doc1", "v2", "elections", ["liste"]))
        assert dict(store.versions()["doc1"]) == {"v1": 2, "v2": 1}
        store.delete_document("doc1", keep_version="v2")
        assert dict(store.versions()["doc1"]) == {"v2": 1}
        store.delete_document("doc2")
        assert "doc2" not in store.versions() and store.count() == 2

    def test_vectors_are_reusable_by_content_hash(self, store):
        fill(store)
        reused = store.vectors_by_content("doc1")
        assert set(reused) == {"liste", "cantine"}
        assert np.allclose(reused["liste"], VECTORS["liste"], atol=1e-6)

    def test_query_returns_the_nearest_first_with_their_similarity(self, store):
        fill(store)
        (hits,) = store.query([near("permis")], k=2)
        assert [hit.id for hit in hits][:1] == ["doc2:v1:0000"] and len(hits) == 2
        assert hits[0].text == TEXTS["permis"] and hits[0].metadata["service"] == "urbanisme"
        assert hits[0].similarity == pytest.approx(float(np.dot(near("permis"), VECTORS["permis"])), abs=1e-4)
        assert hits[0].similarity > hits[1].similarity

    def test_query_answers_each_vector_of_a_batch(self, store):
        fill(store)
        results = store.query([VECTORS["liste"], VECTORS["mariage"]], k=1)
        assert [[hit.id for hit in hits] for hits in results] == [["doc1:v1:0000"], ["doc3:v1:0000"]]
        assert store.query([], k=3) == []

    def test_query_filters_inside_the_search(self, store):
        fill(store)
        # The best match overall is not returned: the filter applies before ranking, not to the top k.
        (hits,) = store.query([VECTORS["liste"]], k=1, where={"service": {"$in": ["urbanisme", "etat-civil"]}})
        assert len(hits) == 1 and hits[0].metadata["service"] in {"urbanisme", "etat-civil"}
        (hits,) = store.query([VECTORS["liste"]], k=4, where={"doc_id": {"$nin": ["doc1"]}})
        assert {hit.metadata["doc_id"] for hit in hits} == {"doc2", "doc3"}
        where = {"$and": [{"service": "elections"}, {"doc_id": {"$nin": ["doc2"]}}]}
        (hits,) = store.query([VECTORS["permis"]], k=4, where=where)
        assert {hit.metadata["doc_id"] for hit in hits} == {"doc1"}

    def test_groups_filter_every_read_and_change_without_re_embedding(self, store):
        fill(store)
        ids = [chunk.id for chunk in store.get()]
        groups = {"doc1": ["tous"], "doc2": ["dgs", "urbanisme"], "doc3": ["@admins"]}
        store.update_metadata(ids, [{"access": groups[i.split(":")[0]]} for i in ids])
        urbanism = {"$or": [{"access": {"$contains": "urbanisme"}}, {"access": {"$contains": "tous"}}]}
        # The nearest chunk overall (doc3, « mariage ») is not theirs: the filter applies before ranking.
        (hits,) = store.query([VECTORS["mariage"]], k=4, where=urbanism)
        assert {hit.metadata["doc_id"] for hit in hits} == {"doc1", "doc2"}
        assert {c.metadata["doc_id"] for c in store.get(ids=ids, where={"access": {"$contains": "dgs"}})} == {"doc2"}
        before = {c.id: c.vector.tolist() for c in store.get(with_vectors=True)}
        store.update_metadata(["doc3:v1:0000"], [{"access": ["tous"]}])
        (chunk,) = store.get(ids=["doc3:v1:0000"], with_vectors=True)
        assert chunk.metadata["access"] == ["tous"] and chunk.metadata["service"] == "etat-civil"
        assert chunk.text == TEXTS["mariage"] and chunk.vector.tolist() == before["doc3:v1:0000"]

    def test_get_by_ids_and_filter(self, store):
        fill(store)
        got = store.get(ids=["doc2:v1:0000", "doc1:v1:0001", "absent"])
        assert {chunk.id for chunk in got} == {"doc2:v1:0000", "doc1:v1:0001"}
        assert {chunk.text for chunk in got} == {TEXTS["permis"], TEXTS["cantine"]}
        assert store.get(ids=[]) == []
        scoped = store.get(ids=["doc2:v1:0000", "doc1:v1:0001"], where={"doc_id": {"$nin": ["doc2"]}})
        assert [chunk.id for chunk in scoped] == ["doc1:v1:0001"]
        assert {chunk.metadata["doc_id"] for chunk in store.get(where={"service": "elections"})} == {"doc1"}

    def test_pages_cover_every_chunk_once(self, store):
        fill(store)
        seen = []
        for offset in range(0, 4, 3):
            seen += [chunk.id for chunk in store.get(limit=3, offset=offset)]
        assert sorted(seen) == sorted(chunk.id for chunk in store.get())
        assert len(seen) == 4

    def test_vectors_only_when_asked(self, store):
        fill(store)
        (plain,) = store.get(ids=["doc3:v1:0000"])
        (full,) = store.get(ids=["doc3:v1:0000"], with_vectors=True)
        assert plain.vector is None
        assert np.allclose(full.vector, VECTORS["mariage"], atol=1e-6)

    def test_collections_are_listed_and_dropped(self, store):
        assert store.name in store.collection_names()
        store.drop_collection("absent-collection")  # dropping what is not there is not an error
        assert store.name in store.collection_names()
