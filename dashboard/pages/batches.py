"""Batches & quarantine: what arrived, which rules failed, which rows were held back and why."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard import widgets as w
from dashboard.state import Session

STATUSES = ["any", "passed", "warned", "quarantined", "rejected"]
QUARANTINE_PAGE = 50
SECTIONS = ["Rules", "Quarantine", "Profile", "Lineage"]


def filters(session: Session) -> dict[str, Any]:
    contracts = ["any"] + [c["id"] for c in (w.read(session, "/contracts", limit=100) or [])]
    a, b, c, d = st.columns(4)
    contract = a.selectbox("Contract", contracts, key="batch_contract")
    status = b.selectbox("Status", STATUSES, key="batch_status")
    today = datetime.now(UTC).date()
    since = c.date_input("From", today - timedelta(days=7), key="batch_since")
    until = d.date_input("Until", today, key="batch_until")
    return {
        "contract": None if contract == "any" else contract,
        "status": None if status == "any" else status,
        "since": datetime.combine(since, time.min, UTC).isoformat(),
        "until": datetime.combine(until + timedelta(days=1), time.min, UTC).isoformat(),
    }


def listing(session: Session) -> None:
    params = filters(session)
    key = "batches_" + "_".join(str(v) for v in params.values())
    rows = w.paged(session, "/batches", key=key, **params)
    w.table(
        rows,
        [
            "id",
            "contract_id",
            "contract_version",
            "status",
            "rows_received",
            "rows_accepted",
            "rows_quarantined",
            "received_at",
            "submitted_by",
        ],
        empty="No batches match.",
    )
    if rows and "batch_id" not in st.session_state:
        st.session_state["batch_id"] = rows[0]["id"]


def rules(batch: dict[str, Any]) -> None:
    st.subheader("Rule results")
    failing = [r for r in batch["rules"] if not r["passed"]]
    st.caption(f"{len(failing)} of {len(batch['rules'])} rules failed")
    w.table(
        sorted(batch["rules"], key=lambda r: r["passed"]),
        [
            "rule_id",
            "passed",
            "action",
            "observed",
            "threshold",
            "failing_rows",
            "examples",
            "message",
        ],
        empty="No rules ran.",
    )


def quarantine(session: Session, batch_id: str) -> None:
    st.subheader("Quarantined rows")
    key = f"quarantine_{batch_id}_offset"
    offset = int(st.session_state.get(key, 0))
    page = w.read(session, f"/batches/{batch_id}/quarantine", limit=QUARANTINE_PAGE, offset=offset)
    if not page or not page["total"]:
        st.caption("No rows were quarantined.")
        return
    st.caption(f"rows {offset + 1} to {offset + len(page['rows'])} of {page['total']}")
    frame = pd.DataFrame(page["rows"])
    first = [c for c in ("_row", "_rule_ids", "_reasons") if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    frame["_rule_ids"] = frame["_rule_ids"].astype(str)
    st.dataframe(frame, hide_index=True, width="stretch")
    prev, _, nxt = st.columns([1, 2, 1])
    if prev.button("◀ Previous rows", disabled=offset == 0, key=f"{key}_prev"):
        st.session_state[key] = max(0, offset - QUARANTINE_PAGE)
        st.rerun()
    if nxt.button(
        "Next rows ▶", disabled=offset + QUARANTINE_PAGE >= page["total"], key=f"{key}_n"
    ):
        st.session_state[key] = offset + QUARANTINE_PAGE
        st.rerun()


def profile(session: Session, batch_id: str) -> None:
    st.subheader("Profile of accepted rows")
    doc = w.read(session, f"/batches/{batch_id}/profile", quiet_404=True)
    if not doc or not doc["columns"]:
        st.caption("No profile (no rows were accepted).")
        return
    stats = [
        {
            "field": name,
            **{k: col.get(k) for k in ("type", "count", "nulls", "min", "max", "mean", "std")},
        }
        for name, col in doc["columns"].items()
    ]
    w.table(stats, ["field", "type", "count", "nulls", "min", "max", "mean", "std"], empty="")
    categorical = {n: c["top"] for n, c in doc["columns"].items() if c.get("top")}
    if categorical:
        name = st.selectbox("Top values of", sorted(categorical), key=f"top_{batch_id}")
        top = categorical[name]
        st.altair_chart(charts.top_values(top["values"], top["counts"]), width="stretch")


def lineage(session: Session, batch_id: str) -> None:
    st.subheader("Lineage")
    impact = w.read(session, "/lineage/impact", batch=batch_id, depth=5, quiet_404=True)
    if not impact:
        st.caption("No lineage recorded for this batch.")
        return
    datasets = [d.get("name") or str(d) for d in impact.get("datasets", [])]
    versions = [
        f"{m.get('model_name', m.get('name'))} v{m.get('version')}"
        for m in impact.get("model_versions", [])
    ]
    st.markdown(
        f"Datasets downstream: {', '.join(map(str, datasets)) or 'none'}  \n"
        f"Model versions trained on it: {', '.join(versions) or 'none'}  \n"
        f"Prediction windows: {len(impact.get('prediction_windows', []))}"
    )


def detail(session: Session) -> None:
    batch_id = st.text_input("Batch id", key="batch_id").strip()
    if not batch_id:
        return
    batch = w.read(session, f"/batches/{batch_id}")
    if not batch:
        return
    st.markdown(
        f"**{batch['status'].upper()}** · {batch['contract_id']} v{batch['contract_version']} · "
        f"{batch['rows_received']} rows received, {batch['rows_accepted']} accepted, "
        f"{batch['rows_quarantined']} quarantined · by {batch['submitted_by']} at "
        f"{w.when(batch['received_at'])}"
    )
    # One section at a time: tabs would fetch and render all four on every run.
    shown = st.segmented_control("Show", SECTIONS, default="Rules", key="batch_section")
    if shown == "Rules":
        rules(batch)
    elif shown == "Quarantine":
        quarantine(session, batch_id)
    elif shown == "Profile":
        profile(session, batch_id)
    elif shown == "Lineage":
        lineage(session, batch_id)


def main() -> None:
    session = w.require_session()
    st.title("Batches & quarantine")
    listing(session)
    st.divider()
    detail(session)


main()
