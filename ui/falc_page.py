"""« Version FALC »: a document the user may read → a draft in « facile à lire et à comprendre », the source beside
each passage, facts and rules checked, edited, validated, exported to DOCX or ODT for the communication team."""

from __future__ import annotations

import threading

import streamlit as st

from falc.drafts import DraftStore, validate
from falc.export import PROOFREADING_NOTICE, ExportFormat, export
from falc.facts import FactCheck, compare
from falc.meaning import for_owner as meaning_for_owner
from falc.rewrite import Draft, FalcWriter, Passage, writer_for
from falc.rules import measure
from falc.source import DocumentReader, SourceDocument
from ingest.live import index_stamp
from sourcier.access import Reader
from sourcier.audit import AuditKind
from sourcier.errors import SourcierError
from sourcier.french import plural, service_name
from ui.common import escape_markdown, explain, live_documents, readable_documents, readable_file, settings
from ui.identity import audit_log, require

ALL_SECTIONS = "Tout le document"


@st.cache_resource(show_spinner=False)
def _document_reader() -> tuple[DocumentReader, threading.Lock]:
    # One reading process for the server (starting one imports the parsers: tens of seconds), one file at a time.
    return DocumentReader(settings()), threading.Lock()


@st.cache_resource(show_spinner="Connexion au modèle de langage…")
def _writer() -> FalcWriter:
    return writer_for(settings())


def _drafts() -> DraftStore:
    return DraftStore.of(settings().store)


def _read(reader: Reader, relative_path: str) -> SourceDocument | None:
    path = readable_file(reader, relative_path)
    if path is None:
        return None
    document_reader, lock = _document_reader()
    with lock:
        return document_reader.read(path, name=relative_path)


def render() -> None:
    reader = require("Version FALC")
    st.title("Version « facile à lire et à comprendre »")
    st.caption(
        "Sourcier rédige un brouillon en FALC : phrases courtes, mots simples, « vous ». Chaque chiffre, date, "
        "délai, téléphone ou adresse du document doit s'y retrouver, et rien d'autre, ainsi que chaque condition "
        "(qui, où, quand, sauf, si… et…) : sinon la validation est bloquée. " + PROOFREADING_NOTICE
    )
    records = {record.doc_id: record for record in live_documents().documents.values()}
    readable = readable_documents(reader, index_stamp(settings()))
    choices = sorted((doc_id for doc_id in readable if doc_id in records), key=lambda d: records[d].title or "")
    if not choices:
        st.info("Aucun document ne vous est ouvert pour l'instant.")
        return
    doc_id = st.selectbox(
        "Document",
        choices,
        index=None,
        placeholder="Choisissez un document",
        format_func=lambda d: f"{records[d].title or records[d].path} — {service_name(records[d].service)}",
        key="falc_document",
    )
    if doc_id is None:
        return
    record = records[doc_id]
    store = _drafts()
    draft = store.load(reader.name, doc_id)
    if draft is None:
        _new_draft(reader, record.path, doc_id, store)
    else:
        _editor(reader, record.path, doc_id, draft, store)


def _new_draft(reader: Reader, relative_path: str, doc_id: str, store: DraftStore) -> None:
    try:
        with st.spinner("Lecture du document…"):
            document = _read(reader, relative_path)
    except SourcierError as error:
        st.error(f"Ce document ne peut pas être lu : {explain(error)}")
        return
    if document is None:
        st.error("Ce document n'est plus dans le corpus, ou ne vous est plus ouvert.")
        return
    titles = [section.title for section in document.sections]
    chosen = st.selectbox("Partie à réécrire", [ALL_SECTIONS, *titles], key=f"falc_section_{doc_id}")
    if chosen != ALL_SECTIONS:
        document.sections = [section for section in document.sections if section.title == chosen][:1]
    minutes = max(1, round(document.passages * 20 / 60))  # ~20 s a passage with the embedded model on 2 cores
    st.write(
        f"{plural(document.passages, 'passage')} à réécrire, environ {plural(minutes, 'minute')} avec le modèle "
        "intégré."
    )
    if not st.button("Rédiger la version FALC", type="primary", icon=":material/edit_note:"):
        return
    bar = st.progress(0.0, text="Rédaction…")
    try:
        draft = _writer().write(
            document,
            lambda done, total: bar.progress(done / total, text=f"Rédaction : passage {done} sur {total}"),
        )
    except SourcierError as error:
        st.error(explain(error))
        return
    store.save(reader.name, doc_id, draft)
    audit_log().record(AuditKind.FALC, reader, document=relative_path, action="rédaction")
    st.rerun()


def _editor(reader: Reader, relative_path: str, doc_id: str, draft: Draft, store: DraftStore) -> None:
    explained: set[str] = set()
    problems = 0
    for index_section, section in enumerate(draft.sections):
        st.header(section.title)
        for index, passage in enumerate(section.passages):
            key = f"falc_{doc_id}_{index_section}_{index}"
            left, right = st.columns(2)
            left.markdown(_quoted(passage.source))
            edited = right.text_area("Brouillon", passage.draft, key=key, height=_height(passage.draft),
                                     label_visibility="collapsed")  # fmt: skip
            if edited.strip() != passage.draft.strip():
                passage.draft, passage.edited, draft.validated = edited.strip(), True, False
                store.save(reader.name, doc_id, draft)
            confirmed = _checks(right, passage, explained, key)
            if confirmed:  # the owner read the condition in the draft: kept, and saved with the draft
                passage.confirmed = [*passage.confirmed, *confirmed]
                store.save(reader.name, doc_id, draft)
                st.rerun()
            problems += int(not passage.sound or passage.to_rewrite)
    st.divider()
    _summary(draft)
    columns = st.columns(2)
    if columns[0].button("Valider le brouillon", type="primary", icon=":material/task_alt:", disabled=draft.validated):
        try:
            validate(draft)
        except SourcierError as error:
            st.error(str(error))
        else:
            store.save(reader.name, doc_id, draft)
            audit_log().record(AuditKind.FALC, reader, document=relative_path, action="validation")
            st.rerun()
    if columns[1].button("Rédiger à nouveau", icon=":material/refresh:"):
        store.delete(reader.name, doc_id)
        st.rerun()
    if draft.validated:
        st.success("Brouillon validé : il peut être exporté pour la relecture.", icon=":material/verified:")
        stem = relative_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        for column, format in zip(st.columns(2), (ExportFormat.DOCX, ExportFormat.ODT), strict=True):
            column.download_button(
                f"Exporter en {format.value.upper()}",
                data=export(draft, format),
                file_name=f"{stem}-falc.{format.value}",
                key=f"falc_export_{format.value}",
                icon=":material/download:",
                on_click=audit_log().record,
                args=(AuditKind.FALC, reader),
                kwargs={"document": relative_path, "action": f"export {format.value}"},
            )
    elif problems:
        st.warning(f"{plural(problems, 'passage')} à corriger avant de pouvoir valider.")


def _checks(column, passage: Passage, explained: set[str], key: str) -> list[str]:
    """Shows what is wrong with a passage; returns the conditions the owner has just confirmed are kept."""
    check, meaning = passage.check(), passage.meaning()
    for fact in check.missing:
        column.error(f"Information perdue : « {fact.written} » ({fact.kind})", icon=":material/error:")
    for fact in check.invented:
        column.error(f"Information absente du document : « {fact.written} » ({fact.kind})", icon=":material/error:")
    confirmed = []
    for number, condition in enumerate([*meaning.lost, *meaning.split]):
        column.error(escape_markdown(meaning_for_owner(condition)), icon=":material/rule:")
        if column.checkbox("Elle est bien dans le brouillon (je confirme)", key=f"{key}_condition_{number}"):
            confirmed.append(condition.clause)
    for sentence in meaning.fragments:
        column.warning(
            f"Phrase incomplète (sans verbe) : « {escape_markdown(sentence)} »", icon=":material/short_text:"
        )
    if passage.edited:
        for sentence in meaning.added:
            column.warning(
                f"Cette phrase ne semble pas venir du document : « {escape_markdown(sentence)} »",
                icon=":material/help:",
            )
    elif passage.dropped:
        column.caption(
            "Phrases du modèle retirées, car le document ne les dit pas : "
            + " ".join(f"« {escape_markdown(sentence)} »" for sentence in passage.dropped)
        )
    if passage.kept_source and not passage.edited:
        column.warning(
            "Le modèle n'a pas su simplifier ce passage sans perdre ou ajouter une information ou une condition : "
            "réécrivez-le.",
            icon=":material/edit:",
        )
        if passage.rejected:
            lost = compare(passage.source, passage.rejected)
            column.caption(f"Proposition écartée ({describe_for_owner(lost)}) :\n\n{_quoted(passage.rejected)}")
    if passage.patched and not passage.edited:
        column.warning(
            "Le modèle avait oublié des informations : les phrases du document qui les donnent ont été ajoutées "
            "à la fin. Simplifiez-les : " + " ".join(f"« {escape_markdown(s)} »" for s in passage.patched),
            icon=":material/edit:",
        )
    if passage.as_is:
        column.caption("Gardé tel quel : une liste courte « intitulé : valeur ».")
    for sentence in measure(passage.draft, explained).sentences:
        if sentence.breaches:
            rules = " ; ".join(str(breach) for breach in sentence.breaches)
            column.caption(f"⚠️ « {escape_markdown(sentence.text)} » — {rules}")
    return confirmed


def describe_for_owner(check: FactCheck) -> str:
    parts = []
    if check.missing:
        parts.append("perd " + ", ".join(f"« {fact.written} »" for fact in check.missing))
    if check.invented:
        parts.append("ajoute " + ", ".join(f"« {fact.written} »" for fact in check.invented))
    return " ; ".join(parts)


def _summary(draft: Draft) -> None:
    before = measure("\n".join(p.source for p in draft.passages))
    after = measure("\n".join(p.draft for p in draft.passages))
    columns = st.columns(4)
    columns[0].metric("Phrases de 15 mots ou moins", f"{after.short_share:.0%}", f"{before.short_share:.0%} avant",
                      delta_color="off")  # fmt: skip
    columns[1].metric("Lisibilité (Kandel-Moles)", f"{after.kandel_moles:.0f}",
                      f"{after.kandel_moles - before.kandel_moles:+.0f}")  # fmt: skip
    columns[2].metric("Mots peu courants", f"{after.uncommon_share:.0%}", f"{before.uncommon_share:.0%} avant",
                      delta_color="off")  # fmt: skip
    columns[3].metric("Points à revoir", after.breaches)
    st.caption(f"Rédigé par : {draft.model}. Lisibilité : plus le score est haut, plus le texte est facile.")


def _quoted(text: str) -> str:
    return "\n".join(f"> {escape_markdown(line)}  " for line in text.splitlines() if line.strip())


def _height(text: str) -> int:
    return max(100, min(400, 28 * (len(text.splitlines()) + 1)))


st.set_page_config(page_title="Version FALC — Sourcier")  # each page its own title (RGAA 8.6)
render()
