"""The minimal Streamlit page against a real index (streamlit.testing AppTest)."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest.pipeline import IngestionPipeline
from tests.conftest import FICHES, MODELS, REPO, copy_into, make_settings

pytestmark = pytest.mark.shared
APP = str(REPO / "ui" / "app.py")


def use_index(monkeypatch, settings):
    monkeypatch.setenv("SOURCIER_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("SOURCIER_STORE__PATH", str(settings.store.path))
    monkeypatch.setenv("SOURCIER_EMBEDDING__MODELS_DIR", str(MODELS))
    st.cache_resource.clear()  # AppTest runs in this process: settings cached by a previous test must go


def test_empty_index_explains_what_to_do(tmp_path, monkeypatch):
    use_index(monkeypatch, make_settings(tmp_path))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    assert "index est vide" in app.warning[0].value


def test_search_shows_the_right_document(tmp_path, monkeypatch, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHES / "F1965.html")
    copy_into(settings.corpus_dir, "urbanisme", FICHES / "F1633.html")
    IngestionPipeline(settings, embedder=embedder).run()
    use_index(monkeypatch, settings)
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.text_input[0].input("Quel justificatif de domicile pour m'inscrire sur les listes électorales ?").run()
    assert not app.exception
    first_result = app.markdown[0].value
    assert "liste électorale" in first_result and "elections" in first_result
