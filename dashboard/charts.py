"""Altair (Vega-Lite) charts built from the API's JSON: pure functions, no requests."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

SEVERITY_COLOURS = alt.Scale(
    domain=["ok", "warn", "alert", "no_data"], range=["#2e7d32", "#f9a825", "#c62828", "#9e9e9e"]
)


def drift_frame(fields: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """One row per field and window: statistic, method and severity. `window` labels the
    window's end for ordinal axes: batches seconds apart would share one time tick."""
    rows = [
        {
            "field": name,
            "end": pd.Timestamp(p["end"]),
            "window": pd.Timestamp(p["end"]).strftime("%m-%d %H:%M:%S"),
            "statistic": p.get("statistic"),
            "method": p.get("method"),
            "severity": p.get("severity") or "no_data",
        }
        for name, points in fields.items()
        for p in points
    ]
    return pd.DataFrame(rows, columns=["field", "end", "window", "statistic", "method", "severity"])


WINDOW_AXIS = alt.X("window:O", title="window end (UTC)", sort=None)


def drift_series(frame: pd.DataFrame) -> alt.FacetChart:
    """Each field's statistic over windows, points coloured by severity, its warn and alert
    thresholds as dashed rules (columns `warn`/`alert`, empty where they bound a p-value).
    One faceted chart, not one per field: each chart is a separate Vega view to draw."""
    base = alt.Chart().encode(x=WINDOW_AXIS)
    line = base.mark_line(color="#607d8b").encode(y=alt.Y("statistic:Q", title="statistic"))
    points = base.mark_circle(size=70).encode(
        y="statistic:Q",
        color=alt.Color("severity:N", scale=SEVERITY_COLOURS),
        tooltip=["field:N", "window:O", "method:N", "statistic:Q", "severity:N"],
    )
    rules = [
        alt.Chart()
        .transform_filter(f"isValid(datum.{name})")
        .mark_rule(color=colour, strokeDash=[4, 4])
        .encode(y=f"mean({name}):Q")
        for name, colour in (("warn", "#f9a825"), ("alert", "#c62828"))
    ]
    return (
        alt.layer(line, points, *rules, data=frame)
        .properties(height=160, width=760)
        .facet(row=alt.Row("field:N", title=None))
        .resolve_scale(y="independent")
    )


def drift_heatmap(frame: pd.DataFrame) -> alt.Chart:
    """Fields by windows, each cell the window's severity for that field."""
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=WINDOW_AXIS,
            y=alt.Y("field:N", title=None),
            color=alt.Color("severity:N", scale=SEVERITY_COLOURS),
            tooltip=["field:N", "window:O", "method:N", "statistic:Q", "severity:N"],
        )
        .properties(height={"step": 28}, width=760)
    )


def top_values(values: list[Any], counts: list[int]) -> alt.Chart:
    frame = pd.DataFrame({"value": [str(v) for v in values], "rows": counts})
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(x="rows:Q", y=alt.Y("value:N", sort="-x", title=None), tooltip=["value", "rows"])
        .properties(height=max(80, 22 * len(frame)))
    )


def quality_frame(windows: list[dict[str, Any]]) -> pd.DataFrame:
    """Realized and estimated metrics per window, long format for a layered line chart."""
    rows = []
    for w in windows:
        realized = (w.get("metrics") or {}).get("realized") or {}
        end = pd.Timestamp(w["window_end"])
        for metric, value in (
            ("realized AUC", w.get("auc")),
            ("estimated AUC", w.get("estimated_auc")),
            ("log loss", realized.get("log_loss")),
            ("NDCG@10", realized.get("ndcg_at_10")),
            ("label coverage", w.get("coverage")),
        ):
            if value is not None:
                rows.append({"end": end, "metric": metric, "value": float(value)})
    return pd.DataFrame(rows, columns=["end", "metric", "value"])


def quality_lines(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("end:T", title="window end"),
            y=alt.Y("value:Q", title=None),
            color="metric:N",
            tooltip=["end:T", "metric:N", "value:Q"],
        )
        .properties(height=260)
    )
