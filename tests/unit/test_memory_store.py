"""The in-memory store used by the fast tier passes the same contract as Chroma."""

import pytest

from tests.fakes import MemoryStore
from tests.store_contract import VectorStoreContract


class TestMemoryStore(VectorStoreContract):
    @pytest.fixture
    def store(self):
        return MemoryStore("contract")
