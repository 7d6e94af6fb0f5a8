"""Audit: who did what to which object, and whether the chain still verifies."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import widgets as w
from dashboard.state import Session


def verification(session: Session) -> None:
    verdict = w.read(session, "/audit/verify")
    if not verdict:
        return
    if verdict["intact"]:
        st.success(
            f"Chain intact: {verdict['events_checked']} events recomputed ({verdict['mode']}), "
            f"head #{verdict['head_seq']}, {verdict['checkpoints_trusted']} trusted checkpoints.",
        )
    else:
        st.error(
            f"Chain broken at #{verdict.get('first_broken_seq')}: {verdict.get('reason')}",
        )
        w.table(verdict["findings"], ["kind", "seq", "reason"], empty="")


def events(session: Session) -> None:
    a, b, c = st.columns(3)
    obj = a.text_input("Object (type:id, id or type)", key="audit_object").strip()
    actor = b.text_input("Actor", key="audit_actor").strip()
    action = c.text_input("Action (e.g. promotion.approve)", key="audit_action").strip()
    size = 100
    cursors: list[int] = st.session_state.setdefault("audit_cursors", [0])
    filters: dict[str, Any] = {
        "object": obj or None,
        "actor": actor or None,
        "action": action or None,
    }
    if st.session_state.get("audit_filters") != filters:
        st.session_state["audit_filters"] = filters
        cursors[:] = [0]
    rows = w.read(session, "/audit", after_seq=cursors[-1], limit=size, **filters) or []
    w.table(
        [{**r, "object": f"{r['object_type']}:{r['object_id']}"} for r in rows],
        ["seq", "occurred_at", "actor", "action", "object", "payload"],
        empty="No events match.",
    )
    prev, _, nxt = st.columns([1, 2, 1])
    if prev.button("◀ Earlier", disabled=len(cursors) == 1, key="audit_prev"):
        cursors.pop()
        st.rerun()
    if nxt.button("Later ▶", disabled=len(rows) < size, key="audit_next"):
        cursors.append(rows[-1]["seq"])
        st.rerun()


def main() -> None:
    session = w.require_session()
    st.title("Audit")
    verification(session)
    events(session)


main()
