"""The optional ONNX Runtime int8 runtime of the embedding model: built offline from the converted folder, close to
the fp32 vectors, and never mixed with them in one index."""

import numpy as np
import pytest

from ingest.embed import Embedder
from ingest.pipeline import IngestionPipeline
from sourcier.errors import ConfigurationError
from sourcier.settings import EmbeddingRuntime
from tests.conftest import FICHES, FRENCH_PASSAGES, FRENCH_QUESTIONS, copy_into, make_settings

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def int8(embedding_settings):
    return Embedder(embedding_settings.model_copy(update={"runtime": EmbeddingRuntime.ONNX_INT8}))


def test_int8_vectors_stay_close_to_fp32_and_find_the_same_passages(int8, embedder):
    reference, quantised = embedder.embed_passages(FRENCH_PASSAGES), int8.embed_passages(FRENCH_PASSAGES)
    assert quantised.shape == reference.shape and quantised.dtype == np.float32
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-4)
    assert (quantised * reference).sum(axis=1).min() > 0.98
    scores = int8.embed_queries(FRENCH_QUESTIONS) @ quantised.T
    assert list(np.argmax(scores, axis=1)) == [0, 1, 2, 3]
    assert int8.embed_passages([]).shape == (0, reference.shape[1])


def test_an_index_built_with_one_runtime_refuses_the_other(tmp_path, int8, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHES / "F1965.html")
    IngestionPipeline(settings, embedder=embedder).run()
    settings.embedding.runtime = EmbeddingRuntime.ONNX_INT8
    assert int8.name != embedder.name
    with pytest.raises(ConfigurationError, match="--rebuild"):
        IngestionPipeline(settings, embedder=int8).run()
