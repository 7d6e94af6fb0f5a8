"""Widgets every page shares: reads that show problems, pagers, tables, write buttons."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.client import ApiError
from dashboard.state import Session

_FLASH = "dg_flash"


def require_session() -> Session:
    """The signed-in session; app.py shows only the sign-in page without one."""
    session = state.current()
    if session is None:
        st.info("Sign in with your API token first.")
        st.stop()
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.success(flash)
    return session


def show_problem(exc: ApiError) -> None:
    """The API's problem document as a message, never a stack trace."""
    st.error(exc.problem.message)


def read(session: Session, path: str, *, quiet_404: bool = False, **params: Any) -> Any:
    """A cached GET; on a problem, show it and return None so the page carries on."""
    try:
        return state.get(session, path, **params)
    except ApiError as exc:
        if not (quiet_404 and exc.problem.status == 404):
            show_problem(exc)
        return None


def read_text(session: Session, path: str, **params: Any) -> str | None:
    """A cached GET of a text body (Markdown, DOT); a problem shows and returns None."""
    try:
        return state.get_text(session, path, **params)
    except ApiError as exc:
        show_problem(exc)
        return None


def paged(
    session: Session, path: str, *, key: str, page_size: int | None = None, **params: Any
) -> list[Any]:
    """One page of a list the API pages with limit/offset; previous/next move through it."""
    size = page_size or state.settings().page_size
    offset_key = f"{key}_offset"
    offset = int(st.session_state.get(offset_key, 0))
    rows = read(session, path, limit=size, offset=offset, **params) or []
    left, mid, right = st.columns([1, 2, 1])
    if left.button("◀ Previous", key=f"{key}_prev", disabled=offset == 0):
        st.session_state[offset_key] = max(0, offset - size)
        st.rerun()
    mid.caption(f"rows {offset + 1} to {offset + len(rows)}" if rows else "no rows")
    if right.button("Next ▶", key=f"{key}_next", disabled=len(rows) < size):
        st.session_state[offset_key] = offset + size
        st.rerun()
    return list(rows)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, empty: str) -> None:
    """A read-only table of the named columns (missing ones stay blank)."""
    if not rows:
        st.caption(empty)
        return
    frame = pd.DataFrame([{c: _cell(r.get(c)) for c in columns} for r in rows], columns=columns)
    for name in frame.columns:  # Arrow needs one type per column: mixed ones become text
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: None if v is None else str(v))
    st.dataframe(frame, hide_index=True, width="stretch")


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return str(value)
    return value


def write(action: Callable[[], Any], *, done: str) -> None:
    """Run a write as the signed-in person, drop cached reads and rerun the page showing
    `done`; a refusal shows the API's problem instead."""
    try:
        action()
    except ApiError as exc:
        show_problem(exc)
        return
    state.invalidate()
    # Rerun so the page reads the new state; the confirmation survives the rerun.
    st.session_state[_FLASH] = done
    st.rerun()


def short(sha: str | None, n: int = 12) -> str:
    return (sha or "")[:n]


def when(text: str | None) -> str:
    """An ISO time trimmed to the second, in UTC as the API gives it."""
    if not text:
        return "—"
    return text.replace("T", " ")[:19] + " UTC"
