"""Sourcier's Streamlit app: `streamlit run ui/app.py` (or `make app`). One page per audience."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run ui/app.py` from a checkout

import streamlit as st  # noqa: E402

import sourcier  # noqa: E402,F401  (offline environment first)

st.set_page_config(page_title="Sourcier", page_icon="📚", layout="wide")

navigation = st.navigation(
    [
        st.Page("chat_page.py", title="Assistant", icon=":material/chat:", default=True),
        st.Page("quality_page.py", title="Qualité des documents", icon=":material/fact_check:"),
        st.Page("admin_page.py", title="Administration", icon=":material/settings:"),
    ]
)
with st.sidebar:
    st.caption("Sourcier — assistant documentaire. Vos documents et vos questions restent sur ce serveur.")
navigation.run()
