"""What an alert shows as evidence: links to what went wrong in its window, per SLO kind.

Each kind has its own function in `EVIDENCE`; a kind without one shows only the window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from checks import repository as checks_repository
from incidents.runbooks import field_signals
from monitors.drift import repository as drift_repository
from monitors.drift.models import DriftWindow
from monitors.drift.service import MAX_WINDOWS
from monitors.quality import repository as quality_repository
from monitors.slos.events import (
    DEFAULT_GOOD_STATUSES,
    DRIFT_EVENT_KINDS,
    Events,
    bad_drift_verdicts,
    mature_only,
)
from monitors.slos.models import Slo

SHOWN = 20  # bad batches or windows listed per alert, newest
STALE_TICKS_SHOWN = 5


def evidence(
    session: Session, slo: Slo, events: Events, start: datetime, end: datetime, base_url: str
) -> dict[str, Any]:
    """Links to what went wrong in (start, end]: bad batches, drifted windows, freshness."""
    out: dict[str, Any] = {"window": {"start": start, "end": end}}
    of_kind = EVIDENCE.get(slo.kind)
    if of_kind is not None:
        out.update(of_kind(session, slo, events, start, end, base_url))
    return out


def _failed_batches(
    session: Session, slo: Slo, events: Events, start: datetime, end: datetime, base_url: str
) -> dict[str, Any]:
    """The newest batches whose status is not one of the SLO's good statuses."""
    good_statuses = slo.params.get("good_statuses", DEFAULT_GOOD_STATUSES)
    rows = checks_repository.batches_not_in_statuses(
        session, str(slo.contract_id), good_statuses, start, end, limit=SHOWN
    )
    return {
        "batches": [
            {
                "batch_id": str(r.id),
                "status": r.status,
                "received_at": r.received_at,
                "url": f"{base_url}/batches/{r.id}",
            }
            for r in rows
        ]
    }


def _drifted_windows(
    session: Session, slo: Slo, events: Events, start: datetime, end: datetime, base_url: str
) -> dict[str, Any]:
    """The newest windows (sliding or one batch) with a bad verdict, oldest first."""
    windows = drift_repository.bad_drift_windows(
        session,
        str(slo.contract_id),
        DRIFT_EVENT_KINDS,
        bad_drift_verdicts(slo),
        start,
        end,
        limit=SHOWN,
    )
    return {"windows": [_drift_window(w, slo.contract_id, base_url) for w in reversed(windows)]}


def _drift_window(w: DriftWindow, contract: str | None, base_url: str) -> dict[str, Any]:
    """A drifted window (sliding or one batch): its fields, and links to each of its batches."""
    doc = w.fields or {}
    return {
        "kind": w.kind,
        "start": w.window_start,
        "end": w.window_end,
        "length_seconds": (w.window_end - w.window_start).total_seconds(),
        "verdict": w.verdict,
        "fields": sorted(
            name for name, f in (doc.get("fields") or {}).items() if f.get("severity") == "alert"
        ),
        "reason": doc.get("reason"),
        # what kind of drift each alerting field shows: picks the runbook (null spike, ...)
        "signals": {
            name: field_signals(f)
            for name, f in (doc.get("fields") or {}).items()
            if f.get("severity") == "alert"
        },
        "batches": w.batches,
        "reference": doc.get("reference"),
        # each batch of the window on its own: `count` asks for all of them (up to the API's
        # limit), as a window of minute-level batches holds more than the default 24
        "url": f"{base_url}/monitors/drift?"
        + urlencode(
            {
                "dataset": contract,
                "window": "batch",
                "start": w.window_start.isoformat(),
                "end": (w.window_end + timedelta(microseconds=1)).isoformat(),
                "count": min(max(w.batches, 1), MAX_WINDOWS),
            }
        ),
        "batches_url": doc.get("batches_url"),
    }


def _low_auc_windows(
    session: Session, slo: Slo, events: Events, start: datetime, end: datetime, base_url: str
) -> dict[str, Any]:
    """The newest quality windows counted in (start, end] whose AUC is below the SLO's
    threshold, oldest first: each window's span and when its AUC became known (the moment
    the SLO counted it)."""
    only_mature = mature_only(slo)
    low = quality_repository.windows_below_auc(
        session,
        slo.params["model_name"],
        float(slo.params["threshold"]),
        mature_only=only_mature,
        start=start,
        end=end,
        limit=SHOWN,
    )
    return {
        "windows": [
            {
                "start": w.window_start,
                "end": w.window_end,
                "auc": w.auc,
                "estimated_auc": w.estimated_auc,
                "coverage": w.coverage,
                "status": w.status,
                "known_at": w.auc_known_at,
                "mature_at": w.mature_at,
                "counted_at": w.mature_at if only_mature else w.auc_known_at,
                "url": f"{base_url}/monitors/quality?"
                + urlencode(
                    {
                        "model": w.model_name,
                        "start": w.window_start.isoformat(),
                        "end": w.window_end.isoformat(),
                    }
                ),
            }
            for w in low
        ]
    }


def _stale_ticks(
    session: Session, slo: Slo, events: Events, start: datetime, end: datetime, base_url: str
) -> dict[str, Any]:
    """The newest ticks at which the data was older than the SLA, and the freshness page."""
    return {
        "stale_ticks": events.bad_times(start, end, STALE_TICKS_SHOWN),
        "url": f"{base_url}/contracts/{slo.contract_id}/freshness",
    }


Gatherer = Callable[[Session, Slo, Events, datetime, datetime, str], dict[str, Any]]

EVIDENCE: dict[str, Gatherer] = {
    "batch_pass_rate": _failed_batches,
    "drift_free": _drifted_windows,
    "realized_auc": _low_auc_windows,
    "freshness": _stale_ticks,
}
