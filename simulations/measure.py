"""What one seed run measured, and the distributions over seeds.

Times are seconds on the simulated clock from the injection (the first bad event's hour):
time to detect (→ first alert firing), to mitigate (→ the first bad batch quarantined or
rejected, a rollback, or the incident marked stable, whichever came first) and to resolve
(→ the incident closed, or without an incident every page alert resolved). `detect_after_ingest`
is from the first bad batch's arrival instead, the figure the "one monitor cycle" target
is about: a fault inside an hourly batch cannot be seen before the batch arrives. The
`signal` is the first monitor run after it that counted a bad event in some SLO: the
monitors saw it then, even when the burn rate needs more bad events before an alert fires.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np


@dataclass
class RunResult:
    scenario: str
    seed: int
    detection: str
    injected_at: datetime | None = None
    first_bad_arrival: datetime | None = None
    fault_end: datetime | None = None
    first_alert_at: datetime | None = None
    first_alert: str | None = None  # "slo/severity"
    first_page_at: datetime | None = None
    first_signal_at: datetime | None = None  # first monitor run that counted a bad SLO event
    first_signal: str | None = None  # its SLO
    mitigated_at: datetime | None = None
    mitigated_by: str | None = None
    resolved_at: datetime | None = None
    rows_posted: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_replayed: int = 0  # re-sent rows the idempotency keys absorbed
    batches: dict[str, int] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    budget_consumed: dict[str, float] = field(default_factory=dict)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    postmortem: dict[str, Any] = field(default_factory=dict)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    monitor_runs: int = 0
    rank_requests: int = 0
    labels_posted: int = 0
    wall_seconds: float = 0.0

    @property
    def rows_lost(self) -> int:
        """Rows the producer sent that are neither accepted, quarantined nor a known replay."""
        return self.rows_posted - self.rows_accepted - self.rows_quarantined - self.rows_replayed

    @staticmethod
    def _between(start: datetime | None, end: datetime | None) -> float | None:
        return None if start is None or end is None else (end - start).total_seconds()

    @property
    def mttd(self) -> float | None:
        return self._between(self.injected_at, self.first_alert_at)

    @property
    def detect_after_ingest(self) -> float | None:
        return self._between(self.first_bad_arrival, self.first_alert_at)

    @property
    def signal_after_ingest(self) -> float | None:
        return self._between(self.first_bad_arrival, self.first_signal_at)

    @property
    def time_to_mitigate(self) -> float | None:
        return self._between(self.injected_at, self.mitigated_at)

    @property
    def mttr(self) -> float | None:
        return self._between(self.injected_at, self.resolved_at)

    @property
    def detected(self) -> bool:
        return self.first_alert_at is not None or bool(self.rollbacks)

    @property
    def false_alarms(self) -> list[dict[str, Any]]:
        """Alerts that fired before the injection (every alert of the clean control)."""
        if self.injected_at is None:
            return [a for a in self.alerts if a.get("fired_at")]
        return [a for a in self.alerts if a.get("fired_at") and a["fired_at"] < self.injected_at]

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(
            rows_lost=self.rows_lost,
            mttd_seconds=self.mttd,
            detect_after_ingest_seconds=self.detect_after_ingest,
            signal_after_ingest_seconds=self.signal_after_ingest,
            time_to_mitigate_seconds=self.time_to_mitigate,
            mttr_seconds=self.mttr,
            detected=self.detected,
            false_alarms=len(self.false_alarms),
            pages=sum(1 for a in self.alerts if a["severity"] == "page" and a.get("fired_at")),
        )
        return _plain(doc)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def distribution(values: list[float | None]) -> dict[str, float | int | None]:
    """median, p90, min, max of the measured values; `n` counts the seeds that had one."""
    xs = np.array([v for v in values if v is not None], dtype=np.float64)
    if xs.size == 0:
        return {"n": 0, "median": None, "p90": None, "min": None, "max": None}
    return {
        "n": int(xs.size),
        "median": float(np.median(xs)),
        "p90": float(np.percentile(xs, 90)),
        "min": float(xs.min()),
        "max": float(xs.max()),
    }


def summarize(scenario: str, detection: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario's row of the report, from its seed runs' `to_json()` documents."""
    return {
        "scenario": scenario,
        "detection": detection,
        "seeds": len(runs),
        "detected": sum(1 for r in runs if r["detected"]),
        "mttd": distribution([r["mttd_seconds"] for r in runs]),
        "detect_after_ingest": distribution([r["detect_after_ingest_seconds"] for r in runs]),
        "signal_after_ingest": distribution([r["signal_after_ingest_seconds"] for r in runs]),
        "time_to_mitigate": distribution([r["time_to_mitigate_seconds"] for r in runs]),
        "mttr": distribution([r["mttr_seconds"] for r in runs]),
        "rows_posted": sum(r["rows_posted"] for r in runs),
        "rows_quarantined": sum(r["rows_quarantined"] for r in runs),
        "rows_lost": sum(r["rows_lost"] for r in runs),
        "false_alarms": sum(r["false_alarms"] for r in runs),
        "pages": sum(r["pages"] for r in runs),
        "incidents": sum(len(r["incidents"]) for r in runs),
        "postmortems": sum(1 for r in runs if (r["postmortem"] or {}).get("id")),
        "wall_seconds": round(sum(r["wall_seconds"] for r in runs), 1),
        "failed_runs": sum(1 for r in runs if any(n.startswith("run failed") for n in r["notes"])),
    }
