"""A postmortem's measured figures, from the incident, its timeline and its batches (pure).

Every duration starts at the first bad data — `first_bad_at`, else the first `first_bad_batch`
entry, else the opening — as the simulations measure from the injection:

- time to detect: → the first `alert_firing` entry, or the opening if no alert came first;
- time to mitigate: → the first of `stable_at` and the first `quarantine` or `rollback` entry
  (quarantining bad rows at intake is a mitigation: they never reach a consumer);
- time to resolve: → `closed_at`.

Rows: over the affected batches, posted = received, and lost = posted - accepted -
quarantined, which must be 0 (every row posted is either accepted or held in quarantine).
Error budget: per SLO, `budget_remaining` at its first `alert_firing` minus at its last
`alert_resolved` (helper A's timeline details), summed; an SLO still firing has no figure yet.
A figure that cannot be known is null and `missing` says why, so a draft never invents one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incidents.runbooks import runbook_for_alert, runbook_for_source

ALERTS_LISTED = 100
BATCHES_LISTED = 50
MITIGATING_KINDS = ("quarantine", "rollback")


@dataclass(frozen=True)
class IncidentFacts:
    """What drafting needs of an incident row (kept apart so drafting stays pure)."""

    id: str
    title: str
    source: str
    severity: str
    opened_at: datetime
    first_bad_at: datetime | None = None
    stable_at: datetime | None = None
    closed_at: datetime | None = None
    runbook: str | None = None
    datasets: Sequence[str] = ()
    model_name: str | None = None
    model_version: int | None = None
    affected: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One timeline line as the postmortem keeps it."""

    at: datetime
    kind: str
    actor: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def _first(entries: Iterable[Entry], kinds: Sequence[str]) -> datetime | None:
    return min((e.at for e in entries if e.kind in kinds), default=None)


def started_at(incident: IncidentFacts, entries: Sequence[Entry]) -> datetime:
    """When the bad data began: `first_bad_at`, the first bad batch entry, or the opening."""
    return incident.first_bad_at or _first(entries, ("first_bad_batch",)) or incident.opened_at


def times(incident: IncidentFacts, entries: Sequence[Entry]) -> dict[str, Any]:
    """The incident's milestones and the durations between them (seconds)."""
    start = started_at(incident, entries)
    alerted = _first(entries, ("alert_firing",))
    detected = min(t for t in (alerted, incident.opened_at) if t is not None)
    mitigations = [t for t in (incident.stable_at, _first(entries, MITIGATING_KINDS)) if t]
    mitigated = min(mitigations, default=None)
    return {
        "started_at": start,
        "detected_at": detected,
        "mitigated_at": mitigated,
        "resolved_at": incident.closed_at,
        "time_to_detect_seconds": _seconds(start, detected),
        "time_to_mitigate_seconds": _seconds(start, mitigated),
        "time_to_resolve_seconds": _seconds(start, incident.closed_at),
    }


def rows(batches: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Rows posted, accepted, quarantined and lost over these batches."""
    posted = sum(int(b["rows_received"]) for b in batches)
    accepted = sum(int(b["rows_accepted"]) for b in batches)
    quarantined = sum(int(b["rows_quarantined"]) for b in batches)
    return {
        "rows_posted": posted,
        "rows_accepted": accepted,
        "rows_quarantined": quarantined,
        "rows_lost": posted - accepted - quarantined,
    }


def error_budget(entries: Sequence[Entry]) -> tuple[float | None, list[dict[str, Any]]]:
    """Budget consumed per SLO (first firing minus last resolution), and their sum.

    An SLO can have a page and a ticket alert firing at once: it is still firing until every
    alert of it that fired has resolved."""
    per_slo: dict[str, dict[str, Any]] = {}
    firing: dict[str, set[str]] = {}
    for e in entries:
        if e.kind not in ("alert_firing", "alert_resolved") or not e.details.get("slo_id"):
            continue
        slo = str(e.details["slo_id"])
        row = per_slo.setdefault(
            slo, {"slo_id": slo, "at_firing": None, "at_resolution": None, "firing": False}
        )
        alerts_firing = firing.setdefault(slo, set())
        alert = str(e.details.get("alert_id"))
        left = e.details.get("budget_remaining")
        if e.kind == "alert_firing":
            if row["at_firing"] is None:
                row["at_firing"] = left
            alerts_firing.add(alert)
        else:
            row["at_resolution"] = left
            alerts_firing.discard(alert)
        row["firing"] = bool(alerts_firing)
    out = []
    for row in per_slo.values():
        a, b = row["at_firing"], row["at_resolution"]
        known = isinstance(a, int | float) and isinstance(b, int | float) and not row["firing"]
        out.append({**row, "consumed": max(float(a) - float(b), 0.0) if known else None})
    consumed = [r["consumed"] for r in out if r["consumed"] is not None]
    total = sum(consumed) if consumed and len(consumed) == len(out) else None
    return total, out


def alerts(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Each alert the timeline names: when it fired and resolved."""
    found: dict[str, dict[str, Any]] = {}
    for e in entries:
        alert_id = e.details.get("alert_id")
        if e.kind not in ("alert_firing", "alert_resolved") or not alert_id:
            continue
        a = found.setdefault(
            str(alert_id),
            {
                "alert_id": str(alert_id),
                "slo_id": e.details.get("slo_id"),
                "slo_kind": e.details.get("slo_kind"),
                "severity": e.details.get("severity"),
                "fired_at": None,
                "resolved_at": None,
            },
        )
        if e.kind == "alert_firing" and a["fired_at"] is None:
            a["fired_at"] = e.at
        elif e.kind == "alert_resolved":
            a["resolved_at"] = e.at
    return list(found.values())[:ALERTS_LISTED]


def runbooks(incident: IncidentFacts, entries: Sequence[Entry]) -> list[str]:
    """The runbooks involved: the incident's own, its source's, and each alert's."""
    names = [incident.runbook, runbook_for_source(incident.source, incident.details)]
    for e in entries:
        if e.kind == "alert_firing" and e.details.get("slo_kind"):
            names.append(
                runbook_for_alert(str(e.details["slo_kind"]), e.details.get("evidence") or {})
            )
    return list(dict.fromkeys(n for n in names if n))


def batch_ids(incident: IncidentFacts, entries: Sequence[Entry]) -> list[str]:
    """Batches the incident names: `affected.batches` and the timeline's batch entries."""
    named = [str(b) for b in (incident.affected or {}).get("batches", [])]
    named += [str(e.details["batch_id"]) for e in entries if e.details.get("batch_id")]
    return list(dict.fromkeys(named))


def model_versions(incident: IncidentFacts, also: Iterable[str] = ()) -> list[tuple[str, int]]:
    """The model versions the incident affects: `affected.model_versions` (`name:version`),
    the one it names, and `also` (those downstream of its datasets in lineage)."""
    keys = [str(k) for k in (incident.affected or {}).get("model_versions", [])]
    keys += [str(k) for k in also]
    if incident.model_name and incident.model_version is not None:
        keys.append(f"{incident.model_name}:{incident.model_version}")
    out = []
    for key in dict.fromkeys(keys):
        name, _, version = key.rpartition(":")
        if name and version.isdigit():
            out.append((name, int(version)))
    return out


def metrics(
    incident: IncidentFacts,
    entries: Sequence[Entry],
    batches: Sequence[Mapping[str, Any]],
    predictions: Mapping[str, int],
) -> dict[str, Any]:
    """Every figure of the postmortem; `missing` names each one left null and why."""
    missing: dict[str, str] = {}
    when = times(incident, entries)
    if when["resolved_at"] is None:
        missing["time_to_resolve_seconds"] = "the incident is not closed"
    if when["mitigated_at"] is None:
        missing["time_to_mitigate_seconds"] = "not stable yet and no quarantine or rollback entry"
    budget, per_slo = error_budget(entries)
    if budget is None:
        missing["error_budget_consumed"] = (
            "an alert still fires, or its entries carry no budget_remaining"
            if per_slo
            else "no alert_firing entry on the timeline"
        )
    affected_predictions: int | None = sum(predictions.values())
    if not predictions:
        affected_predictions = None
        missing["predictions_affected"] = "the incident names no model version"
    ordered = sorted(batches, key=lambda b: (b["received_at"], str(b["batch_id"])))
    return {
        **{k: v for k, v in when.items()},
        **rows(ordered),
        "batches_affected": len(ordered),
        "predictions_affected": affected_predictions,
        "predictions_by_model_version": dict(predictions),
        "error_budget_consumed": budget,
        "error_budget_by_slo": per_slo,
        "alerts": alerts(entries),
        "batches": [
            {
                k: b[k]
                for k in (
                    "batch_id",
                    "contract_id",
                    "status",
                    "received_at",
                    "rows_received",
                    "rows_accepted",
                    "rows_quarantined",
                )
            }
            for b in ordered[:BATCHES_LISTED]
        ],
        "runbooks": runbooks(incident, entries),
        "missing": missing,
    }


def detection_text(m: Mapping[str, Any]) -> str:
    """A first sentence for the detection section (people edit it)."""
    ttd = m.get("time_to_detect_seconds")
    fired = [a for a in m.get("alerts", []) if a.get("fired_at")]
    how = f"the alert on SLO {fired[0]['slo_id']}" if fired else "the incident's opening"
    return f"Detected by {how}, {_duration(ttd)} after the first bad data."


def impact_text(m: Mapping[str, Any]) -> str:
    """A first sentence for the impact section (people edit it)."""
    parts = [
        f"{m['batches_affected']} batches affected: {m['rows_posted']} rows posted, "
        f"{m['rows_accepted']} accepted, {m['rows_quarantined']} quarantined, "
        f"{m['rows_lost']} lost."
    ]
    if m.get("predictions_affected") is not None:
        parts.append(f"{m['predictions_affected']} predictions served by affected versions.")
    if m.get("error_budget_consumed") is not None:
        parts.append(f"Error budget consumed: {m['error_budget_consumed']:.2%}.")
    return " ".join(parts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
