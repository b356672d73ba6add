"""The fast tier: Sourcier's own logic with test doubles of the real contracts (`tests/fakes.py`).

Nothing here may load the real embedding model or start an LLM: `make test-fast` stays under a minute.
"""

import pytest

from ingest.embed import Embedder


@pytest.fixture(autouse=True)
def no_real_model(monkeypatch):
    def refuse(self):
        raise AssertionError("the fast tier must not load the real embedding model: use tests.fakes.HashingEmbedder")

    monkeypatch.setattr(Embedder, "model", property(refuse))
