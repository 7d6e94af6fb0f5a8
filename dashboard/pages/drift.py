"""Drift: which fields moved, how far against the contract's thresholds, and which batches."""

from __future__ import annotations

from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from dashboard import charts, state
from dashboard import widgets as w
from dashboard.client import ApiError
from dashboard.state import Session

# PSI, KS and JS thresholds bound the statistic; chi² thresholds bound its p-value.
STATISTIC_THRESHOLDS = ("psi", "ks", "js")
WINDOWS = {"per batch": "batch", "hourly": "PT1H", "daily": "P1D"}


def thresholds(series: dict[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    """Each field's warn/alert thresholds, as the newest window that judged it applied them."""
    found: dict[str, tuple[float | None, float | None]] = {}
    for window in series["windows"]:
        for name, doc in (window.get("fields") or {}).items():
            found[name] = (doc.get("warn"), doc.get("alert"))
    return found


def reference(series: dict[str, Any]) -> None:
    ref = series.get("reference")
    if not ref:
        st.warning(f"No reference yet: {series.get('reference_pending') or 'none built'}")
        return
    st.caption(
        f"Reference v{ref['version']} ({ref['source']}): {ref['batches']} batches, "
        f"{ref['rows']} rows, {w.when(ref.get('first_batch_at'))} → "
        f"{w.when(ref.get('last_batch_at'))}"
    )


def windows_table(series: dict[str, Any]) -> list[dict[str, Any]]:
    flagged = [x for x in reversed(series["windows"]) if x["verdict"] in ("warn", "alert")]
    rows = [
        {
            "end": w.when(x["end"]),
            "verdict": x["verdict"],
            "reason": x["reason"],
            "rows": x["rows"],
            "batches": ", ".join(b[:8] for b in x.get("batch_ids", [])[:5]),
        }
        for x in reversed(series["windows"])
    ]
    w.table(rows, ["end", "verdict", "reason", "rows", "batches"], empty="No windows.")
    return flagged


def follow_to_batch(flagged: list[dict[str, Any]]) -> None:
    """From a drifted window to the batches behind it."""
    ids = [b for x in flagged for b in x.get("batch_ids", [])]
    if not ids:
        return
    pick = st.selectbox("Batch behind a drifted window", ids, key="drift_batch")
    if st.button("Open this batch", key="open_batch"):
        st.session_state["batch_id"] = pick
        st.switch_page("pages/batches.py")


def evidently(session: Session, dataset: str, series: dict[str, Any]) -> None:
    spans = [x for x in series["windows"] if x["kind"] == "window" and x["rows"]]
    if not spans:
        st.caption("The Evidently report needs an hourly or daily window with rows.")
        return
    labels = {f"{w.when(x['start'])} → {w.when(x['end'])}": x for x in reversed(spans)}
    chosen = labels[st.selectbox("Window for the Evidently report", list(labels))]
    if st.button("Build the Evidently report", key="evidently"):
        try:
            html = state.get_text(
                session,
                "/monitors/drift/report",
                dataset=dataset,
                start=chosen["start"],
                end=chosen["end"],
                max_rows=20000,
            )
        except ApiError as exc:
            w.show_problem(exc)
            return
        st.download_button("Open / save the report (HTML)", html, "drift-report.html", "text/html")
        components.html(html, height=700, scrolling=True)


def main() -> None:
    session = w.require_session()
    st.title("Drift")
    contracts = [c["id"] for c in (w.read(session, "/contracts", limit=100) or [])]
    if not contracts:
        st.info("No contracts yet.")
        return
    left, mid, right = st.columns(3)
    dataset = left.selectbox("Contract", contracts, key="drift_dataset")
    window = WINDOWS[mid.selectbox("Windows", list(WINDOWS), key="drift_window")]
    count = right.number_input("How many", 1, 500, 24, key="drift_count")
    series = w.read(session, "/monitors/drift", dataset=dataset, window=window, count=count)
    if not series:
        return
    reference(series)
    frame = charts.drift_frame(series["fields"])
    if frame.empty:
        st.info("No drift results in these windows yet.")
        return
    st.subheader("Fields by windows")
    st.altair_chart(charts.drift_heatmap(frame), width="stretch")
    st.subheader("Per field, against the contract's thresholds")
    limits = thresholds(series)
    drawn = {}
    for name in sorted(series["fields"]):
        warn, alert = limits.get(name, (None, None))
        method = frame[frame.field == name]["method"].iloc[-1]
        on_statistic = method in STATISTIC_THRESHOLDS
        unit = "" if on_statistic else " (p-value thresholds, not drawn)"
        st.markdown(f"**{name}** · {method} · warn {warn} · alert {alert}{unit}")
        drawn[name] = (warn, alert) if on_statistic else (None, None)
    frame["warn"] = frame["field"].map(lambda f: drawn.get(f, (None, None))[0])
    frame["alert"] = frame["field"].map(lambda f: drawn.get(f, (None, None))[1])
    st.altair_chart(charts.drift_series(frame), width="stretch")
    st.subheader("Windows")
    flagged = windows_table(series)
    follow_to_batch(flagged)
    evidently(session, dataset, series)


main()
