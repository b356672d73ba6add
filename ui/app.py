"""Sourcier's Streamlit app: `sourcier app` (or `make app`). Sign-in first; then one page per role."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run ui/app.py` from a checkout

import streamlit as st  # noqa: E402
import streamlit.components.v1 as components  # noqa: E402

import sourcier  # noqa: E402,F401  (offline environment first)
from sourcier.settings import IdentityMode  # noqa: E402
from ui import identity  # noqa: E402
from ui.common import settings  # noqa: E402

st.set_page_config(page_title="Sourcier", page_icon="📚", layout="wide")

if (
    settings().identity.mode is IdentityMode.DEMO
    and not settings().identity.allow_demo_on_network
    and not identity.visitor_is_on_this_machine()
):
    st.error(
        "Mode démonstration : sans identification configurée, Sourcier ne répond qu'à un navigateur ouvert sur ce "
        "serveur même (adresse 127.0.0.1), pas à travers le réseau ni un proxy. L'administrateur doit configurer "
        "une identification (réglage identity.mode) avant de l'ouvrir aux agents."
    )
    st.stop()

reader = identity.current_reader()
if reader is None:
    identity.sign_in()
    st.stop()

pages = [
    st.Page("chat_page.py", title="Assistant", icon=":material/chat:", default=True),
    st.Page("falc_page.py", title="Version FALC", icon=":material/accessibility_new:"),
]
if reader.is_admin or reader.referent_of:
    pages.append(st.Page("quality_page.py", title="Qualité des documents", icon=":material/fact_check:"))
if reader.is_admin:
    pages.append(st.Page("admin_page.py", title="Administration", icon=":material/settings:"))
    if not reader.demo:
        pages.append(st.Page("audit_page.py", title="Journal d'audit", icon=":material/policy:"))
pages.append(st.Page("accessibility_page.py", title="Accessibilité", icon=":material/accessibility:"))
navigation = st.navigation(pages)
# The page's language, for screen readers (RGAA 8.3): Streamlit writes <html lang="en">. A script in a same-origin
# frame of height 0 sets it on the page itself.
components.html("<script>window.parent.document.documentElement.lang = 'fr';</script>", height=0)
# Captions: Streamlit fades them (60 % opacity: under the 4.5:1 contrast RGAA 3.2 asks for text); a dark grey instead.
st.html(
    "<style>[data-testid='stCaptionContainer'] {opacity: 1 !important; color: #4b4e57 !important}"
    "[data-testid='stCaptionContainer'] * {color: #4b4e57 !important}</style>"
)
with st.sidebar:
    if reader.demo:
        st.warning(
            "Mode démonstration : aucune identification, chacun voit tous les documents. Réservé à un essai sur "
            "ce poste.",
            icon=":material/warning:",
        )
    else:
        st.caption(f"Connecté : **{reader.name}** — {reader.role.label}")
        if st.button("Se déconnecter", icon=":material/logout:"):
            identity.sign_out(reader)
    st.caption("Sourcier — assistant documentaire. Vos documents et vos questions restent sur ce serveur.")
navigation.run()
