"""The admins' page: index status, ingestion with live progress, uploads, and documents taken out of retrieval."""

from __future__ import annotations

import time
from datetime import datetime

import streamlit as st

from ingest import background
from ingest.manifest import Manifest
from ingest.progress import Phase
from ingest.report import DocumentStatus
from ingest.status import index_status
from sourcier.access import Reader
from sourcier.audit import AuditKind
from sourcier.french import plural, service_name
from sourcier.settings import LLMBackendKind
from ui.common import explain, live_documents, settings
from ui.identity import audit_log, require
from ui.upload_form import show_upload, start_ingestion


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).astimezone().strftime("%d/%m %H:%M")


FINISHED_BANNER_S = 60


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def show_status() -> None:
    config = settings()
    try:
        status = index_status(config)
    except Exception as error:
        st.error(f"L'index est inaccessible : {explain(error)}")
        return
    columns = st.columns(4)
    columns[0].metric("Documents", status["documents"])
    columns[1].metric("Extraits indexés", status["chunks"])
    last = status["last_run"]
    columns[2].metric("Dernière ingestion", _when(last["finished_at"]) if last else "jamais")
    columns[3].metric("Durée", _duration(last["duration_s"]) if last else "—")
    if last:
        counts = ", ".join(f"{DocumentStatus(k).label} : {v}" for k, v in last["counts"].items() if v)
        st.caption(f"Dernier passage — {counts}")
    llm = config.llm
    model = {
        LLMBackendKind.OLLAMA: f"Ollama, {llm.ollama_model}",
        LLMBackendKind.OPENAI: f"serveur compatible OpenAI, {llm.openai_model}",
        LLMBackendKind.EMBEDDED: "modèle intégré Qwen2.5-Coder-1.5B",
        LLMBackendKind.AUTO: f"Ollama ({llm.ollama_model}) s'il répond, sinon le modèle intégré",
    }[llm.backend]
    st.caption(
        f"Modèle d'indexation : {status['embedding_model']} · modèle de langage : {model} · "
        f"index : {status['store']} (collection {status['collection']}) · corpus : {status['corpus']}"
    )
    if status["problems"]:
        problems = len(status["problems"])
        with st.expander(
            f"⚠ {plural(problems, 'document non indexé ou incomplet', 'documents non indexés ou incomplets')}"
        ):
            for problem in status["problems"]:
                st.markdown(
                    f"- **{problem['path']}** ({DocumentStatus(problem['status']).label}) — {problem['reason']}"
                )


@st.fragment(run_every=2)
def show_ingestion(reader: Reader) -> None:
    """Re-read every 2 s from the progress file: what a reload, or another admin's browser, sees too."""
    config = settings()
    running = background.is_running(config)
    progress = background.progress(config)
    if running:
        st.session_state["ingestion_seen_running"] = True
        st.session_state["ingestion_figures_fresh"] = False
    elif st.session_state.get("ingestion_seen_running") and not st.session_state.get("ingestion_figures_fresh"):
        # The run this page watched has ended: the whole page again, so that the figures above are fresh.
        st.session_state["ingestion_figures_fresh"] = True
        st.session_state["ingestion_ended_at"] = time.time()
        st.rerun(scope="app")
    if running and progress and progress.finished:
        st.info("Ingestion terminée ; calcul du rapport de qualité des documents…")
    elif running and progress:
        share = progress.files_done / progress.files_total if progress.files_total else 0.0
        st.progress(
            share,
            text=f"Ingestion en cours — {Phase(progress.phase).label} : {progress.files_done} / "
            f"{progress.files_total} fichiers, {progress.chunks_done} extraits",
        )
        eta = progress.eta_s()
        elapsed = _duration(time.time() - progress.started_at)
        st.caption(
            f"Fichier en cours : {progress.current_file or '—'} · écoulé : {elapsed}"
            + (f" · reste environ {_duration(eta)}" if eta else "")
        )
        st.caption("La recherche continue de fonctionner sur l'index actuel pendant l'ingestion.")
    elif running:
        st.info("Ingestion en cours de démarrage…")
    elif progress and not progress.finished:
        st.warning(
            "La dernière ingestion s'est interrompue avant la fin (arrêt du serveur ?). L'index reste cohérent : "
            "relancez-la pour terminer."
        )
        log = background.last_log(config)
        if log:
            st.code(log, language=None)
    elif progress and progress.error and st.session_state.get("ingestion_seen_running"):
        st.error(f"La dernière ingestion a échoué : {progress.error}. L'index précédent reste utilisable.")
        log = background.last_log(config)
        if log:
            st.code(log, language=None)
    elif progress and progress.finished and _just_ended():
        st.success(
            f"Ingestion terminée : {plural(progress.files_total, 'fichier examiné', 'fichiers examinés')}, "
            f"{plural(progress.chunks_done, 'extrait indexé', 'extraits indexés')}."
        )
    left, right = st.columns([1, 2])
    rebuild = right.checkbox(
        "Reconstruire l'index entièrement",
        key="rebuild",
        help="Plus long ; l'index actuel reste utilisé jusqu'à la fin.",
    )
    if left.button("Relancer l'ingestion", type="primary", disabled=running, icon=":material/sync:"):
        start_ingestion(reader, [], rebuild)


def _just_ended() -> bool:
    """The outcome of a run this page watched is shown for a minute; then the figures above say it for good."""
    if not st.session_state.get("ingestion_seen_running"):
        return False
    return time.time() - st.session_state.get("ingestion_ended_at", 0.0) < FINISHED_BANNER_S


def show_documents(reader: Reader) -> None:
    config = settings()
    live = live_documents()
    documents, excluded = live.documents, live.excluded
    if not documents:
        st.info("Aucun document dans l'index.")
        return
    # What an admin acts on first (title, state, included or not) on the left: at 1,400 px a long file path
    # pushed « État » and « Recherche » out of sight.
    rows = [
        {
            "Titre": record.title or "",
            "Service": service_name(record.service),
            "État": DocumentStatus(record.status).label,
            "Recherche": "exclu" if record.doc_id in excluded else "inclus",
            "Extraits": record.chunks,
            "Format": record.format or "",
            "Fichier": record.path,
        }
        for record in documents.values()
    ]
    columns = st.columns(3)
    services = columns[0].multiselect(
        "Service", sorted({r["Service"] for r in rows}), key="filter_service", placeholder="Tous"
    )
    formats = columns[1].multiselect(
        "Format", sorted({r["Format"] for r in rows}), key="filter_format", placeholder="Tous"
    )
    states = columns[2].multiselect(
        "État", sorted({r["État"] for r in rows} | {"exclu"}), key="filter_state", placeholder="Tous"
    )
    shown = [
        r
        for r in rows
        if (not services or r["Service"] in services)
        and (not formats or r["Format"] in formats)
        and (not states or r["État"] in states or ("exclu" in states and r["Recherche"] == "exclu"))
    ]
    st.dataframe(
        shown,
        width="stretch",
        hide_index=True,
        column_config={
            "Titre": st.column_config.TextColumn(width="large"),
            "Service": st.column_config.TextColumn(width="small"),
            "État": st.column_config.TextColumn(width="small"),
            "Recherche": st.column_config.TextColumn(width="small"),
            "Extraits": st.column_config.NumberColumn(width="small"),
            "Format": st.column_config.TextColumn(width="small"),
            "Fichier": st.column_config.TextColumn(width="medium"),
        },
    )
    st.caption(f"{plural(len(shown), 'document')} sur {len(rows)}.")

    paths = [r["Fichier"] for r in shown]
    chosen = st.selectbox(
        "Document",
        paths,
        format_func=lambda path: f"{documents[path].title} ({path})" if documents[path].title else path,
        key="exclusion_document",
        index=None,
        placeholder="Choisir un document à exclure ou réintégrer",
    )
    if not chosen:
        return
    record = documents[chosen]
    with Manifest(config.store) as manifest:
        if record.doc_id in excluded:
            st.caption(f"Exclu de la recherche depuis le {_when(excluded[record.doc_id]['at'])}.")
            if st.button("Réintégrer dans la recherche", key="include"):
                manifest.include(record.doc_id)
                audit_log().record(AuditKind.INCLUSION, reader, document=record.path)
                st.rerun()
        elif st.button(
            "Exclure de la recherche",
            key="exclude",
            help="Le fichier reste dans le corpus ; il n'est plus cité dans les réponses.",
        ):
            manifest.exclude(record.doc_id, record.path, reason=f"exclu depuis l'administration par {reader.name}")
            audit_log().record(AuditKind.EXCLUSION, reader, document=record.path)
            st.rerun()


def render() -> None:
    reader = require("Administration", lambda reader: reader.is_admin)
    st.title("Administration")
    show_status()
    st.header("Ingestion")
    show_ingestion(reader)
    services = sorted({r.service or "general" for r in live_documents().documents.values()} - {"general"})
    show_upload(reader, services)
    st.header("Documents")
    show_documents(reader)


st.set_page_config(page_title="Administration — Sourcier")  # each page its own title (RGAA 8.6)
render()
