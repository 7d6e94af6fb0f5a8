"""Time to detect a drift, measured on the simulated clock: the runner over clean hourly
batches, an abrupt covariate shift, and the time from the first drifted batch to the drift-free
SLO's first bad event (within one monitor cycle) and to its first page (the SRE Workbook's
1 h / 5 min rule: 14.4 x the budget over the last hour)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR
from core.clock import SimulatedClock
from core.db import make_session_factory, unit_of_work
from core.settings import Settings
from monitors.runner import run_once
from monitors.slos.models import Alert, Slo
from monitors.slos.service import create_slo
from tests.monitors.drift.test_drift import SHIFTED_MIX
from tests.monitors.factory import events_contract, frame, post, register, simulated

OBJECTIVES = {"drift-95": 0.95, "drift-99": 0.99}


@pytest.fixture
def sessions(committed_db: str) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(committed_db)
    yield make_session_factory(engine)
    engine.dispose()


@dataclass
class Detection:
    shifted_at: datetime  # arrival of the first drifted batch
    first_bad: dict[str, datetime]  # per SLO: the run whose evaluation first had a bad event
    paged: dict[str, datetime]  # per SLO: when its page fired


def _post_hour(
    sessions: sessionmaker[Session],
    clock: SimulatedClock,
    settings: Settings,
    at: datetime,
    h: int,
    **shape: object,
) -> datetime:
    """One batch of 600 rows posted at `at`; its arrival."""
    clock.set(at)
    rows = frame(600, seed=h, at=at, start_id=h * 600, **shape)  # type: ignore[arg-type]
    with unit_of_work(sessions) as db:
        return post(db, rows, settings.data_dir).received_at


def _runs(
    sessions: sessionmaker[Session],
    clock: SimulatedClock,
    settings: Settings,
    first: datetime,
    step: timedelta,
    count: int,
    detection: Detection | None = None,
) -> None:
    """`count` runs of the monitors `step` apart from `first`, noting bad events and pages."""
    for i in range(count):
        clock.set(first + i * step)
        report = run_once(sessions, settings=settings)
        assert report.ran and report.errors == [], report.errors
        if detection is None:
            continue
        with unit_of_work(sessions) as db:
            for slo in db.scalars(select(Slo)):
                bad = (slo.last_evaluation or {}).get("bad", 0)
                if bad and slo.id not in detection.first_bad:
                    detection.first_bad[slo.id] = clock.now()
            for alert in db.scalars(select(Alert).where(Alert.severity == "page")):
                if alert.fired_at is not None:
                    detection.paged.setdefault(alert.slo_id, alert.fired_at)
        if set(detection.paged) == set(OBJECTIVES):
            return


def test_a_shift_is_a_bad_event_within_one_cycle_and_pages_on_the_sre_budget(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    production = settings.model_copy(
        update={
            # the real minimums: a reference from a day of batches
            "monitor_reference_min_batches": 24,
            "monitor_reference_min_rows": 10_000,
            # aligned hourly windows are not the SLO's events: re-evaluate only the last two
            # (and their batches) to keep ~200 runs quick
            "monitor_backfill_windows": 2,
        }
    )
    cycle = timedelta(seconds=production.monitor_interval_seconds)
    minute, five, hour = timedelta(minutes=1), timedelta(minutes=5), timedelta(hours=1)
    with simulated() as clock:
        start = clock.now()
        with unit_of_work(sessions) as db:
            register(db, events_contract(fields={"x": {}, "cat": {}, "score": {}}))
            for slo_id, objective in OBJECTIVES.items():
                create_slo(db, CLI_OPERATOR, data=_drift_slo(slo_id, objective))
        # a clean day, a batch at :10 of each hour (the reference waits for the 24th), then 3
        # clean hours watched every 5 minutes: one run per 5-minute slot gives the SLO the
        # same events as one a minute
        for h in range(27):
            posted = _post_hour(sessions, clock, production, start + h * hour + 10 * minute, h)
            if h < 23:
                _runs(sessions, clock, production, posted + minute, hour, 1)
            else:
                _runs(sessions, clock, production, posted + minute, five, 12)
        with unit_of_work(sessions) as db:
            clean = {s.id: s.last_evaluation or {} for s in db.scalars(select(Slo))}
            alerts = db.scalars(select(Alert)).all()
        # the shift: from hour 27 each batch has moved x, the category mix and the score; the
        # monitors run every cycle (a minute)
        shifted = {"shift": 1.0, "cat_mix": SHIFTED_MIX}
        detection = Detection(start, {}, {})
        for h in (27, 28):
            posted = _post_hour(
                sessions, clock, production, start + h * hour + 10 * minute, h, **shifted
            )
            detection.shifted_at = detection.shifted_at if h == 28 else posted
            _runs(sessions, clock, production, posted + cycle, cycle, 60, detection)
    assert alerts == []
    for slo_id in OBJECTIVES:
        assert clean[slo_id]["bad"] == 0 and clean[slo_id]["total"] >= 3 * 12
    to_bad = {k: (v - detection.shifted_at).total_seconds() for k, v in detection.first_bad.items()}
    to_page = {k: (v - detection.shifted_at) / minute for k, v in detection.paged.items()}
    print(f"MTTD to the first bad event (s): {to_bad}; to the first page (min): {to_page}")
    assert set(to_bad) == set(OBJECTIVES) and max(to_bad.values()) <= cycle.total_seconds()
    # the 1 h rule pages once 14.4 x (1 - objective) of the last hour's 5-minute slots are bad:
    # 72% of them (~45 min) at 0.95, 14.4% (~10 min) at 0.99
    assert 40 <= to_page["drift-95"] <= 50
    assert 5 <= to_page["drift-99"] <= 12


def _drift_slo(slo_id: str, objective: float) -> dict[str, object]:
    return {
        "id": slo_id,
        "name": f"events drift-free time at {objective}",
        "kind": "drift_free",
        "contract_id": "events",
        "objective": objective,
        "params": {},
        "period": "P30D",
        "time_scale": 1.0,
        "min_events": 0,
        "pending_seconds": 0.0,
        "runbook_url": None,
        "enabled": True,
    }


# --- the demo feed: 7 clean days, then a covariate shift -----------------------------------

FEED_DAYS = 7


def _feed_slo(contract_id: str) -> dict[str, object]:
    return {**_drift_slo(f"{contract_id}-drift", 0.95), "contract_id": contract_id}


@pytest.mark.slow
def test_the_clean_demo_feed_raises_no_drift_alert_in_a_week_and_a_covariate_shift_pages(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    from ranker.feed import deliver
    from ranker.feed_config import CovariateShift, FeedConfig
    from ranker.ingest import ensure_contracts

    shift_at = FEED_DAYS * 24 + 1  # hours after the origin
    config = FeedConfig(
        covariate_shift=CovariateShift(
            at_hours=shift_at, country_mix={"IN": 4, "BR": 3, "US": 1}, device_mix={"web": 3}
        )
    )
    origin = datetime(2026, 11, 2, tzinfo=UTC)
    production = settings.model_copy(
        update={
            "monitor_reference_min_batches": 24,
            "monitor_reference_min_rows": 10_000,
            "monitor_backfill_windows": 2,
        }
    )
    batches = deliver(config, origin, 0, shift_at + 3)
    runs = [origin + timedelta(minutes=m) for m in range(1, (shift_at + 3) * 60, 30)]
    runs += [origin + timedelta(hours=shift_at, minutes=m) for m in range(2, 180, 5)]
    runs = sorted(set(runs))
    with simulated(origin) as clock:
        with unit_of_work(sessions) as db:
            ensure_contracts(db, CLI_OPERATOR)
            for contract_id in ("impressions", "labels"):
                create_slo(db, CLI_OPERATOR, data=_feed_slo(contract_id))
        pending = list(batches)
        first_alert: dict[tuple[str, str], datetime] = {}
        for at in runs:
            while pending and pending[0].delivered_at <= at:
                b = pending.pop(0)
                clock.set(b.delivered_at)
                with unit_of_work(sessions) as db:
                    post(db, b.frame, production.data_dir, contract_id=b.contract_id)
            clock.set(at)
            report = run_once(sessions, settings=production)
            assert report.ran and report.errors == [], report.errors
            for t in report.transitions:
                first_alert.setdefault((t["slo"], t["severity"]), at)
                print(f"  {at:%m-%d %H:%M} {t['slo']} {t['severity']} {t['from']} -> {t['to']}")
        with unit_of_work(sessions) as db:
            alerted = _alerting_fields(db, origin + timedelta(hours=shift_at))
    shift = origin + timedelta(hours=shift_at)
    arrived = shift + timedelta(hours=1)  # the first batch of shifted events is delivered then
    before = {k: v for k, v in first_alert.items() if v < shift}
    after = {k: (v - arrived) / minute_ for k, v in first_alert.items() if v >= shift}
    print(f"clean-week drift alerts: {before}; after the first shifted batch (min): {after}")
    print(f"alerting sliding windows/batches per contract and field: {alerted}")
    assert before == {}
    assert after[("impressions-drift", "page")] <= 60


minute_ = timedelta(minutes=1)


def _alerting_fields(db: Session, shift: datetime) -> dict[str, dict[str, int]]:
    """Before the shift: per contract, how often each field alerted in a sliding window or a
    batch (the false alarms of a clean week), each printed with its statistic and p-value."""
    from monitors.drift.models import DriftWindow

    out: dict[str, dict[str, int]] = {}
    rows = db.scalars(
        select(DriftWindow)
        .where(DriftWindow.kind.in_(("sliding", "batch")), DriftWindow.window_end < shift)
        .order_by(DriftWindow.window_end)
    )
    for w in rows:
        for name, f in ((w.fields or {}).get("fields") or {}).items():
            if f.get("severity") == "alert":
                per = out.setdefault(w.contract_id, {})
                per[name] = per.get(name, 0) + 1
                print(
                    f"  {w.contract_id} {w.kind} {w.window_start:%m-%d %H:%M}..{w.window_end:%H:%M}"
                    f" {name} {f.get('method')} stat={f.get('statistic')}"
                    f" p={f.get('adjusted_p_value')} ref={(w.fields or {}).get('reference')}"
                )
    return out
