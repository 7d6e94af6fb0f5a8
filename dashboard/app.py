"""The dashboard's entry point (`streamlit run dashboard/app.py`): sign-in, then navigation.

Nothing but the sign-in page exists until the API accepts a token; each page module then reads
the API as the signed-in person.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from dashboard import state
from dashboard.client import ApiError

PAGES = Path(__file__).resolve().parent / "pages"

# Sections of the sidebar. No page icons:
# an icon becomes the favicon, and Material ones are fetched from a font CDN.
SECTIONS: dict[str, list[tuple[str, str]]] = {
    "Now": [("overview.py", "Overview")],
    "Data": [
        ("contracts.py", "Contracts"),
        ("batches.py", "Batches & quarantine"),
        ("drift.py", "Drift"),
    ],
    "Models": [
        ("quality.py", "Model quality"),
        ("models.py", "Models & approvals"),
    ],
    "Trace": [
        ("lineage.py", "Lineage"),
        ("audit.py", "Audit"),
    ],
    "Respond": [
        ("incidents.py", "Incidents"),
        ("postmortems.py", "Postmortems"),
        ("runbooks.py", "Runbooks"),
    ],
}


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import what the pages draw with (pandas, pyarrow, Altair) once per process on a
    background thread, while the first visitor types their token: otherwise the first page
    after sign-in waits for those imports (seconds on a busy machine)."""

    def load() -> None:
        import altair  # noqa: F401
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401

    thread = threading.Thread(target=load, name="dashboard-warm-up", daemon=True)
    thread.start()
    return thread


def sign_in_page() -> None:
    st.title("driftgate")
    st.write("Sign in with **your own** API token: every action is recorded under your name.")
    with st.form("sign_in"):
        token = st.text_input("API token", type="password", placeholder="dg_…")
        submitted = st.form_submit_button("Sign in")
    if submitted and token.strip():
        try:
            me = state.sign_in(token.strip())
        except ApiError as exc:
            st.error(exc.problem.message)
        else:
            st.success(f"Signed in as {me.name} ({me.role})")
            st.rerun()
    st.caption(
        "No token yet? An admin issues one: `driftgate token create --role reviewer --name you`."
    )


def sidebar(session: state.Session) -> None:
    with st.sidebar:
        mode = " · read-only kiosk" if session.kiosk else ""
        st.markdown(f"**{session.me.name}** · `{session.me.role}`{mode}")
        st.caption(session.api_url)
        if st.button("Sign out", key="sign_out"):
            state.sign_out()
            st.rerun()


def navigation() -> StreamlitPage:
    pages = {
        section: [
            st.Page(str(PAGES / file), title=title, default=file == "overview.py")
            for file, title in entries
        ]
        for section, entries in SECTIONS.items()
        if entries
    }
    return st.navigation(pages)


def main() -> None:
    st.set_page_config(page_title="driftgate", layout="wide")
    warm_up()
    try:
        session = state.current()
    except ApiError as exc:  # a kiosk token the API refuses
        st.error(exc.problem.message)
        session = None
    if session is None:
        st.navigation([st.Page(sign_in_page, title="Sign in")]).run()
        return
    sidebar(session)
    navigation().run()


main()
