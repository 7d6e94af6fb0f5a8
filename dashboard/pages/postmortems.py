"""Postmortems: read, edit and publish the blameless write-up; follow the action items."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import widgets as w
from dashboard.state import Session

NARRATIVE = ("summary", "impact", "root_causes", "trigger", "detection", "resolution")
LISTS = ("went_well", "went_badly", "got_lucky")
ACTION_STATUSES = ("open", "in_progress", "done", "wont_do")
PRIORITIES = ("P0", "P1", "P2", "P3")


def pick_incident(session: Session) -> str | None:
    page = w.read(session, "/incidents", limit=100) or {}
    options = {f"{i['title']} ({i['status']})": i["id"] for i in page.get("items", [])}
    if not options:
        st.caption("No incidents yet: postmortems are drafted from an incident.")
        return None
    wanted = st.session_state.get("postmortem_incident")
    ids = list(options.values())
    index = ids.index(wanted) if wanted in ids else 0
    label = st.selectbox("Incident", list(options), index=index, key="pm_incident_pick")
    st.session_state["postmortem_incident"] = options[label]
    return options[label]


def figures(pm: dict[str, Any]) -> None:
    m = pm.get("metrics") or {}
    shown = {
        "time to detect (s)": m.get("time_to_detect_seconds"),
        "time to mitigate (s)": m.get("time_to_mitigate_seconds"),
        "time to resolve (s)": m.get("time_to_resolve_seconds"),
        "rows quarantined": m.get("rows_quarantined"),
        "rows lost": m.get("rows_lost"),
        "predictions affected": m.get("predictions_affected"),
        "error budget consumed": m.get("error_budget_consumed"),
    }
    cols = st.columns(4)
    for i, (name, value) in enumerate(shown.items()):
        cols[i % 4].metric(name, "—" if value is None else value)


def editable(session: Session, pm: dict[str, Any]) -> bool:
    return pm["status"] != "published" and not session.kiosk and session.me.role != "viewer"


def edit_form(session: Session, pm: dict[str, Any]) -> None:
    with st.form(f"pm_edit_{pm['id']}"):
        changes: dict[str, Any] = {
            name: st.text_area(
                name.replace("_", " ").capitalize(),
                value=pm.get(name) or "",
                key=f"pm_{name}_{pm['id']}",
            )
            for name in NARRATIVE
        }
        for name in LISTS:
            text = st.text_area(
                f"{name.replace('_', ' ').capitalize()} (one per line)",
                value="\n".join(pm.get(name) or []),
            )
            changes[name] = [line.strip() for line in text.splitlines() if line.strip()]
        changes["action_items"] = action_item_editor(pm)
        if st.form_submit_button("Save", key=f"pm_save_{pm['id']}"):
            w.write(lambda: session.client.update_postmortem(pm["id"], changes), done="saved")


def action_item_editor(pm: dict[str, Any]) -> list[dict[str, Any]]:
    """The revision's action items as an editable table (rows added or removed here)."""
    st.markdown("**Action items**")
    columns = ["id", "title", "owner", "priority", "status", "due"]
    rows = [{c: item.get(c) for c in columns} for item in pm.get("action_items", [])]
    frame = pd.DataFrame(rows, columns=columns)
    edited = st.data_editor(
        frame,
        num_rows="dynamic",
        hide_index=True,
        disabled=["id"],
        column_config={
            "id": None,  # kept to match rows with stored items, not shown
            "priority": st.column_config.SelectboxColumn(options=PRIORITIES, required=True),
            "status": st.column_config.SelectboxColumn(options=ACTION_STATUSES, required=True),
            "due": st.column_config.TextColumn(help="YYYY-MM-DD"),
        },
        key=f"pm_items_{pm['id']}",
    )
    items = []
    for row in edited.to_dict("records"):
        if not str(row.get("title") or "").strip():
            continue
        item = {k: (None if pd.isna(v) else v) for k, v in row.items()}
        items.append({k: v for k, v in item.items() if v is not None and v != ""})
    return items


def read_only(pm: dict[str, Any]) -> None:
    for name in NARRATIVE:
        st.markdown(f"**{name.replace('_', ' ').capitalize()}**  \n{pm.get(name) or '—'}")
    for name in LISTS:
        items = pm.get(name) or []
        st.markdown(f"**{name.replace('_', ' ').capitalize()}**")
        st.markdown("\n".join(f"- {x}" for x in items) or "—")
    st.markdown("**Action items**")
    w.table(pm.get("action_items", []), ["title", "owner", "priority", "status", "due"], empty="—")


def steps(session: Session, pm: dict[str, Any]) -> None:
    pid = pm["id"]
    a, b, c = st.columns(3)
    status, may_edit, may_review = pm["status"], editable(session, pm), session.can_review
    if status == "draft" and may_edit and a.button("Submit for review", key=f"submit_{pid}"):
        w.write(lambda: session.client.postmortem_step(pid, "submit"), done="submitted")
    publish = status == "in_review" and may_review
    if publish and b.button("Publish", type="primary", key=f"publish_{pid}"):
        w.write(lambda: session.client.postmortem_step(pid, "publish"), done="published")
    amend = status == "published" and may_review
    if amend and c.button("Amend (new revision)", key=f"amend_{pid}"):
        w.write(lambda: session.client.postmortem_step(pid, "revisions"), done="new revision")
    markdown = w.read_text(session, f"/postmortems/{pid}/markdown")
    if markdown:
        st.download_button(
            "Download as Markdown", markdown, file_name=f"postmortem-{pid}.md", key=f"md_{pid}"
        )


def postmortem(session: Session, incident_id: str) -> None:
    pm = w.read(session, f"/incidents/{incident_id}/postmortem", quiet_404=True)
    if not pm:
        st.info("No postmortem drafted for this incident yet.")
        may_draft = not session.kiosk and session.me.role != "viewer"
        if may_draft and st.button("Draft it now", key=f"draft_{incident_id}"):
            w.write(lambda: session.client.draft_postmortem(incident_id), done="drafted")
        return
    st.subheader(f"{pm['title']} · revision {pm['revision']} · {pm['status']}")
    figures(pm)
    if editable(session, pm):
        edit_form(session, pm)
    else:
        read_only(pm)
    with st.expander("Timeline (drafted from the incident)"):
        w.table(pm.get("timeline", []), ["at", "kind", "actor", "summary"], empty="—")
    steps(session, pm)


def action_items(session: Session) -> None:
    st.subheader("Action items, open ones first")
    page = w.read(session, "/action-items", limit=200) or {}
    items = page.get("items", [])
    w.table(items, ["title", "owner", "priority", "status", "due"], empty="No action items.")
    if session.kiosk or session.me.role == "viewer" or not items:
        return
    with st.form("action_item_status"):
        labels = {f"{i['priority']} · {i['title']} ({i['status']})": i["id"] for i in items}
        label = st.selectbox("Action item", list(labels))
        status = st.selectbox("New status", ACTION_STATUSES)
        if st.form_submit_button("Update"):
            w.write(
                lambda: session.client.update_action_item(labels[label], status),
                done="action item updated",
            )


def main() -> None:
    session = w.require_session()
    st.title("Postmortems")
    incident_id = pick_incident(session)
    if incident_id:
        postmortem(session, incident_id)
    action_items(session)


main()
