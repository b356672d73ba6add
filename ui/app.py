"""Sourcier — minimal Streamlit page: index status and a search over the documents.

The chat and the administration space come with their own issue; this page already reads the real index.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run ui/app.py` from a checkout

import streamlit as st  # noqa: E402

import sourcier  # noqa: E402,F401  (offline environment first)
from ingest.embed import Embedder  # noqa: E402
from ingest.manifest import Manifest  # noqa: E402
from ingest.pipeline import MANIFEST_FILE  # noqa: E402
from ingest.status import index_status  # noqa: E402
from ingest.store import ChunkStore  # noqa: E402
from sourcier.errors import SourcierError  # noqa: E402
from sourcier.settings import Settings, load_settings  # noqa: E402

st.set_page_config(page_title="Sourcier", page_icon="📚", layout="wide")


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def embedder() -> Embedder:
    return Embedder(settings().embedding)


def search(question: str, services: list[str], k: int = 5):
    config = settings()
    with Manifest(config.store.path / MANIFEST_FILE) as manifest:
        collection = manifest.active_collection(config.store.collection)
    store = ChunkStore.open(config.store, config.embedding.model, collection)
    where = {"service": {"$in": services}} if services else None
    return store.as_langchain(embedder()).similarity_search_with_relevance_scores(question, k=k, filter=where)


st.title("📚 Sourcier")
st.caption("Assistant documentaire de la collectivité — tout reste sur ce serveur.")

try:
    status = index_status(settings())
except SourcierError as error:
    st.error(f"L'index est inaccessible : {error}")
    st.stop()

if status["chunks"] == 0:
    st.warning("L'index est vide. Lancez « make ingest » (ou « sourcier ingest ») pour indexer le corpus.")
    st.stop()

with st.sidebar:
    st.subheader("Index")
    st.metric("Documents", status["documents"])
    st.metric("Extraits", status["chunks"])
    st.caption(f"Modèle : {status['embedding_model']}")
    if status["last_run"]:
        st.caption(f"Dernière ingestion : {status['last_run']['finished_at']}")
    if status["problems"]:
        with st.expander(f"{len(status['problems'])} document(s) à problème"):
            for problem in status["problems"]:
                st.write(f"**{problem['path']}** — {problem['reason']}")

question = st.text_input(
    "Rechercher dans les documents", placeholder="Quels justificatifs pour s'inscrire sur les listes électorales ?"
)
if question:
    with st.spinner("Recherche…"):
        results = search(question, [])
    for document, score in results:
        meta = document.metadata
        where = f"page {meta['page']}" if "page" in meta else meta.get("section", "")
        with st.container(border=True):
            st.markdown(f"**{meta.get('title', meta['source'])}** · {meta['service']} · {where}")
            st.caption(f"{meta['source']} — pertinence {score:.2f}")
            st.write(document.page_content)
