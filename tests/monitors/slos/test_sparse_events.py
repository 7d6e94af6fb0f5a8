"""Realized-AUC SLO events are counted when a window's AUC became known, and its sparse events
(one per quality window, hours late) neither flap pages nor keep stale ones firing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.settings import Settings
from monitors.quality.models import ModelQualityWindow
from monitors.slos.alerts import reconcile
from monitors.slos.events import Events, to_us
from monitors.slos.service import create_slo, evaluate_slo, get_slo
from tests.monitors.factory import START, simulated

Auth = Callable[[str], dict[str, str]]
HOUR = timedelta(hours=1)
GOOD, BAD = 0.82, 0.55


def auc_slo(db: Session, **params: Any) -> None:
    """The simulation's SLO: 95% of hourly windows realize AUC >= 0.76."""
    create_slo(
        db,
        CLI_OPERATOR,
        data={
            "id": "ranker-auc",
            "name": "ranker realized AUC",
            "kind": "realized_auc",
            "contract_id": None,
            "objective": 0.95,
            "params": {"threshold": 0.76, **params},
            "period": "P30D",
            "time_scale": 1.0,
            "min_events": 0,
            "pending_seconds": 0.0,
            "runbook_url": None,
            "enabled": True,
        },
    )


def quality_window(
    db: Session,
    end: datetime,
    auc: float,
    known_at: datetime,
    *,
    mature_at: datetime | None = None,
) -> None:
    """An hour window ending at `end` whose AUC the quality runner first computed at
    `known_at` (and found mature at `mature_at`)."""
    db.add(
        ModelQualityWindow(
            model_name="ranker",
            model_versions=[1],
            window_start=end - HOUR,
            window_end=end,
            status="mature" if mature_at is not None and mature_at <= known_at else "provisional",
            predictions=600,
            labeled=600,
            coverage=1.0,
            auc=auc,
            metrics={},
            estimated_auc=0.8,
            estimated_ctr=0.1,
            score_psi=0.0,
            computed_at=known_at,
            auc_known_at=known_at,
            mature_at=mature_at,
        )
    )
    db.flush()


def evaluate(db: Session, settings: Settings, now: datetime) -> list[tuple[str, str | None, str]]:
    slo = get_slo(db, "ranker-auc")
    changes = reconcile(db, slo, evaluate_slo(db, slo, now=now), settings=settings)
    db.flush()
    return [(a.severity, before, after) for a, before, after in changes]


def times(*minutes: float) -> np.ndarray:
    return np.asarray([to_us(START + timedelta(minutes=m)) for m in minutes], dtype=np.int64)


@pytest.mark.parametrize(
    ("start", "n", "floor", "expected"),
    [
        (45, 1, 0, 45),  # the window holds an event already: unchanged
        (58, 1, 0, 50 - 1e-6 / 60),  # empty: back to just before the newest event
        (58, 2, 0, 10 - 1e-6 / 60),  # the newest two
        (58, 1, 50, 58),  # the newest event is at the floor: out of reach, unchanged
        (58, 3, 5, 10 - 1e-6 / 60),  # three wanted, the floor leaves two
        (58, 0, 0, 58),  # n = 0 turns widening off
    ],
)
def test_widened_start_reaches_back_to_the_newest_events_never_to_the_floor(
    start: float, n: int, floor: float, expected: float
) -> None:
    events = Events(times(0, 10, 50), np.array([True, False, False]))
    end = START + timedelta(minutes=60)

    def at(m: float) -> datetime:
        return START + timedelta(minutes=m)

    widened = events.widened_start(at(start), end, n, floor=at(floor))
    assert widened == at(expected)


def test_a_window_counts_when_its_auc_became_known_not_at_its_end(
    db: Session, settings: Settings
) -> None:
    with simulated():
        auc_slo(db)
        end, known = START + 3 * HOUR, START + 9 * HOUR + timedelta(minutes=5)
        quality_window(db, end, BAD, known)
        at_end = evaluate_slo(db, get_slo(db, "ranker-auc"), now=end + timedelta(minutes=1))
        when_known = evaluate_slo(db, get_slo(db, "ranker-auc"), now=known)
    assert at_end.total == 0
    assert when_known.total == 1 and when_known.good == 0
    assert [int(t) for t in when_known.events.times] == [to_us(known)]
    page_1h = when_known.rules[0]
    assert page_1h.firing and page_1h.short_burn_rate == pytest.approx(20.0)


def _hours_of_windows(
    db: Session, aucs: list[float], first_known: datetime, offsets: list[int]
) -> list[datetime]:
    """One window per hour, each known about an hour after the previous one (give or take
    `offsets` minutes: labels land unevenly); returns when each became known."""
    known = []
    for i, auc in enumerate(aucs):
        at = first_known + i * HOUR + timedelta(minutes=offsets[i % len(offsets)])
        quality_window(db, first_known - 6 * HOUR + i * HOUR, auc, at)
        known.append(at)
    return known


def _play(
    db: Session, settings: Settings, start: datetime, hours: float
) -> list[tuple[datetime, str, str | None, str]]:
    """Evaluate every 5 minutes; every page change (when, severity, from, to), in order."""
    changes = []
    for i in range(int(hours * 12) + 1):
        now = start + timedelta(minutes=5 * i)
        changes += [(now, *c) for c in evaluate(db, settings, now) if c[0] == "page"]
    return changes


def test_sparse_bad_windows_page_once_and_stay_firing_until_a_good_window_is_known(
    db: Session, settings: Settings
) -> None:
    with simulated():
        auc_slo(db)
        first = START + 8 * HOUR
        aucs = [GOOD] * 4 + [BAD] * 5 + [GOOD] * 2
        known = _hours_of_windows(db, aucs, first, offsets=[0, 20, 50, 10, 35])
        pages = _play(db, settings, first, hours=len(aucs) + 1)
    first_bad, first_good_after = known[4], known[9]
    cycle = timedelta(minutes=5)
    assert [c[2:] for c in pages] == [
        (None, "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
    # paged on the first cycle that knew the first bad window, resolved on the first that
    # knew a good one again, and stayed firing through every gap between bad windows
    assert first_bad <= pages[1][0] < first_bad + cycle
    assert first_good_after <= pages[2][0] < first_good_after + cycle


def test_without_widening_the_same_windows_flap_the_page(db: Session, settings: Settings) -> None:
    with simulated():
        auc_slo(db, min_window_events=0)
        first = START + 8 * HOUR
        aucs = [GOOD] * 4 + [BAD] * 5 + [GOOD] * 2
        _hours_of_windows(db, aucs, first, offsets=[0, 20, 50, 10, 35])
        pages = _play(db, settings, first, hours=len(aucs) + 1)
    fired = [c for c in pages if c[2:] == ("pending", "firing")]
    assert len(fired) > 1  # the 5-minute short window is empty most of the time


def test_stale_bad_evidence_stops_paging_when_no_window_becomes_known(
    db: Session, settings: Settings
) -> None:
    """Labels stop: the last bad window is no longer news once it is older than the longest
    page window plus the stretch, so the page resolves (the labels' freshness SLO takes over)."""
    with simulated():
        auc_slo(db)
        first = START + 8 * HOUR
        known = _hours_of_windows(db, [GOOD] * 3 + [BAD] * 3, first, offsets=[0])
        pages = _play(db, settings, first, hours=14)
    assert [c[2:] for c in pages] == [
        (None, "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
    # the 1 h rule may reach back its own hour plus the hour's stretch for the last bad window
    assert pages[-1][0] <= known[-1] + 2 * HOUR + timedelta(minutes=5)


def test_page_shows_each_bad_window_span_and_when_it_became_known(
    db: Session, settings: Settings
) -> None:
    from sqlalchemy import select

    from monitors.slos.models import Alert

    with simulated():
        auc_slo(db)
        end = START + 3 * HOUR
        known = end + 6 * HOUR + timedelta(minutes=7)
        quality_window(db, end, BAD, known)
        evaluate(db, settings, known)
        page = db.scalars(select(Alert).where(Alert.severity == "page")).one()
    (shown,) = page.evidence["windows"]
    assert (shown["start"], shown["end"]) == ((end - HOUR).isoformat(), end.isoformat())
    assert shown["known_at"] == shown["counted_at"] == known.isoformat()
    assert "2026-11-02 02:00 to 03:00 AUC 0.550 known 2026-11-02 09:07" in page.summary
    windows = page.burn_rates["windows"]
    assert all(w["long_counted_seconds"] >= w["long_window_seconds"] for w in windows)


def test_without_provisional_a_window_counts_when_it_turned_mature(
    db: Session, settings: Settings
) -> None:
    with simulated():
        auc_slo(db, include_provisional=False)
        end = START + 3 * HOUR
        provisional, mature = end + 6 * HOUR, end + 24 * HOUR
        quality_window(db, end, BAD, provisional, mature_at=mature)
        row = db.query(ModelQualityWindow).one()
        row.status = "mature"  # the runner found it mature at `mature` and kept the stamps
        db.flush()
        slo = get_slo(db, "ranker-auc")
        when_provisional = evaluate_slo(db, slo, now=provisional + timedelta(minutes=1))
        when_mature = evaluate_slo(db, slo, now=mature)
    assert when_provisional.total == 0
    assert [int(t) for t in when_mature.events.times] == [to_us(mature)]
    assert when_mature.rules[0].firing


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"min_window_events": -1}, "params.min_window_events", "greater_than_equal"),
        (
            {"max_window_stretch_seconds": "soon"},
            "params.max_window_stretch_seconds",
            "float_parsing",
        ),
    ],
)
def test_bad_sparse_window_params_are_problems_naming_field_and_rule(
    client: TestClient, auth: Auth, params: dict[str, Any], field: str, rule: str
) -> None:
    body = {
        "id": "auc",
        "name": "auc",
        "kind": "realized_auc",
        "objective": 0.95,
        "params": {"threshold": 0.76, **params},
    }
    resp = client.post("/slos", json=body, headers=auth("admin"))
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)
