"""Model quality: how the served model does now that delayed labels arrive, next to the
label-free estimate for windows whose labels are not in yet."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import charts
from dashboard import widgets as w

WINDOWS = {"hourly": "PT1H", "daily": "P1D"}
SEGMENTS = ("surface", "device", "country")


def rows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for x in reversed(windows):
        realized = (x.get("metrics") or {}).get("realized") or {}
        out.append(
            {
                "window end": w.when(x["window_end"]),
                "status": x["status"],
                "versions": ", ".join(str(v) for v in x.get("model_versions", [])),
                "predictions": x["predictions"],
                "labeled": x["labeled"],
                "coverage": x.get("coverage"),
                "AUC": x.get("auc"),
                "log loss": realized.get("log_loss"),
                "calibration error": realized.get("calibration_error"),
                "NDCG@10": realized.get("ndcg_at_10"),
                "estimated AUC": x.get("estimated_auc"),
                "estimated CTR": x.get("estimated_ctr"),
                "calibration": (x.get("calibration") or {}).get("status"),
            }
        )
    return out


def main() -> None:
    session = w.require_session()
    st.title("Model quality")
    models = [m["name"] for m in (w.read(session, "/models", limit=100) or [])] or ["ranker"]
    a, b, c = st.columns(3)
    model = a.selectbox("Model", models, key="quality_model")
    window = WINDOWS[b.selectbox("Windows", list(WINDOWS), key="quality_window")]
    count = c.number_input("How many", 1, 500, 24, key="quality_count")
    doc = w.read(session, "/monitors/quality", model=model, window=window, count=count)
    if not doc:
        return
    st.caption(
        "Realized metrics come from delayed click labels (`provisional` until the labels "
        "mature); the estimate needs no labels."
    )
    frame = charts.quality_frame(doc["windows"])
    if frame.empty:
        st.info("No served predictions in these windows yet.")
    else:
        st.altair_chart(charts.quality_lines(frame), width="stretch")
    table = rows(doc["windows"])
    w.table(table, list(table[0]) if table else [], empty="No windows.")
    segments(session, model, window, int(count))


def segments(session: Any, model: str, window: str, count: int) -> None:
    """The same windows split by a request segment: one surface can fail while the rest hold."""
    st.subheader("Per segment")
    segment = st.segmented_control("Split by", SEGMENTS, default="surface", key="quality_segment")
    if not segment:
        return
    doc = w.read(
        session,
        "/monitors/quality/segments",
        model=model,
        segment=segment,
        window=window,
        count=min(count, 400),
    )
    if not doc:
        return
    table = [
        {segment: s["value"], **row}
        for s in doc["segments"]
        for row in rows(s["windows"])
        if row["predictions"]
    ]
    columns = [segment, "window end", "status", "predictions", "coverage", "AUC"]
    columns += ["estimated AUC", "estimated CTR", "calibration"]
    w.table(table, columns, empty="No served predictions in these windows yet.")
    if doc["segments_total"] > len(doc["segments"]):
        st.caption(f"the {len(doc['segments'])} busiest of {doc['segments_total']} values")


main()
