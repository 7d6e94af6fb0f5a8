"""Incidents: what is on fire, what it touched, what happened when, and who is on it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import widgets as w
from dashboard.state import Session

STATUSES = ("active", "stable", "closed")
SEVERITIES = ("critical", "major", "minor")
NEXT_STATUS = {"active": ("stable", "closed"), "stable": ("active", "closed"), "closed": ()}


def incident_list(session: Session) -> list[dict[str, Any]]:
    a, b = st.columns(2)
    status = a.segmented_control(
        "Status", ("open", *STATUSES, "all"), default="open", key="incident_status"
    )
    severity = b.segmented_control("Severity", (*SEVERITIES, "all"), default="all", key="inc_sev")
    size = 50
    offset = int(st.session_state.get("incidents_offset", 0))
    params: dict[str, Any] = {
        "status": None if status in (None, "all", "open") else status,
        "severity": None if severity in (None, "all") else severity,
    }
    page = w.read(session, "/incidents", limit=size, offset=offset, **params) or {}
    items = [
        i for i in page.get("items", []) if status != "open" or i["status"] in ("active", "stable")
    ]
    w.table(
        items,
        ["title", "severity", "status", "source", "commander", "opened_at", "closed_at"],
        empty="No incidents match.",
    )
    total = int(page.get("total", 0))
    prev, mid, nxt = st.columns([1, 2, 1])
    if prev.button("◀ Previous", key="incidents_prev", disabled=offset == 0):
        st.session_state["incidents_offset"] = max(0, offset - size)
        st.rerun()
    mid.caption(f"{total} incident(s) in all")
    if nxt.button("Next ▶", key="incidents_next", disabled=offset + size >= total):
        st.session_state["incidents_offset"] = offset + size
        st.rerun()
    return items


def header(incident: dict[str, Any]) -> None:
    st.subheader(incident["title"])
    sev, status, commander, runbook = st.columns(4)
    sev.metric("Severity", incident["severity"])
    status.metric("Status", incident["status"])
    commander.metric("Commander", incident.get("commander") or "nobody yet")
    if incident.get("runbook_url"):
        runbook.markdown(f"**Runbook**  \n[{incident['runbook']}]({incident['runbook_url']})")
    st.caption(
        f"opened {w.when(incident['opened_at'])} by {incident['opened_by']} ({incident['source']})"
        f" · first bad data {w.when(incident.get('first_bad_at'))}"
        f" · stable {w.when(incident.get('stable_at'))}"
        f" · closed {w.when(incident.get('closed_at'))}"
    )


def impact(incident: dict[str, Any]) -> None:
    found = incident.get("impact") or {}
    if not found:
        return
    st.markdown("**Impact (through lineage)**")
    figures = {k: v for k, v in found.items() if isinstance(v, int | float) and v is not None}
    if figures:
        cols = st.columns(min(len(figures), 4))
        for i, (name, value) in enumerate(figures.items()):
            cols[i % len(cols)].metric(name.replace("_", " "), value)
    lists = {k: v for k, v in found.items() if isinstance(v, list | dict)}
    if lists:
        with st.expander("Affected objects"):
            st.json(lists, expanded=False)


def timeline(incident: dict[str, Any]) -> None:
    st.markdown("**Timeline**")
    w.table(
        incident.get("timeline", []),
        ["at", "kind", "actor", "summary"],
        empty="Nothing recorded yet.",
    )


def controls(session: Session, incident: dict[str, Any]) -> None:
    iid = incident["id"]
    if session.kiosk or session.me.role == "viewer":
        return
    with st.form(f"note_{iid}", clear_on_submit=True):
        note = st.text_area("Add a note to the timeline", key=f"note_text_{iid}")
        if st.form_submit_button("Add note", key=f"add_note_{iid}") and note.strip():
            w.write(lambda: session.client.note_incident(iid, note.strip()), done="note added")
    if not session.can_review:
        return
    with st.form(f"change_{iid}"):
        a, b, c = st.columns(3)
        moves = NEXT_STATUS.get(incident["status"], ())
        status = a.selectbox("Status", ("(unchanged)", *moves), key=f"status_{iid}")
        severity = b.selectbox(
            "Severity",
            SEVERITIES,
            index=SEVERITIES.index(incident["severity"]),
            key=f"severity_{iid}",
        )
        commander = c.text_input(
            "Commander", value=incident.get("commander") or "", key=f"commander_{iid}"
        )
        reason = st.text_input("Reason (recorded in the timeline)", key=f"reason_{iid}")
        if st.form_submit_button("Save changes", key=f"save_{iid}"):
            changes = {
                "status": None if status == "(unchanged)" else status,
                "severity": None if severity == incident["severity"] else severity,
                "commander": None
                if commander.strip() == (incident.get("commander") or "")
                else commander.strip(),
                "reason": reason.strip() or None,
            }
            w.write(
                lambda: session.client.update_incident(iid, **changes),
                done="incident updated",
            )
    if st.button("Draft the postmortem", key=f"postmortem_{iid}"):
        w.write(lambda: session.client.draft_postmortem(iid), done="postmortem drafted")


def detail(session: Session, incident_id: str) -> None:
    incident = w.read(session, f"/incidents/{incident_id}")
    if not incident:
        return
    header(incident)
    impact(incident)
    timeline(incident)
    controls(session, incident)
    if st.button("Open its postmortem", key=f"goto_pm_{incident_id}"):
        st.session_state["postmortem_incident"] = incident_id
        st.switch_page("pages/postmortems.py")


def main() -> None:
    session = w.require_session()
    st.title("Incidents")
    items = incident_list(session)
    chosen = st.session_state.get("incident_id")
    options = {f"{i['title']} ({i['status']}, {i['severity']})": i["id"] for i in items}
    if chosen and chosen not in options.values():
        options[f"incident {chosen[:8]}"] = chosen
    if not options:
        return
    labels = list(options)
    index = list(options.values()).index(chosen) if chosen in options.values() else 0
    label = st.selectbox("Incident", labels, index=index, key="incident_pick")
    st.session_state["incident_id"] = options[label]
    detail(session, options[label])


main()
