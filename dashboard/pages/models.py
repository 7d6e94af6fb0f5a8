"""Models & approvals: what is served, what waits for a decision, and deciding it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import state
from dashboard import widgets as w
from dashboard.client import ApiError
from dashboard.state import Session

STATES = ["open", "approved", "promoted", "rejected", "withdrawn", "expired", "all"]


def registry(session: Session) -> str | None:
    models = w.read(session, "/models", limit=100) or []
    if not models:
        st.info("No model is registered yet.")
        return None
    w.table(
        models,
        ["name", "latest_version", "champion_version", "created_by", "created_at"],
        empty="No models.",
    )
    names = [m["name"] for m in models]
    return str(
        st.selectbox("Model", names, index=names.index("ranker") if "ranker" in names else 0)
    )


def champion(session: Session, model: str) -> None:
    current = w.read(session, f"/models/{model}/champion", quiet_404=True)
    if current is None:
        st.caption("No champion yet.")
        return
    st.markdown(
        f"**Champion:** v{current['version']} since {w.when(current['set_at'])}, set by "
        f"{current['set_by']} — {current['reason']}"
    )
    if session.can_review:
        with st.form("rollback"):
            reason = st.text_input("Reason for rolling back", key="rollback_reason")
            if st.form_submit_button("Roll back to the previous champion"):
                if not reason.strip():
                    st.error("A rollback needs a reason.")
                else:
                    w.write(
                        lambda: session.client.rollback(model, reason.strip()),
                        done=f"{model} rolled back",
                    )


def gates(request: dict[str, Any]) -> None:
    w.table(
        [
            {
                "gate": g["name"],
                "status": g["status"],
                "blocking": g["blocking"],
                "summary": g["summary"],
                "overridden": bool(g.get("overridden")),
            }
            for g in request["gates"]
        ],
        ["gate", "status", "blocking", "summary", "overridden"],
        empty="No gates ran.",
    )
    with st.popover("Evidence"):
        st.json({g["name"]: g["details"] for g in request["gates"]}, expanded=False)


def decision_form(session: Session, request: dict[str, Any]) -> None:
    rid = request["id"]
    comment = st.text_area("Comment (what you checked)", key=f"comment_{rid}")
    approve, reject = st.columns(2)
    if approve.button("Approve", key=f"approve_{rid}", type="primary"):
        w.write(
            lambda: session.client.decide(rid, "approve", comment),
            done=f"approved v{request['version']} as {session.me.name}",
        )
    if reject.button("Reject", key=f"reject_{rid}"):
        w.write(
            lambda: session.client.decide(rid, "reject", comment),
            done=f"rejected v{request['version']} as {session.me.name}",
        )


def bake(session: Session, request: dict[str, Any]) -> None:
    status = w.read(session, f"/promotion-requests/{request['id']}/bake")
    if status:
        st.markdown(f"**Bake:** {status['verdict']} (until {w.when(status.get('bake_until'))})")
        w.table(status["signals"], ["name", "status", "summary"], empty="No bake signals.")


def request_panel(session: Session, request: dict[str, Any]) -> None:
    st.markdown(
        f"Requested by **{request['requested_by']}** at {w.when(request['requested_at'])}: "
        f"{request['justification']}  \n"
        f"Approvals {request['approvals_live']}/{request['quorum']} · expires "
        f"{w.when(request['expires_at'])} · artifact "
        f"`{w.short(request['binding']['artifact_sha256'])}`"
    )
    gates(request)
    w.table(
        request.get("approvals", []),
        ["reviewer", "decision", "comment", "decided_at", "voided_at"],
        empty="No decisions yet.",
    )
    if request["state"] == "open" and session.can_review:
        decision_form(session, request)
    may_promote = not session.kiosk and session.me.role != "viewer"
    if (
        request["state"] == "approved"
        and may_promote
        and st.button("Promote to champion", key=f"promote_{request['id']}")
    ):
        w.write(
            lambda: session.client.promote(request["id"]),
            done=f"v{request['version']} promoted",
        )
    if request["state"] == "promoted":
        bake(session, request)


def queue(session: Session, model: str) -> None:
    st.subheader("Promotion requests")
    chosen = st.segmented_control("State", STATES, default="open", key="request_state")
    filters: dict[str, Any] = {"model": model, "state": None if chosen in (None, "all") else chosen}
    requests = w.paged(session, "/promotion-requests", key=f"requests_{chosen}", **filters)
    if not requests:
        st.caption("No promotion requests in this state.")
    for r in requests:
        blocking = ", ".join(r["blocking_gates"]) or "none"
        title = f"v{r['version']} · {r['state']} · blocking gates: {blocking}"
        with st.expander(title, expanded=r["state"] == "open"):
            request_panel(session, r)


def versions_and_card(session: Session, model: str) -> None:
    st.subheader("Versions")
    versions = w.paged(session, f"/models/{model}/versions", key=f"versions_{model}")
    w.table(
        versions,
        ["version", "artifact_sha256", "created_by", "created_at", "description"],
        empty="No versions.",
    )
    numbers = [v["version"] for v in versions]
    if numbers:
        pick = st.selectbox(
            "Model card of version", numbers, index=None, key="card_version", placeholder="pick"
        )
        text = _card(session, model, int(pick)) if pick is not None else None
        if text:
            with st.container(border=True):
                st.markdown(text)


def _card(session: Session, model: str, version: int) -> str | None:
    try:
        return state.get_text(session, f"/models/{model}/versions/{version}/card")
    except ApiError as exc:
        w.show_problem(exc)
        return None


def history(session: Session, model: str) -> None:
    st.subheader("Champion history")
    entries = w.read(session, f"/models/{model}/history", limit=200) or []
    moves = [e for e in entries if e["action"].startswith(("model.champion", "promotion."))]
    w.table(list(reversed(moves)), ["at", "actor", "action", "summary"], empty="No history yet.")


def main() -> None:
    session = w.require_session()
    st.title("Models & approvals")
    model = registry(session)
    if model is None:
        return
    champion(session, model)
    queue(session, model)
    history(session, model)
    versions_and_card(session, model)


main()
