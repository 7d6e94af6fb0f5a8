"""Overview: is anything wrong right now?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from dashboard import state
from dashboard import widgets as w
from dashboard.state import Session

ALERT_STATES = ("firing", "pending")


def health(session: Session) -> None:
    ready = session.client.ready()
    up, champ, served = st.columns(3)
    up.metric("API", "ready" if ready.get("status") == "ready" else "NOT READY")
    serving = w.read(session, "/rank/status") or {}
    champion = w.read(session, "/models/ranker/champion", quiet_404=True)
    if champion:
        champ.metric("Champion", f"ranker v{champion['version']}")
        champ.caption(
            f"since {w.when(champion['set_at'])} · sha256 "
            f"`{w.short(serving.get('champion_sha256'))}`"
        )
    else:
        champ.metric("Champion", "none")
    label = f"v{serving['served_version']}" if serving.get("served_version") else "not serving"
    served.metric("Served", label)
    if serving.get("last_error"):
        served.caption(f"last error: {serving['last_error']}")


def alerts(session: Session) -> None:
    st.subheader("Alerts")
    rows = [
        a
        for alert_state in ALERT_STATES
        for a in (w.read(session, "/alerts", state=alert_state, limit=100) or [])
    ]
    if not rows:
        st.success("No firing or pending alerts.")
        return
    for a in rows:
        badge = ":red[**FIRING**]" if a["state"] == "firing" else ":orange[**PENDING**]"
        runbook = f" · [runbook]({a['runbook_url']})" if a.get("runbook_url") else ""
        st.markdown(
            f"{badge} **{a['severity']}** · `{a['slo_id']}` · since "
            f"{w.when(a.get('fired_at') or a['opened_at'])}{runbook}  \n{a['summary']}"
        )
        evidence_batches(a)


def evidence_batches(alert: dict[str, Any]) -> None:
    """The batches the alert's evidence names, each one click from its detail."""
    batches = (alert.get("evidence") or {}).get("batches") or []
    if not batches:
        return
    cols = st.columns(min(len(batches), 4))
    for col, b in zip(cols, batches[:4], strict=False):
        label = f"batch {b['batch_id'][:8]} ({b.get('status', '?')})"
        if col.button(label, key=f"alert_{alert['id']}_{b['batch_id']}"):
            st.session_state["batch_id"] = b["batch_id"]
            st.switch_page("pages/batches.py")


def slos(session: Session) -> None:
    st.subheader("SLOs")
    rows = w.read(session, "/slos") or []
    table = []
    for s in rows:
        ev: dict[str, Any] = s.get("last_evaluation") or {}
        burn = {
            f"burn {int(win['long_window_seconds'] // 3600)}h": round(win["long_burn_rate"], 2)
            for win in ev.get("windows", [])
        }
        remaining = ev.get("budget_remaining")
        table.append(
            {
                "slo": s["id"],
                "kind": s["kind"],
                "objective": s["objective"],
                "sli": ev.get("sli"),
                "budget remaining": None if remaining is None else f"{remaining:.0%}",
                **burn,
            }
        )
    columns = list(dict.fromkeys(k for r in table for k in r))
    w.table(table, columns, empty="No SLOs defined.")


def day_ago() -> str:
    """24 h ago, to the minute: the same instant for a minute, so the read can be cached."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return (now - timedelta(hours=24)).isoformat()


def batches(session: Session) -> None:
    st.subheader("Batches, last 24 h")
    found = w.read(session, "/batches/counts", since=day_ago()) or {}
    statuses = ("passed", "warned", "quarantined", "rejected")
    cols = st.columns(len(statuses))
    for col, status in zip(cols, statuses, strict=True):
        col.metric(status, str(found.get(status, 0)))


def freshness(session: Session) -> None:
    st.subheader("Freshness per contract")
    contracts = w.read(session, "/contracts", limit=100) or []
    rows = []
    for c in contracts:
        f = w.read(session, f"/contracts/{c['id']}/freshness") or {}
        rows.append(
            {
                "contract": c["id"],
                "status": f.get("status"),
                "last batch": w.when(f.get("last_batch_at")),
                "lag (s)": None if f.get("lag_seconds") is None else round(f["lag_seconds"]),
                "max lag (s)": f.get("max_lag_seconds"),
            }
        )
    w.table(
        rows, ["contract", "status", "last batch", "lag (s)", "max lag (s)"], empty="No contracts."
    )


def waiting_for_me(session: Session) -> None:
    st.subheader("Waiting for me")
    if not session.me.can_review:
        st.caption("Only reviewers and admins decide promotion requests.")
        return
    open_requests = w.read(session, "/promotion-requests", state="open", limit=100) or []
    mine = [
        r
        for r in open_requests
        if r["requested_by"] != session.me.name
        and session.me.name not in {a["reviewer"] for a in r.get("approvals", [])}
    ]
    if not mine:
        st.caption("Nothing waits for your review.")
    for r in mine:
        st.markdown(
            f"- **{r['model_name']} v{r['version']}** requested by {r['requested_by']} "
            f"({r['approvals_live']}/{r['quorum']} approvals) — open *Models & approvals*"
        )


def prefetch(session: Session) -> None:
    """The sections' reads are independent: make them at once, then per-contract freshness."""
    reads: list[tuple[str, dict[str, Any]]] = [
        ("/rank/status", {}),
        ("/models/ranker/champion", {}),
        *(("/alerts", {"state": s, "limit": 100}) for s in ALERT_STATES),
        ("/slos", {}),
        ("/batches/counts", {"since": day_ago()}),
        ("/contracts", {"limit": 100}),
    ]
    if session.me.can_review:
        reads.append(("/promotion-requests", {"state": "open", "limit": 100}))
    state.prefetch(session, reads)
    contracts = w.read(session, "/contracts", limit=100) or []
    state.prefetch(session, [(f"/contracts/{c['id']}/freshness", {}) for c in contracts])


def main() -> None:
    session = w.require_session()
    st.title("Overview")
    prefetch(session)
    health(session)
    left, right = st.columns([3, 2])
    with left:
        alerts(session)
        slos(session)
        batches(session)
    with right:
        waiting_for_me(session)
        freshness(session)


main()
