"""The audit trail, for admins and the DPO: filters, and a CSV export."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from sourcier.audit import AuditKind, to_csv
from sourcier.french import plural
from ui.common import settings
from ui.identity import audit_log, require


def render() -> None:
    require("Journal d'audit", lambda reader: reader.is_admin)
    st.title("Journal d'audit")
    days = settings().access.audit_retention_days
    st.caption(
        f"Connexions, questions (données personnelles masquées), téléchargements, dépôts, exclusions, marquages, "
        f"changements de droits et ingestions. Conservé {days} jours, puis effacé automatiquement ; le journal ne "
        "peut être ni modifié ni effacé avant."
    )
    columns = st.columns(3)
    kinds = columns[0].multiselect(
        "Événements", list(AuditKind), format_func=lambda kind: kind.label, key="audit_kinds", placeholder="Tous"
    )
    user = columns[1].text_input("Utilisateur (partie du nom)", key="audit_user")
    since = columns[2].date_input("Depuis le", value=date.today() - timedelta(days=30), key="audit_since")
    events = audit_log().events(kinds or None, user=user.strip() or None, since=since.isoformat())
    st.dataframe(
        [
            {
                "Horodatage (UTC)": event.at.replace("T", " ")[:19],
                "Événement": event.kind.label,
                "Utilisateur": event.user,
                "Groupes": ", ".join(event.groups),
                "Détail": ", ".join(f"{key} : {value}" for key, value in event.detail.items()),
            }
            for event in events[:1000]
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(
        plural(len(events), "événement") + (" ; les 1 000 plus récents sont affichés." if len(events) > 1000 else ".")
    )
    st.download_button(
        "Exporter en CSV (DPO)",
        data=lambda: to_csv(events),
        file_name="journal-audit.csv",
        mime="text/csv",
        icon=":material/download:",
    )


st.set_page_config(page_title="Journal d'audit — Sourcier")  # each page its own title (RGAA 8.6)
render()
