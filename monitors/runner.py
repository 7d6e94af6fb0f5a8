"""The monitor runner: references, drift windows, SLO evaluation, alerts, then delivery.

Each run judges the windows ending now (`monitor_sliding_windows`, e.g. the last 5, 15 and
60 minutes) and every batch not yet out of the backfill (the newest included) before it
evaluates the SLOs, so the drift-free SLO counts a drifted batch on the first run after it
arrives rather than when its hour completes.

`run_once` is one evaluation, in one transaction, under a Postgres advisory lock: with
several API replicas (or a replica and `driftgate monitors run`) exactly one evaluates and
the others skip, so there is no second scheduler to configure. Every time it reads comes
from `core.clock`, so a simulation advances a `SimulatedClock` and calls `run_once` to
evaluate days of traffic in seconds.

`MonitorRunner` runs `run_once` on a background thread of the API process: on a schedule
(`monitor_interval_seconds`) and soon after a batch arrives (it polls a cheap ingest marker
every `monitor_poll_seconds`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from checks import repository as checks_repository
from core.auth import Principal, Role
from core.db import unit_of_work
from core.settings import Settings
from monitors import repository
from monitors.drift.references import ensure_reference, monitor_pass, pending_reason
from monitors.drift.service import record_recent_windows, record_sliding_windows, refresh_rollups
from monitors.incident_signals import on_alert_change, on_batches, record_notifications
from monitors.notify.service import DeliveryReport, deliver_due
from monitors.quality.service import record_recent
from monitors.slos import repository as slo_repository
from monitors.slos.alerts import reconcile
from monitors.slos.service import evaluate_slo
from ranker import repository as ranker_repository

log = logging.getLogger("driftgate.monitors")
RUNNER = Principal(name="monitor-runner", role=Role.admin)
MONITOR_LOCK = 0x6D6F6E69746F7273  # "monitors"


@dataclass
class RunReport:
    ran: bool
    contracts: int = 0
    windows: int = 0
    sliding_windows: int = 0  # windows ending now, stored for the drift-free SLO
    slos: int = 0
    quality_windows: int = 0
    rollups_built: int = 0
    rollups_left: int = 0  # stale rollup buckets left for the next runs (bounded work per run)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delivery: DeliveryReport | None = None

    def to_json(self) -> dict[str, Any]:
        """The one shape both `POST /monitors/run` and `driftgate monitors run` print."""
        delivery = self.delivery
        return {
            "ran": self.ran,
            "contracts": self.contracts,
            "windows": self.windows,
            "sliding_windows": self.sliding_windows,
            "slos": self.slos,
            "quality_windows": self.quality_windows,
            "rollups_built": self.rollups_built,
            "rollups_left": self.rollups_left,
            "transitions": self.transitions,
            "errors": self.errors,
            "delivered": delivery.delivered if delivery else 0,
            "failed": delivery.failed if delivery else 0,
            "dead": delivery.dead if delivery else 0,
        }


def run_once(sessions: sessionmaker[Session], *, settings: Settings) -> RunReport:
    """Evaluate everything once (or skip if another runner holds the lock), then deliver."""
    with unit_of_work(sessions) as session:
        if not repository.try_lock_evaluation(session, MONITOR_LOCK):
            return RunReport(ran=False)
        report = RunReport(ran=True)
        with monitor_pass(session):
            evaluate_all(session, settings=settings, report=report)
    report.delivery = deliver_due(sessions, settings=settings)
    if problem := record_notifications(sessions, settings=settings):
        report.errors.append(problem)
    return report


def evaluate_all(session: Session, *, settings: Settings, report: RunReport) -> None:
    """Drift for every monitored contract, then every enabled SLO; one failure is isolated."""
    for contract_id in checks_repository.contracts_with_usable_batches(session):
        try:
            with session.begin_nested():
                reference = ensure_reference(
                    session, RUNNER, contract_id=contract_id, settings=settings
                )
                refreshed = refresh_rollups(session, contract_id=contract_id, settings=settings)
                pending = (
                    None if reference else pending_reason(session, contract_id, settings=settings)
                )
                windows = record_recent_windows(
                    session,
                    contract_id=contract_id,
                    reference=reference,
                    settings=settings,
                    pending=pending,
                )
                sliding = record_sliding_windows(
                    session,
                    contract_id=contract_id,
                    reference=reference,
                    settings=settings,
                    pending=pending,
                )
            report.contracts += 1
            report.windows += len(windows)
            report.sliding_windows += len(sliding)
            report.rollups_built += refreshed.built
            report.rollups_left += refreshed.left
        except Exception as exc:  # one broken contract must not stop the others
            log.exception("drift evaluation of %s failed", contract_id)
            report.errors.append(f"drift {contract_id}: {exc}")
    try:
        with session.begin_nested():
            report.quality_windows = record_recent(session, settings=settings)
    except Exception as exc:
        log.exception("model quality evaluation failed")
        report.errors.append(f"quality: {exc}")
    for slo in slo_repository.list_slos(session, enabled_only=True):
        try:
            with session.begin_nested():
                evaluation = evaluate_slo(session, slo)
                slo.last_evaluation = evaluation.to_json()
                for alert, before, after in reconcile(session, slo, evaluation, settings=settings):
                    report.transitions.append(
                        {
                            "slo": slo.id,
                            "alert": str(alert.id),
                            "severity": alert.severity,
                            "from": before,
                            "to": after,
                        }
                    )
                    if problem := on_alert_change(
                        session,
                        slo,
                        alert,
                        after,
                        at=evaluation.at,
                        budget_remaining=evaluation.budget_remaining,
                        settings=settings,
                    ):
                        report.errors.append(problem)
            report.slos += 1
        except Exception as exc:
            log.exception("SLO %s evaluation failed", slo.id)
            report.errors.append(f"slo {slo.id}: {exc}")
    if problem := on_batches(session, settings=settings):
        report.errors.append(problem)


class MonitorRunner:
    """A background thread that calls `run_once` on a schedule and after ingests."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: RunReport | None = None
        self.reported = threading.Event()  # set once a run has reported (for waiting callers)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="monitor-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def trigger(self) -> None:
        """Evaluate soon (e.g. right after an ingest the caller knows about)."""
        self._wake.set()

    def _loop(self) -> None:
        interval, poll = (
            self._settings.monitor_interval_seconds,
            self._settings.monitor_poll_seconds,
        )
        next_run = time.monotonic() + interval
        marker: tuple[Any, ...] | None = None
        while not self._stop.is_set():
            woken = self._wake.wait(min(poll, max(next_run - time.monotonic(), 0.01)))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                current = self._marker()
                arrived = marker is not None and current != marker
                marker = current
                if woken or arrived or time.monotonic() >= next_run:
                    self.last_report = run_once(self._sessions, settings=self._settings)
                    self.reported.set()
                    next_run = time.monotonic() + interval
            except Exception:
                log.exception("monitor run failed; retrying at the next tick")

    def _marker(self) -> tuple[Any, ...]:
        with unit_of_work(self._sessions) as session:
            return (
                *checks_repository.batch_arrivals(session),
                *ranker_repository.label_arrivals(session),
            )
