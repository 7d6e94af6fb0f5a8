"""Runbooks: how to confirm, mitigate and recover, one per alert kind and failure class."""

from __future__ import annotations

import streamlit as st

from dashboard import widgets as w


def main() -> None:
    session = w.require_session()
    st.title("Runbooks")
    books = w.read(session, "/runbooks") or []
    if not books:
        st.caption("No runbooks served by this API.")
        return
    names = [b["name"] for b in books]
    wanted = st.query_params.get("name") or st.session_state.get("runbook")
    index = names.index(wanted) if wanted in names else 0
    titles = {b["name"]: f"{b['title']} — {b.get('applies_to', '')}" for b in books}
    name = st.selectbox("Runbook", names, index=index, format_func=lambda n: titles[n])
    st.session_state["runbook"] = name
    doc = w.read(session, f"/runbooks/{name}", format="json")
    if doc:
        st.markdown(doc["markdown"])


main()
