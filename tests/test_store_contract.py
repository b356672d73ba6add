"""The store contract against Chroma: embedded (persistent, on disk) and a real `chroma run` server on loopback."""

import itertools
import subprocess
import sys

import pytest

from ingest.store import ChromaStore
from sourcier.errors import ConfigurationError, StoreUnavailableError
from sourcier.settings import StoreSettings
from tests.conftest import REPO, free_port
from tests.store_contract import VectorStoreContract, chunks_for, near, write
from tests.tls_proxy import tls_proxy

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


@pytest.fixture(scope="module")
def chroma_behind_tls(tmp_path_factory, chroma_server):
    """The Chroma server as a site deploys it: behind a proxy that terminates TLS and checks a token."""
    with tls_proxy(tmp_path_factory.mktemp("proxy-chroma"), chroma_server[1]) as proxy:
        yield proxy


class TestChromaBehindATLSProxy(TestChromaServer):
    @pytest.fixture
    def store_settings(self, tmp_path, chroma_behind_tls) -> StoreSettings:
        proxy = chroma_behind_tls
        return StoreSettings(
            path=tmp_path / "vectorstore", host="localhost", port=proxy.port, tls=True, ca_file=proxy.ca_file,
            token=proxy.token, collection=next(_names),
        )  # fmt: skip

    def test_without_the_token_or_with_another_authority_sourcier_is_refused(self, store_settings):
        with pytest.raises(ConfigurationError, match="jeton absent ou faux"):
            ChromaStore.open(store_settings.model_copy(update={"token": None}), "multilingual-e5-small")
        with pytest.raises(ConfigurationError, match="jeton absent ou faux"):
            ChromaStore.open(store_settings.model_copy(update={"token": "devine"}), "multilingual-e5-small")
        with pytest.raises(StoreUnavailableError, match="injoignable"):  # the system's authorities do not know it
            ChromaStore.open(store_settings.model_copy(update={"ca_file": None}), "multilingual-e5-small")


def test_a_remote_chroma_in_clear_is_refused(tmp_path):
    settings = StoreSettings(path=tmp_path, host="10.0.0.20", port=8000)
    with pytest.raises(ConfigurationError, match="en clair et sans authentification"):
        ChromaStore.open(settings, "multilingual-e5-small")


def test_unreachable_server_is_a_clear_error(tmp_path):
    settings = StoreSettings(path=tmp_path, host="127.0.0.1", port=free_port())
    with pytest.raises(StoreUnavailableError, match="injoignable"):
        ChromaStore.open(settings, "multilingual-e5-small")


_WRITER = """
import sys
from ingest.store import ChromaStore
from sourcier.settings import StoreSettings
from tests.store_contract import chunks_for, write
store = ChromaStore.open(StoreSettings(path=sys.argv[1]), "multilingual-e5-small")
write(store, chunks_for("doc2", "v1", "urbanisme", ["permis"]))
"""


def test_a_server_process_finds_what_another_process_wrote_once_it_reads_afresh(tmp_path):
    """An embedded Chroma keeps each collection's vector index in memory per process: what an ingestion (another
    process) wrote is counted but never found by a nearest-neighbour query — until the reader opens it afresh, as
    the app and the API do when the index version changes."""
    settings = StoreSettings(path=tmp_path / "vectorstore")
    reader = ChromaStore.open(settings, "multilingual-e5-small")
    write(reader, chunks_for("doc1", "v1", "elections", ["liste"]))
    assert [hit.id for hit in reader.query([near("permis")], 2)[0]] == ["doc1:v1:0000"]
    subprocess.run([sys.executable, "-c", _WRITER, str(settings.path)], check=True, cwd=REPO, timeout=120)
    assert reader.count() == 2
    assert "doc2:v1:0000" not in [hit.id for hit in reader.query([near("permis")], 2)[0]]  # Chroma's behaviour
    fresh = ChromaStore.open(settings, "multilingual-e5-small", fresh=True)
    assert fresh.query([near("permis")], 2)[0][0].id == "doc2:v1:0000"
