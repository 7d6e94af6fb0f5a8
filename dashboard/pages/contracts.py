"""Contracts: who owns what, how versions differ, and registering a change safely."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from dashboard import state
from dashboard import widgets as w
from dashboard.client import ApiError
from dashboard.state import Session


def listing(session: Session) -> list[dict[str, Any]]:
    contracts = w.paged(session, "/contracts", key="contracts")
    # one freshness read per listed contract, and the chosen one's versions: all at once
    chosen = st.session_state.get("contract_id") or (contracts[0]["id"] if contracts else None)
    state.prefetch(
        session,
        [(f"/contracts/{c['id']}/freshness", {}) for c in contracts]
        + ([(f"/contracts/{chosen}/versions", {})] if chosen else []),
    )
    rows = []
    for c in contracts:
        fresh = w.read(session, f"/contracts/{c['id']}/freshness") or {}
        rows.append(
            {**c, "freshness": fresh.get("status"), "last batch": fresh.get("last_batch_at")}
        )
    w.table(
        rows,
        ["id", "owner", "latest_version", "compatibility", "freshness", "last batch", "updated_at"],
        empty="No contracts registered yet.",
    )
    return contracts


def versions(session: Session, contract_id: str) -> None:
    found = w.read(session, f"/contracts/{contract_id}/versions") or []
    w.table(
        found,
        ["version", "status", "source_format", "created_by", "created_at", "deprecation_reason"],
        empty="No versions.",
    )
    numbers = [v["version"] for v in found]
    if len(numbers) >= 2:
        st.subheader("Diff between versions")
        a, b = st.columns(2)
        old = a.selectbox("From", numbers, index=len(numbers) - 2, key="diff_from")
        new = b.selectbox("To", numbers, index=len(numbers) - 1, key="diff_to")
        diff = w.read(session, f"/contracts/{contract_id}/diff", **{"from": old, "to": new})
        if diff:
            w.table(
                [
                    {**c, "breaks": ", ".join(c.get("breaks", [])) or "compatible"}
                    for c in diff["changes"]
                ],
                ["path", "kind", "old", "new", "breaks"],
                empty="The versions are the same.",
            )
    if numbers:
        pick = st.selectbox("Show version", numbers, index=len(numbers) - 1, key="spec_version")
        chosen = next(v for v in found if v["version"] == pick)
        with st.expander(f"Spec of {contract_id} v{pick}"):
            st.json(chosen["spec"], expanded=False)
        # Built on request: exporting the suite is the page's slowest read.
        if st.toggle("Great Expectations suite", key="gx_suite"):
            suite = w.read(session, f"/contracts/{contract_id}/expectations", version=pick)
            if suite is not None:
                st.download_button(
                    "Download the Great Expectations suite (JSON)",
                    json.dumps(suite, indent=2),
                    f"{contract_id}-{pick}.gx.json",
                    "application/json",
                )


def editor(session: Session, contracts: list[dict[str, Any]]) -> None:
    st.subheader("Register a contract or a new version")
    if not session.is_admin:
        st.caption("Only admins register contracts and versions.")
        return
    upload = st.file_uploader("A driftgate or ODCS v3 document", type=["yaml", "yml", "json"])
    text = st.text_area(
        "…or write it here (YAML or JSON)",
        value=upload.getvalue().decode("utf-8", "replace") if upload else "",
        height=300,
        key="contract_text",
    )
    targets = ["a new contract"] + [c["id"] for c in contracts]
    target = st.selectbox("Register as", targets, key="contract_target")
    contract_id = None if target == "a new contract" else target
    if contract_id and st.button("Show the impact of this change", key="impact"):
        try:
            impact = session.client.contract_impact(contract_id, text)
        except ApiError as exc:
            w.show_problem(exc)
        else:
            impact_summary(impact)
    if st.button("Register", type="primary", key="register", disabled=not text.strip()):
        w.write(
            lambda: session.client.register_contract(text, contract_id),
            done=f"registered {contract_id or 'the contract'}",
        )


def impact_summary(impact: dict[str, Any]) -> None:
    st.markdown(
        f"**{len(impact['changes'])} change(s)** to fields "
        f"{', '.join(f['field'] if isinstance(f, dict) else str(f) for f in impact['fields'])}"
    )
    st.markdown(
        f"- Downstream datasets: {len(impact['datasets'])}\n"
        f"- May be affected: {len(impact['may_be_affected'])}\n"
        f"- Model versions reading them: {len(impact['model_versions'])}\n"
        f"- Prediction windows: {len(impact['prediction_windows'])}"
    )
    with st.expander("Details"):
        st.json(impact, expanded=False)


def main() -> None:
    session = w.require_session()
    st.title("Contracts")
    contracts = listing(session)
    ids = [c["id"] for c in contracts]
    if ids:
        contract_id = st.selectbox("Contract", ids, key="contract_id")
        versions(session, contract_id)
    editor(session, contracts)


main()
