"""The OpenVINO runtime of the embedding model: exported offline from the converted folder, close to the
sentence-transformers vectors, and never mixed with them in one index."""

import numpy as np
import pytest

from ingest.embed import Embedder
from ingest.pipeline import IngestionPipeline
from sourcier.errors import ConfigurationError
from sourcier.settings import EmbeddingRuntime
from tests.conftest import FICHES, FRENCH_PASSAGES, FRENCH_QUESTIONS, copy_into, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def openvino(embedder):
    """The session's embedder: OpenVINO is the default runtime (no second copy of the model)."""
    assert embedder.settings.runtime is EmbeddingRuntime.OPENVINO
    return embedder


@pytest.fixture(scope="module")
def torch_embedder(embedding_settings):
    """The reference: the converted folder through sentence-transformers."""
    return Embedder(embedding_settings.model_copy(update={"runtime": EmbeddingRuntime.TORCH}))


def test_openvino_vectors_stay_close_to_torch_and_find_the_same_passages(openvino, torch_embedder):
    reference, vectors = torch_embedder.embed_passages(FRENCH_PASSAGES), openvino.embed_passages(FRENCH_PASSAGES)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert (vectors * reference).sum(axis=1).min() > 0.999
    scores = openvino.embed_queries(FRENCH_QUESTIONS) @ vectors.T
    assert list(np.argmax(scores, axis=1)) == [0, 1, 2, 3]
    assert openvino.embed_passages([]).shape == (0, reference.shape[1])


def test_an_index_built_with_one_runtime_refuses_the_other(tmp_path, openvino, torch_embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHES / "F1965.html")
    IngestionPipeline(settings, embedder=torch_embedder).run()
    settings.embedding.runtime = EmbeddingRuntime.OPENVINO
    assert openvino.name != torch_embedder.name
    with pytest.raises(ConfigurationError, match="--rebuild"):
        IngestionPipeline(settings, embedder=openvino).run()


def test_the_export_goes_to_the_models_folder_not_into_the_model(openvino, embedding_settings):
    onnx = openvino.onnx_model
    assert onnx.is_relative_to(embedding_settings.models_dir / "onnx")
    assert not (openvino.info.path / "onnx").exists()


def test_the_tokenizer_gives_the_ids_and_masks_of_transformers_own(openvino):
    """The encoder reads tokenizer.json with `tokenizers` (no torch to import); transformers' fast tokenizer over the
    same file is the reference: padding, truncation at 512 and special tokens alike."""
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(openvino.info.path, local_files_only=True)
    texts = ["query: " + FRENCH_QUESTIONS[0], "passage: " + FRENCH_PASSAGES[0] * 40, "passage: « aujourd’hui » 3ᵉ"]
    expected = reference(texts, padding=True, truncation=True, max_length=512, return_tensors="np")
    encodings = openvino.model.tokenizer.encode_batch(texts)
    assert [e.ids for e in encodings] == expected["input_ids"].tolist()
    assert [e.attention_mask for e in encodings] == expected["attention_mask"].tolist()
    assert len(encodings[1].ids) == 512
