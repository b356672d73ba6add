"""The store contract against Chroma: embedded (persistent, on disk) and a real `chroma run` server on loopback."""

import itertools

import pytest

from ingest.store import ChromaStore
from sourcier.errors import ConfigurationError, StoreUnavailableError
from sourcier.settings import StoreSettings
from tests.conftest import free_port
from tests.store_contract import VectorStoreContract, chunks_for, write

_names = (f"contract{i}" for i in itertools.count())


class TestEmbeddedChroma(VectorStoreContract):
    @pytest.fixture
    def store_settings(self, tmp_path) -> StoreSettings:
        return StoreSettings(path=tmp_path / "vectorstore")

    @pytest.fixture
    def store(self, store_settings):
        return ChromaStore.open(store_settings, "multilingual-e5-small")

    def test_a_collection_refuses_another_embedding_model(self, store, store_settings):
        write(store, chunks_for("doc1", "v1", "elections", ["liste"]))
        with pytest.raises(ConfigurationError, match="--rebuild"):
            ChromaStore.open(store_settings, "all-MiniLM-L6-v2", store.name)

    def test_what_is_written_survives_a_reopening(self, store, store_settings):
        write(store, chunks_for("doc1", "v1", "elections", ["liste", "cantine"]))
        reopened = ChromaStore.open(store_settings, "multilingual-e5-small", store.name)
        assert reopened.count() == 2


class TestChromaServer(TestEmbeddedChroma):
    @pytest.fixture
    def store_settings(self, tmp_path, chroma_server) -> StoreSettings:
        host, port = chroma_server
        return StoreSettings(path=tmp_path / "vectorstore", host=host, port=port, collection=next(_names))

    @pytest.fixture
    def store(self, store_settings):
        return ChromaStore.open(store_settings, "multilingual-e5-small")

    def test_collections_are_listed_and_dropped(self, store, store_settings):
        super().test_collections_are_listed_and_dropped(store)
        other = ChromaStore.open(store_settings, "multilingual-e5-small", next(_names))
        assert other.name in store.collection_names()
        store.drop_collection(other.name)
        assert other.name not in store.collection_names()


def test_unreachable_server_is_a_clear_error(tmp_path):
    settings = StoreSettings(path=tmp_path, host="127.0.0.1", port=free_port())
    with pytest.raises(StoreUnavailableError, match="injoignable"):
        ChromaStore.open(settings, "multilingual-e5-small")
