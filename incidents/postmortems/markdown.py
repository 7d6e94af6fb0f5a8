"""A postmortem as Markdown, in the Google SRE template's order (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

FIGURES = (
    ("Time to detect", "time_to_detect_seconds"),
    ("Time to mitigate", "time_to_mitigate_seconds"),
    ("Time to resolve", "time_to_resolve_seconds"),
    ("Rows posted", "rows_posted"),
    ("Rows accepted", "rows_accepted"),
    ("Rows quarantined", "rows_quarantined"),
    ("Rows lost", "rows_lost"),
    ("Predictions affected", "predictions_affected"),
    ("Error budget consumed", "error_budget_consumed"),
)


def render(doc: Mapping[str, Any], *, runbook_base: str = "/runbooks") -> str:
    """The whole postmortem; `doc` is its read document (PostmortemRead as a mapping)."""
    m: Mapping[str, Any] = doc.get("metrics") or {}
    out = [
        f"# {doc['title']}",
        "",
        f"Incident `{doc['incident_id']}` · revision {doc['revision']} · **{doc['status']}**"
        + (
            f" (published {_when(doc['published_at'])} by {doc['published_by']})"
            if doc.get("published_at")
            else ""
        ),
        "",
    ]
    for heading, key in (
        ("Summary", "summary"),
        ("Impact", "impact"),
        ("Root causes", "root_causes"),
        ("Trigger", "trigger"),
        ("Detection", "detection"),
        ("Resolution", "resolution"),
    ):
        out += [f"## {heading}", "", (doc.get(key) or "_(not written yet)_").strip(), ""]
    out += ["## Figures", "", "| Figure | Value |", "|---|---|"]
    out += [f"| {label} | {_figure(key, m.get(key))} |" for label, key in FIGURES]
    for key, why in (m.get("missing") or {}).items():
        out.append(f"| {key} missing | {_cell(why)} |")
    out += ["", "## Action items", ""]
    out += _action_items(doc.get("action_items") or [])
    out += ["## Lessons learned", ""]
    for heading, key in (
        ("What went well", "went_well"),
        ("What went wrong", "went_badly"),
        ("Where we got lucky", "got_lucky"),
    ):
        items = doc.get(key) or []
        out += [f"### {heading}", ""]
        out += [f"- {_line(i)}" for i in items] if items else ["- _(none noted)_"]
        out.append("")
    out += ["## Timeline", "", "| At (UTC) | Kind | Actor | What |", "|---|---|---|---|"]
    out += [
        f"| {_when(e['at'])} | {e['kind']} | {_cell(e['actor'])} | {_cell(e['summary'])} |"
        for e in doc.get("timeline") or []
    ]
    out += ["", "## Supporting information", ""]
    out += _supporting(m, runbook_base)
    return "\n".join(out).rstrip() + "\n"


def _action_items(items: Sequence[Mapping[str, Any]]) -> list[str]:
    if not items:
        return ["_(none yet)_", ""]
    rows = ["| Action item | Owner | Priority | Status | Due |", "|---|---|---|---|---|"]
    rows += [
        f"| {_cell(i['title'])} | {_cell(i['owner'])} | {i['priority']} | {i['status']} "
        f"| {i.get('due') or '-'} |"
        for i in items
    ]
    return [*rows, ""]


def _supporting(m: Mapping[str, Any], runbook_base: str) -> list[str]:
    out = ["Alerts:", ""]
    alerts = m.get("alerts") or []
    out += [
        f"- `{a['alert_id']}` SLO `{a.get('slo_id')}` ({a.get('slo_kind')}, {a.get('severity')}):"
        f" fired {_when(a.get('fired_at'))}, resolved {_when(a.get('resolved_at'))}"
        for a in alerts
    ] or ["- none"]
    out += ["", "Batches:", ""]
    out += [
        f"- `{b['batch_id']}` {b['contract_id']} {b['status']} at {_when(b['received_at'])}: "
        f"{b['rows_received']} rows, {b['rows_accepted']} accepted, "
        f"{b['rows_quarantined']} quarantined"
        for b in m.get("batches") or []
    ] or ["- none"]
    out += ["", "Runbooks:", ""]
    out += [f"- [{name}]({runbook_base}/{name})" for name in m.get("runbooks") or []] or ["- none"]
    return [*out, ""]


def _figure(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key.endswith("_seconds"):
        return f"{float(value):.0f} s"
    if key == "error_budget_consumed":
        return f"{float(value):.2%}"
    return str(value)


def _when(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ")[:19]


def _line(text: str) -> str:
    return " ".join(str(text).split())


def _cell(text: Any) -> str:
    """Table cell text: one line, pipes escaped."""
    return _line(str(text)).replace("|", "\\|")
