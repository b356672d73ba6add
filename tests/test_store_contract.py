"""One contract, two stores: the embedded persistent Chroma and a real `chroma run` server on loopback."""

import numpy as np
import pytest

from ingest.documents import Chunk
from ingest.store import ChunkStore
from sourcier.errors import ConfigurationError, StoreUnavailableError
from sourcier.settings import StoreSettings
from tests.conftest import free_port

TEXTS = {
    "liste": "Pour s'inscrire sur la liste électorale, fournissez un justificatif de domicile de moins de 3 mois.",
    "cantine": "Le tarif de la cantine scolaire est fixé à 3,20 euros par repas pour les élèves de maternelle.",
    "permis": "Le permis de construire est exigé pour une construction de plus de 20 mètres carrés.",
}


@pytest.fixture(params=["embedded", "server"])
def store_settings(request, tmp_path) -> StoreSettings:
    if request.param == "embedded":
        return StoreSettings(path=tmp_path / "vectorstore")
    host, port = request.getfixturevalue("chroma_server")
    return StoreSettings(path=tmp_path / "vectorstore", host=host, port=port, collection=f"c{tmp_path.name[-8:]}")


def chunks_for(doc_id: str, file_hash: str, service: str, keys: list[str]) -> list[Chunk]:
    return [
        Chunk(
            id=f"{doc_id}:{file_hash}:{i:04d}",
            text=TEXTS[key],
            embedding_text=TEXTS[key],
            metadata={
                "doc_id": doc_id,
                "file_hash": file_hash,
                "version": file_hash,
                "content_hash": key,
                "service": service,
                "source": f"{service}/{doc_id}.pdf",
                "chunk_index": i,
                "page": i + 1,
            },
        )
        for i, key in enumerate(keys)
    ]


def write(store: ChunkStore, embedder, chunks: list[Chunk]) -> None:
    store.upsert(chunks, embedder.embed_passages([c.embedding_text for c in chunks]))


def test_upsert_versions_and_replace(store_settings, embedder):
    store = ChunkStore.open(store_settings, "multilingual-e5-small")
    write(store, embedder, chunks_for("doc1", "v1", "elections", ["liste", "cantine"]))
    write(store, embedder, chunks_for("doc2", "v1", "urbanisme", ["permis"]))
    assert store.count() == 3
    assert {k: dict(v) for k, v in store.versions().items()} == {"doc1": {"v1": 2}, "doc2": {"v1": 1}}

    # A new version is written before the old one is removed: in between, both are present.
    write(store, embedder, chunks_for("doc1", "v2", "elections", ["liste"]))
    assert dict(store.versions()["doc1"]) == {"v1": 2, "v2": 1}
    store.delete_document("doc1", keep_version="v2")
    assert dict(store.versions()["doc1"]) == {"v2": 1}

    store.delete_document("doc2")
    assert "doc2" not in store.versions()
    assert store.count() == 1


def test_vectors_are_reusable_by_content_hash(store_settings, embedder):
    store = ChunkStore.open(store_settings, "multilingual-e5-small")
    chunks = chunks_for("doc1", "v1", "elections", ["liste", "cantine"])
    vectors = embedder.embed_passages([c.embedding_text for c in chunks])
    store.upsert(chunks, vectors)
    reused = store.vectors_by_content("doc1")
    assert set(reused) == {"liste", "cantine"}
    assert np.allclose(reused["liste"], vectors[0], atol=1e-5)


def test_langchain_retrieval_with_filter_inside_the_query(store_settings, embedder):
    store = ChunkStore.open(store_settings, "multilingual-e5-small")
    write(store, embedder, chunks_for("doc1", "v1", "elections", ["liste", "cantine"]))
    write(store, embedder, chunks_for("doc2", "v1", "urbanisme", ["permis"]))
    vectorstore = store.as_langchain(embedder)

    best = vectorstore.similarity_search("Quels papiers pour voter dans ma commune ?", k=1)
    assert best[0].metadata["doc_id"] == "doc1" and "liste électorale" in best[0].page_content

    # The service filter applies inside retrieval: the best match overall is not returned.
    filtered = vectorstore.similarity_search("Quels papiers pour voter ?", k=3, filter={"service": "urbanisme"})
    assert [d.metadata["doc_id"] for d in filtered] == ["doc2"]


def test_a_collection_refuses_another_embedding_model(store_settings, embedder):
    store = ChunkStore.open(store_settings, "multilingual-e5-small")
    write(store, embedder, chunks_for("doc1", "v1", "elections", ["liste"]))
    with pytest.raises(ConfigurationError, match="--rebuild"):
        ChunkStore.open(store_settings, "all-MiniLM-L6-v2")


def test_unreachable_server_is_a_clear_error(tmp_path):
    settings = StoreSettings(path=tmp_path, host="127.0.0.1", port=free_port())
    with pytest.raises(StoreUnavailableError, match="injoignable"):
        ChunkStore.open(settings, "multilingual-e5-small")
