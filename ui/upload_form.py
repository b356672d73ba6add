"""Adding documents from the app: admins into any service (or a new one), referents into the services they answer
for (the rule is enforced where the file is written, `ingest.uploads.save_upload`)."""

from __future__ import annotations

import streamlit as st

from ingest import background
from ingest.loaders.office import libreoffice
from ingest.uploads import save_upload, upload_limit_mb
from sourcier.access import Reader
from sourcier.audit import AuditKind
from sourcier.errors import AccessDeniedError, IngestionRunningError, UploadRejectedError
from sourcier.french import plural, service_name
from ui.common import settings
from ui.identity import audit_log

NEW_SERVICE = "(nouveau service)"


def start_ingestion(reader: Reader, paths, rebuild: bool = False) -> None:
    try:
        background.start(settings(), reader, paths, rebuild)
    except IngestionRunningError:
        st.warning("Une ingestion est déjà en cours : attendez qu'elle se termine.")
        return
    audit_log().record(AuditKind.INGESTION, reader, files=[str(p) for p in paths][:50], rebuild=rebuild)
    st.session_state["ingestion_seen_running"] = True  # this page follows it to the end, however short
    st.rerun()


def show_upload(reader: Reader, services: list[str]) -> None:
    config = settings()
    st.subheader("Ajouter des documents")
    message = st.session_state.pop("upload_message", None)
    if message:  # set before the rerun that starts the ingestion: shown after it
        st.success(message)
    choices = services + ([NEW_SERVICE] if reader.is_admin else [])
    if not choices:
        return
    service = st.selectbox(
        "Service", choices, key="upload_service", format_func=lambda s: s if s == NEW_SERVICE else service_name(s)
    )
    new_service = st.text_input("Nom du nouveau service", key="upload_new_service") if service == NEW_SERVICE else ""
    # Said before the upload, not after: a legacy .doc cannot be read without LibreOffice.
    extensions = [e for e in config.ingest.extensions if e != ".doc" or libreoffice()]
    limit_mb = upload_limit_mb(config)
    formats = [extension.lstrip(".") for extension in extensions]
    _french_uploader("upload_files", f"{limit_mb:g} Mo au plus par fichier • {', '.join(formats)}")
    files = st.file_uploader(
        "Fichiers",
        accept_multiple_files=True,
        type=formats,
        key="upload_files",
        help=f"Formats acceptés : {', '.join(extensions)} ; {limit_mb:g} Mo au plus par fichier."
        + ("" if ".doc" in extensions else " Les anciens fichiers Word (.doc) : enregistrez-les en .docx."),
    )
    replace = st.checkbox("Remplacer un fichier du même nom (nouvelle version)", key="upload_replace")
    submitted = st.button("Ajouter et indexer", icon=":material/upload:")
    if not submitted:
        return
    folder = new_service.strip() if service == NEW_SERVICE else service
    if not folder:
        st.error("Indiquez le nom du nouveau service.")
        return
    if not files:
        st.error("Choisissez au moins un fichier.")
        return
    saved = []
    for file in files:
        try:
            saved.append(save_upload(config, folder, file.name, file.getvalue(), reader, replace=replace))
        except (UploadRejectedError, AccessDeniedError) as error:
            st.error(str(error))
    if saved:
        audit_log().record(AuditKind.UPLOAD, reader, service=folder, files=[path.name for path in saved])
        added = f"{plural(len(saved), 'fichier ajouté', 'fichiers ajoutés')} dans « {saved[0].parent.name} »."
        if background.is_running(config):
            st.success(added)
            st.warning("Une ingestion est déjà en cours : relancez-la ensuite pour indexer ces fichiers.")
        else:
            st.session_state["upload_message"] = f"{added} Indexation lancée."
            start_ingestion(reader, saved)


def _french_uploader(key: str, instructions: str) -> None:
    """Streamlit writes its file uploader's button and limits in English (« Upload », « 50MB per file »), with no
    setting to change them: the same words in French, drawn over by a style scoped to this one widget."""
    scope = f".st-key-{key} [data-testid='stFileUploaderDropzone']"
    st.html(
        "<style>"
        f"{scope} button [data-testid='stMarkdownContainer'] p {{font-size: 0}}"
        f"{scope} button [data-testid='stMarkdownContainer'] p::after {{content: 'Parcourir'; font-size: 0.875rem}}"
        f"{scope} [data-testid='stFileUploaderDropzoneInstructions'] span {{font-size: 0}}"
        f"{scope} [data-testid='stFileUploaderDropzoneInstructions'] span::after "
        f"{{content: '{instructions}'; font-size: 0.875rem}}"
        "</style>"
    )
