"""SLOs from Postgres events: budgets, SRE burn-rate windows, scaling, alert lifecycle, dedup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.clock import SimulatedClock
from core.settings import Settings
from monitors.drift.models import DriftWindow
from monitors.notify.models import Notification
from monitors.notify.service import create_sink
from monitors.slos.alerts import reconcile
from monitors.slos.events import from_us
from monitors.slos.models import Alert, AlertEvent
from monitors.slos.service import create_slo, evaluate_slo, get_slo
from tests.monitors.factory import batch_row, register, simulated

Auth = Callable[[str], dict[str, str]]


def slo_data(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": "events-pass-rate",
        "name": "events batches pass",
        "kind": "batch_pass_rate",
        "contract_id": "events",
        "objective": 0.99,
        "params": {},
        "period": "P30D",
        "time_scale": 1.0,
        "min_events": 0,
        "pending_seconds": 0.0,
        "runbook_url": None,
        "enabled": True,
    }
    return {**base, **overrides}


def traffic(
    db: Session, clock: SimulatedClock, minutes: int, *, bad_every: int = 0, per_minute: int = 1
) -> None:
    """Batches every minute for `minutes`; every `bad_every`-th one is rejected."""
    i = 0
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        for k in range(per_minute):
            i += 1
            status = "rejected" if bad_every and i % bad_every == 0 else "passed"
            batch_row(db, clock.now() - timedelta(seconds=k), status)
    db.flush()


def evaluate(db: Session, settings: Settings, slo_id: str = "events-pass-rate") -> list[Any]:
    slo = get_slo(db, slo_id)
    changes = reconcile(db, slo, evaluate_slo(db, slo), settings=settings)
    db.flush()
    return [(a.severity, before, after) for a, before, after in changes]


def test_windows_and_thresholds_are_the_sre_workbook_table(db: Session) -> None:
    register(db)
    with simulated() as clock:
        slo = create_slo(db, CLI_OPERATOR, data=slo_data())
        traffic(db, clock, 120, bad_every=4)  # 25% bad: burn rate 25 against a 1% budget
        ev = evaluate_slo(db, slo)
    table = [
        (
            w["severity"],
            w["long_window_seconds"],
            w["short_window_seconds"],
            round(w["threshold"], 4),
        )
        for w in ev.to_json()["windows"]
    ]
    assert table == [
        ("page", 3600, 300, 14.4),
        ("page", 21600, 1800, 6.0),
        ("ticket", 259200, 21600, 1.0),
    ]
    assert ev.burn_rate == pytest.approx(25.0)
    assert ev.budget_remaining == pytest.approx(1 - 25.0)
    assert all(w["firing"] for w in ev.to_json()["windows"])


def test_scaled_windows_shrink_with_the_period_and_keep_thresholds(db: Session) -> None:
    register(db)
    with simulated() as clock:
        slo = create_slo(db, CLI_OPERATOR, data=slo_data(time_scale=720.0))  # 30 d -> 1 h
        traffic(db, clock, 3)
        ev = evaluate_slo(db, slo).to_json()
    assert ev["period_seconds"] == 3600
    windows = [
        x
        for w in ev["windows"]
        for x in (w["long_window_seconds"], w["short_window_seconds"], w["threshold"])
    ]
    assert windows == pytest.approx([5, 300 / 720, 14.4, 30, 2.5, 6.0, 360, 30, 1.0], rel=1e-5)


def test_page_fires_once_per_slo_and_severity_and_resolves_when_burn_stops(
    db: Session, settings: Settings
) -> None:
    register(db)
    with simulated() as clock:
        create_slo(db, CLI_OPERATOR, data=slo_data())
        traffic(db, clock, 60)
        assert evaluate(db, settings) == []  # a clean run raises nothing
        traffic(db, clock, 60, bad_every=2)  # 50% bad for an hour
        changes = evaluate(db, settings)
        assert ("page", None, "pending") in changes and ("page", "pending", "firing") in changes
        traffic(db, clock, 5, bad_every=2)
        assert evaluate(db, settings) == []  # still firing: no second alert, no new events
        open_pages = db.scalars(select(Alert).where(Alert.severity == "page")).all()
        assert len(open_pages) == 1 and open_pages[0].state == "firing"
        assert "burning" in open_pages[0].summary
        traffic(db, clock, 15)  # the 1 h rule's 5-minute window is clean again, but the
        assert evaluate(db, settings) == []  # 6 h rule's 30-minute window still burns
        traffic(db, clock, 20)
        changes = evaluate(db, settings)
    assert ("page", "firing", "resolved") in changes
    # the 3-day ticket rule still sees the burn: tickets outlive pages
    assert db.scalar(select(Alert.state).where(Alert.severity == "ticket")) == "firing"
    alert = open_pages[0]
    assert alert.state == "resolved" and alert.resolved_at is not None
    history = db.scalars(
        select(AlertEvent.to_state).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
    ).all()
    assert history == ["pending", "firing", "resolved"]
    assert alert.runbook_url == f"{settings.public_url}/runbooks/bad-batch-schema-break"
    assert alert.evidence["batches"][0]["status"] == "rejected"
    assert alert.evidence["batches"][0]["url"].startswith(settings.public_url + "/batches/")


def test_pending_alert_that_stops_burning_resolves_without_firing_or_notifying(
    db: Session, settings: Settings
) -> None:
    register(db)
    create_sink(
        db,
        CLI_OPERATOR,
        data={
            "name": "hook",
            "kind": "webhook",
            "target": "http://127.0.0.1:9/x",
            "secret": "s" * 16,
            "severities": ["page", "ticket"],
            "enabled": True,
        },
    )
    with simulated() as clock:
        create_slo(db, CLI_OPERATOR, data=slo_data(pending_seconds=3600))
        traffic(db, clock, 30, bad_every=2)
        assert ("page", None, "pending") in evaluate(db, settings)
        traffic(db, clock, 40)
        changes = evaluate(db, settings)
    assert ("page", "pending", "resolved") in changes
    assert db.scalars(select(Notification)).all() == []


def test_pending_turns_firing_once_it_held_for_pending_seconds(
    db: Session, settings: Settings
) -> None:
    register(db)
    with simulated() as clock:
        create_slo(db, CLI_OPERATOR, data=slo_data(pending_seconds=120))
        traffic(db, clock, 30, bad_every=2)
        assert ("page", None, "pending") in evaluate(db, settings)
        traffic(db, clock, 1, bad_every=2)
        assert ("page", "pending", "firing") not in evaluate(db, settings)
        traffic(db, clock, 2, bad_every=2)
        assert ("page", "pending", "firing") in evaluate(db, settings)


def test_min_events_guard_keeps_low_traffic_from_paging(db: Session, settings: Settings) -> None:
    register(db)
    with simulated() as clock:
        create_slo(db, CLI_OPERATOR, data=slo_data(min_events=50))
        traffic(db, clock, 10, bad_every=2)  # 10 events, half bad: would burn at 50x
        ev = evaluate_slo(db, get_slo(db, "events-pass-rate"))
        assert evaluate(db, settings) == []
    assert "too few events" in ev.rules[0].reason


def test_freshness_slo_counts_minutes_within_the_sla(db: Session) -> None:
    with simulated() as clock:
        start = clock.now()
        register(db)
        create_slo(db, CLI_OPERATOR, data=slo_data(id="fresh", kind="freshness", objective=0.995))
        # data one hour old arrives at +10 min; then nothing, so it goes stale at +1 h (2 h SLA)
        batch_row(
            db,
            start + timedelta(minutes=10),
            newest_event_at=start + timedelta(minutes=10) - timedelta(hours=1),
        )
        clock.set(start + timedelta(hours=3))
        db.flush()
        slo = get_slo(db, "fresh")
        assert slo.params == {"max_lag_seconds": 7200.0, "step_seconds": 60.0}
        ev = evaluate_slo(db, slo)
    # ticks every minute over 3 h: minutes 1-9 have no data (bad), 10-70 fresh, after that stale
    assert ev.total == 180 and ev.good == 61


def _judged(db: Session, kind: str, end: datetime, verdict: str, minutes: int = 60) -> None:
    db.add(
        DriftWindow(
            contract_id="events",
            kind=kind,
            window_start=end - timedelta(minutes=minutes),
            window_end=end,
            verdict=verdict,
            rows=1000,
            batches=1,
            fields={},
            computed_at=end,
        )
    )


def test_drift_free_slo_counts_one_event_per_five_minute_slot_whatever_the_windows_in_it(
    db: Session,
) -> None:
    register(db)
    with simulated() as clock:
        t0 = clock.now()  # 00:00, so slots are [00:40, 00:45), [00:45, 00:50), ...

        def at(m: float) -> datetime:
            return t0 + timedelta(minutes=m)

        for cycle in (41, 42):  # two runs in one slot, three overlapping windows each
            _judged(db, "sliding", at(cycle), "ok", 5)
            _judged(db, "sliding", at(cycle), "ok", 15)
            _judged(db, "sliding", at(cycle), "alert" if cycle == 41 else "ok", 60)
        for minutes, verdict in ((5, "no_data"), (15, "warn"), (60, "ok")):
            _judged(db, "sliding", at(46), verdict, minutes)  # warn is good by default
        for minutes in (5, 15, 60):
            _judged(db, "sliding", at(51), "no_data", minutes)  # no data: no event
        _judged(db, "window", at(55), "alert")  # aligned hourly windows are not events
        _judged(db, "batch", at(57.5), "alert", 0)  # a drifted batch on its own
        _judged(db, "sliding", at(59), "ok")
        clock.set(at(60))
        create_slo(db, CLI_OPERATOR, data=slo_data(id="drift", kind="drift_free", objective=0.95))
        strict = slo_data(id="strict", kind="drift_free", objective=0.95)
        create_slo(db, CLI_OPERATOR, data={**strict, "params": {"bad_verdicts": ["warn", "alert"]}})
        coarse = slo_data(id="coarse", kind="drift_free", objective=0.95)
        create_slo(db, CLI_OPERATOR, data={**coarse, "params": {"step_seconds": 3600}})
        db.flush()
        ev = evaluate_slo(db, get_slo(db, "drift"))
        short = ev.events.counts(at(55), at(60))
        strict_ev = evaluate_slo(db, get_slo(db, "strict"))
        hourly = evaluate_slo(db, get_slo(db, "coarse"))
    assert (ev.good, ev.total) == (1, 3)
    assert [from_us(int(t)) for t in ev.events.times] == [at(42), at(46), at(59)]
    assert short == (0, 1)  # the slot being filled counts now, at its newest window
    assert (strict_ev.good, strict_ev.total) == (0, 3)
    assert (hourly.good, hourly.total) == (0, 1)  # one hour-long slot: one bad event


_JUDGED = st.lists(
    st.tuples(
        st.integers(1, 7_200),  # seconds before now
        st.sampled_from(["sliding", "batch", "window"]),
        st.sampled_from(["ok", "warn", "alert", "no_data"]),
        st.sampled_from([5, 15, 60]),
    ),
    max_size=40,
    unique_by=lambda r: (r[0], r[1], r[3]),  # the table's key: one verdict per window
)


@given(rows=_JUDGED, step=st.sampled_from([60, 300, 3600]))
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_drift_free_events_are_the_slots_with_judged_windows_however_many_overlap(
    db: Session, rows: list[tuple[int, str, str, int]], step: int
) -> None:
    """Against a plain-Python count: one event per slot holding a sliding or batch verdict
    with data, bad if any of them alerted; its time the slot's newest window end."""
    with simulated() as clock, db.begin_nested() as nested:
        now = clock.now()
        register(db)
        for ago, kind, verdict, minutes in rows:
            _judged(db, kind, now - timedelta(seconds=ago, microseconds=ago % 7), verdict, minutes)
        params = {"step_seconds": step}
        create_slo(db, CLI_OPERATOR, data=slo_data(id="d", kind="drift_free", params=params))
        db.flush()
        ev = evaluate_slo(db, get_slo(db, "d"))
        nested.rollback()
    slots: dict[int, tuple[datetime, bool]] = {}
    for ago, kind, verdict, _ in rows:
        end = now - timedelta(seconds=ago, microseconds=ago % 7)
        if kind == "window" or verdict == "no_data":
            continue
        key = int(end.timestamp() * 1_000_000) // (step * 1_000_000)
        last, good = slots.get(key, (end, True))
        slots[key] = (max(last, end), good and verdict != "alert")
    expected = sorted(slots.values())
    assert [from_us(int(t)) for t in ev.events.times] == [t for t, _ in expected]
    assert [bool(g) for g in ev.events.good] == [g for _, g in expected]
    assert (ev.good, ev.total) == (sum(g for _, g in expected), len(expected))


# --- API -----------------------------------------------------------------------------------


@pytest.fixture
def events_contract_registered(db: Session) -> None:
    register(db)


@pytest.mark.usefixtures("events_contract_registered")
def test_slo_api_create_read_update_and_status(client: TestClient, auth: Auth) -> None:
    with simulated():
        body = {k: v for k, v in slo_data().items() if v is not None}
        created = client.post("/slos", json=body, headers=auth("admin"))
        assert created.status_code == 201, created.text
        assert created.json()["params"] == {"good_statuses": ["passed", "warned"]}
        detail = client.get("/slos/events-pass-rate", headers=auth("viewer")).json()
        assert detail["status"]["total"] == 0 and detail["status"]["budget_remaining"] is None
        assert [w["threshold"] for w in detail["status"]["windows"]] == pytest.approx(
            [14.4, 6.0, 1.0]
        )
        patched = client.patch(
            "/slos/events-pass-rate",
            json={"objective": 0.95, "enabled": False},
            headers=auth("admin"),
        )
        assert patched.status_code == 200 and patched.json()["objective"] == 0.95
        listed = client.get("/slos", headers=auth("viewer")).json()
    assert [s["id"] for s in listed] == ["events-pass-rate"] and listed[0]["enabled"] is False


@pytest.mark.usefixtures("events_contract_registered")
@pytest.mark.parametrize(
    ("change", "status", "field", "rule"),
    [
        ({"kind": "latency"}, 422, "kind", "literal_error"),
        ({"objective": 1.0}, 422, "objective", "less_than"),
        ({"contract_id": None}, 422, "contract_id", "required_for_kind"),
        ({"contract_id": "nope"}, 404, "id", None),
        ({"params": {"good_statuses": ["great"]}}, 422, "params.good_statuses.0", "literal_error"),
        ({"params": {"surprise": 1}}, 422, "params.surprise", "extra_forbidden"),
        (
            {"kind": "drift_free", "params": {"step_seconds": 0}},
            422,
            "params.step_seconds",
            "greater_than_equal",
        ),
        ({"period": "a month"}, 422, "period", "duration_parses"),
        ({"id": "Bad Id"}, 422, "id", "string_pattern_mismatch"),
    ],
)
def test_bad_slo_definitions_are_problems_naming_field_and_rule(
    client: TestClient, auth: Auth, change: dict[str, Any], status: int, field: str, rule: str
) -> None:
    body = {k: v for k, v in slo_data(**change).items() if v is not None or k == "contract_id"}
    resp = client.post("/slos", json=body, headers=auth("admin"))
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["field"] == field
    if rule:
        assert resp.json()["rule"] == rule


@pytest.mark.usefixtures("events_contract_registered")
def test_slo_api_refuses_non_admins_duplicates_and_unknown_ids(
    client: TestClient, auth: Auth
) -> None:
    body = {k: v for k, v in slo_data().items() if v is not None}
    assert client.post("/slos", json=body, headers=auth("producer")).status_code == 403
    assert client.post("/slos", json=body, headers=auth("admin")).status_code == 201
    dup = client.post("/slos", json=body, headers=auth("admin"))
    assert dup.status_code == 409 and dup.json()["rule"] == "unique"
    missing = client.get("/slos/nope", headers=auth("viewer"))
    assert missing.status_code == 404 and missing.json()["field"] == "slo_id"
    assert (
        client.get(
            "/alerts/00000000-0000-0000-0000-000000000000", headers=auth("viewer")
        ).status_code
        == 404
    )


@pytest.mark.usefixtures("events_contract_registered")
def test_alerts_api_lists_alerts_with_history(
    client: TestClient, auth: Auth, db: Session, settings: Settings
) -> None:
    with simulated() as clock:
        create_slo(db, CLI_OPERATOR, data=slo_data())
        traffic(db, clock, 60, bad_every=2)
        evaluate(db, settings)
        alerts = client.get("/alerts?state=firing&severity=page", headers=auth("viewer")).json()
        assert [(a["slo_id"], a["severity"]) for a in alerts] == [("events-pass-rate", "page")]
        detail = client.get(f"/alerts/{alerts[0]['id']}", headers=auth("viewer")).json()
        assert [h["to_state"] for h in detail["history"]] == ["pending", "firing"]
        slo = client.get("/slos/events-pass-rate", headers=auth("viewer")).json()
    assert alerts[0]["id"] in {a["id"] for a in slo["open_alerts"]}
    assert client.get("/alerts?state=exploded", headers=auth("viewer")).status_code == 422


def _at(dt: datetime) -> str:
    return dt.isoformat()


@pytest.mark.usefixtures("events_contract_registered")
def test_disabling_an_slo_resolves_its_open_alerts_and_notifies_the_fired_ones(
    client: TestClient, auth: Auth, db: Session, settings: Settings
) -> None:
    create_sink(
        db,
        CLI_OPERATOR,
        data={
            "name": "hook",
            "kind": "webhook",
            "target": "http://127.0.0.1:9/x",
            "secret": "s" * 16,
            "severities": ["page", "ticket"],
            "enabled": True,
        },
    )
    with simulated() as clock:
        create_slo(db, CLI_OPERATOR, data=slo_data())
        traffic(db, clock, 60, bad_every=2)
        evaluate(db, settings)
        firing = db.scalars(select(Alert).where(Alert.state == "firing")).all()
        assert {a.severity for a in firing} == {"page", "ticket"}
        clock.advance(timedelta(minutes=1))
        # a change that keeps the SLO enabled leaves its alerts alone
        kept = client.patch(
            "/slos/events-pass-rate", json={"name": "renamed"}, headers=auth("admin")
        )
        assert kept.status_code == 200, kept.text
        assert db.scalar(select(Alert.state).where(Alert.severity == "page")) == "firing"
        off = client.patch("/slos/events-pass-rate", json={"enabled": False}, headers=auth("admin"))
        assert off.status_code == 200, off.text
        disabled_at = clock.now()
        again = client.patch(
            "/slos/events-pass-rate", json={"enabled": False}, headers=auth("admin")
        )
        assert again.status_code == 200
    for alert in firing:
        db.refresh(alert)
        assert alert.state == "resolved" and alert.resolved_at == disabled_at
        last = db.scalars(
            select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
        ).all()
        assert [e.to_state for e in last] == ["pending", "firing", "resolved"]
        assert last[-1].details["reason"] == "SLO disabled by test-admin"
    sent = db.scalars(select(Notification).where(Notification.event == "resolved")).all()
    assert sorted(n.payload["severity"] for n in sent) == ["page", "ticket"]
    assert all(n.payload["state"] == "resolved" for n in sent)
    detail = client.get("/slos/events-pass-rate", headers=auth("viewer")).json()
    assert detail["open_alerts"] == []
