"""The document owners' page: what is wrong in the documents, with the evidence, ranked by the attention needed."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from quality.findings import SEVERITIES, SEVERITY_WEIGHT, STATUSES, TYPES, FindingStatus, Severity
from quality.report import build_report, load_last_report, report_for_reader
from quality.state import QualityState
from sourcier.access import Reader
from sourcier.audit import AuditKind
from sourcier.french import service_name
from ui.common import embedder, escape_markdown, explain, live_documents, live_index, settings, without_links
from ui.identity import audit_log, require
from ui.upload_form import show_upload

STATUS_KEYS = list(STATUSES)


def _recompute(reader: Reader) -> None:
    try:
        with st.spinner("Analyse des documents…"):
            build_report(settings(), embedder())
        audit_log().record(AuditKind.REPORT, reader, action="calcul")
    except Exception as error:
        st.error(f"Le rapport n'a pas pu être calculé : {explain(error)}")


def _charts(findings: list[dict], history: list[dict]) -> None:
    if not findings:
        return
    frame = pd.DataFrame(
        [
            {
                "type": f["type_label"],
                "service": service_name(f["places"][0]["service"]),
                "gravité": f["severity_label"],
            }
            for f in findings
        ]
    )
    left, right = st.columns(2)
    left.altair_chart(
        alt.Chart(frame, title="Constats par type")
        .mark_bar()
        .encode(
            x=alt.X("count():Q", title="constats"),
            y=alt.Y("type:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220)),
            color=alt.Color(
                "gravité:N",
                scale=alt.Scale(domain=list(SEVERITIES.values()), range=["#c9191e", "#e0861b", "#9a9a9a"]),
            ),
        ),
        width="stretch",
    )  # fmt: skip
    right.altair_chart(
        alt.Chart(frame, title="Constats par service")
        .mark_bar()
        .encode(x=alt.X("count():Q", title="constats"), y=alt.Y("service:N", sort="-x", title=None)),
        width="stretch",
    )  # fmt: skip
    if len(history) >= 2:
        rows = [{"date": h["at"][:16], "type": TYPES.get(t, t), "constats": n} for h in history
                for t, n in h.get("by_type", {}).items()]  # fmt: skip
        st.altair_chart(
            alt.Chart(pd.DataFrame(rows), title="Évolution")
            .mark_line(point=True)
            .encode(x=alt.X("date:T", title=None), y="constats:Q", color="type:N"),
            width="stretch",
        )


def _show_finding(position: int, finding: dict, state: QualityState, reader: Reader) -> None:
    places = " · ".join(  # a finding inside one document names it once
        dict.fromkeys(
            f"{p['title'] or p['path']}" + (f", page {p['page']}" if p.get("page") else "") for p in finding["places"]
        )
    )
    label = f"{finding['severity_label'].upper()} · {finding['type_label']} — {without_links(places)}"
    with st.expander(label):
        st.markdown(escape_markdown(finding["explanation"]))
        for evidence in finding["evidence"]:
            st.markdown(f"> {escape_markdown(evidence)}")
        st.markdown(f"**Action proposée :** {escape_markdown(finding['action'])}")
        st.caption(without_links(" · ".join(p["path"] for p in finding["places"])) + f" — constat {finding['id']}")
        current = STATUS_KEYS.index(finding["status"]) if finding["status"] in STATUS_KEYS else 0
        choice = st.radio(
            "Statut",
            STATUS_KEYS,
            index=current,
            format_func=STATUSES.get,
            horizontal=True,
            key=f"status-{position}-{finding['id']}",  # unique by construction, even if two findings share an id
        )
        if choice != finding["status"]:
            state.mark(finding["id"], choice)
            if choice == FindingStatus.FALSE_POSITIVE:  # it leaves the list: say where it went, and offer to undo
                st.session_state["dismissed"] = (finding["id"], label)
            audit_log().record(AuditKind.MARK, reader, finding=finding["id"], status=choice)
            st.rerun()


def render() -> None:
    reader = require("Qualité des documents", lambda reader: reader.is_admin or bool(reader.referent_of))
    st.title("Qualité des documents")
    config = settings()
    report = load_last_report(config)
    if report is not None:
        report = report_for_reader(report, reader, live_index(reader).may_read_document)
    if not reader.is_admin:
        st.caption(f"Constats des services dont vous êtes référent : {', '.join(sorted(reader.referent_of))}.")
    top = st.columns([3, 1])
    top[0].caption(
        "Ce que l'assistant révèle des documents : scans illisibles, doublons, versions périmées, contradictions, "
        "données personnelles, questions restées sans réponse. Les données personnelles sont masquées."
    )
    if top[1].button("Recalculer le rapport", icon=":material/refresh:"):
        _recompute(reader)
        st.rerun()
    if report is None:
        st.info("Aucun rapport pour l'instant : il est calculé après chaque ingestion, ou avec le bouton ci-dessus.")
        return
    state = QualityState(config.store)
    marks = state.marks()
    findings = report["findings"]
    for finding in findings:  # marks made since the report was computed
        finding["status"] = marks.get(finding["id"], {}).get("status", FindingStatus.NEW)
    open_findings = [f for f in findings if f["status"] != FindingStatus.FALSE_POSITIVE]

    metrics = st.columns(4)
    metrics[0].metric("Documents analysés" if reader.is_admin else "Documents concernés", report["documents"])
    metrics[1].metric("Constats ouverts", len(open_findings))
    metrics[2].metric("Gravité élevée", sum(f["severity"] == Severity.HIGH for f in open_findings))
    metrics[3].metric("Marqués faux positifs", len(findings) - len(open_findings))
    st.caption(f"Rapport du {report['generated_at'][:16].replace('T', ' ')} (UTC), calculé en "
               f"{report['timings'].get('total', 0):.1f} s.")  # fmt: skip
    _charts(open_findings, report.get("history", []))

    services = sorted({p["service"] for f in findings for p in f["places"] if p["service"]})
    with st.sidebar:
        mine = st.selectbox(
            "Mon service",
            ["—", *services],
            key="owner_service",
            format_func=lambda s: s if s == "—" else service_name(s),
            help="Vos documents apparaissent en premier.",
        )
    filters = st.columns(4)
    chosen_services = filters[0].multiselect(
        "Service", services, key="q_service", placeholder="Tous", format_func=service_name
    )
    chosen_types = filters[1].multiselect("Type", list(TYPES), format_func=TYPES.get, key="q_type", placeholder="Tous")
    chosen_severity = filters[2].multiselect(
        "Gravité", list(SEVERITIES), format_func=SEVERITIES.get, key="q_sev", placeholder="Tous"
    )
    show_dismissed = filters[3].checkbox("Afficher les faux positifs", key="q_dismissed")
    document = st.text_input("Document (partie du nom)", key="q_document")

    def kept(f: dict) -> bool:
        services_of = {p["service"] for p in f["places"]}
        return (
            (show_dismissed or f["status"] != FindingStatus.FALSE_POSITIVE)
            and (not chosen_services or services_of & set(chosen_services))
            and (not chosen_types or f["type"] in chosen_types)
            and (not chosen_severity or f["severity"] in chosen_severity)
            and (not document or any(document.lower() in p["path"].lower() for p in f["places"]))
        )

    shown = sorted(
        (f for f in findings if kept(f)),
        key=lambda f: (mine not in {p["service"] for p in f["places"]}, -SEVERITY_WEIGHT[f["severity"]]),
    )
    dismissed = st.session_state.get("dismissed")
    if dismissed:
        left, right = st.columns([4, 1])
        left.info(
            f"Constat marqué faux positif : {dismissed[1]}. Il reste visible avec « Afficher les faux positifs »."
        )
        if right.button("Annuler", key="undo_dismiss", icon=":material/undo:"):
            state.mark(dismissed[0], FindingStatus.NEW)
            audit_log().record(AuditKind.MARK, reader, finding=dismissed[0], status=FindingStatus.NEW.value)
            del st.session_state["dismissed"]
            st.rerun()
    st.header(f"Constats ({len(shown)})")
    for position, finding in enumerate(shown[:200]):
        _show_finding(position, finding, state, reader)
    if len(shown) > 200:
        st.caption(f"… {len(shown) - 200} autres : affinez les filtres ou téléchargez le rapport complet.")

    st.header("Documents à traiter en priorité")
    ranked = [d for d in report["ranked_documents"] if not chosen_services or d["service"] in chosen_services]
    st.dataframe(
        [{"Document": d["title"] or d["path"], "Service": service_name(d["service"]), "Constats": d["findings"],
          "Priorité": d["score"], "Types": ", ".join(d["types"])} for d in ranked[:100]],
        hide_index=True, width="stretch",
        column_config={"Priorité": st.column_config.NumberColumn(
            help="Constats ouverts pondérés par leur gravité : élevée 5, moyenne 2, faible 1.")},
    )  # fmt: skip
    _downloads(reader)
    if not reader.is_admin:
        services = sorted({r.service for r in live_documents().documents.values() if reader.answers_for(r.service)})
        show_upload(reader, services or sorted(reader.referent_of))


def _downloads(reader: Reader) -> None:
    from quality.render import to_csv, to_html

    config = settings()

    def latest():
        return build_report(config, embedder()).for_reader(reader, live_index(reader).may_read_document)

    def exported(format: str):
        def render():
            audit_log().record(AuditKind.REPORT, reader, action=f"export {format}")
            return (to_html if format == "html" else to_csv)(latest())

        return render

    left, right = st.columns(2)
    left.download_button("Télécharger le rapport (HTML)", data=exported("html"), file_name="qualite.html",
                         mime="text/html", icon=":material/download:")  # fmt: skip
    right.download_button("Télécharger les constats (CSV)", data=exported("csv"), file_name="qualite.csv",
                          mime="text/csv", icon=":material/download:")  # fmt: skip


st.set_page_config(page_title="Qualité des documents — Sourcier")  # each page its own title (RGAA 8.6)
render()
