"""A real monitor-runner cycle: a page alert opens an incident whose timeline writes itself
(the alert, the failing batches behind it, the notification sent, the resolution)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR
from core.db import make_session_factory, unit_of_work
from core.settings import Settings
from incidents import service
from incidents.impact import error_budget
from monitors.notify.service import create_sink
from monitors.runner import run_once
from monitors.slos.service import create_slo
from tests.monitors.factory import register, simulated
from tests.monitors.sink_servers import http_sink
from tests.monitors.slos.test_slos import slo_data, traffic


@pytest.fixture
def sessions(committed_db: str) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(committed_db)
    yield make_session_factory(engine)
    engine.dispose()


def _incidents(sessions: sessionmaker[Session]) -> list[tuple[object, list[tuple[str, dict]]]]:
    with unit_of_work(sessions) as db:
        _, rows = service.list_incidents(db)
        return [(i, [(e.kind, e.details) for e in service.timeline(db, i.id)]) for i in rows]


def test_a_firing_page_alert_opens_an_incident_whose_timeline_writes_itself(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with http_sink() as hook, simulated() as clock:
        with unit_of_work(sessions) as db:
            register(db)
            create_slo(db, CLI_OPERATOR, data=slo_data())
            create_sink(
                db,
                CLI_OPERATOR,
                data={
                    "name": "oncall-hook",
                    "kind": "webhook",
                    "target": hook.url,
                    "secret": "s" * 20,
                    "severities": ["page"],
                    "enabled": True,
                },
            )
        with unit_of_work(sessions) as db:
            traffic(db, clock, 60)
        report = run_once(sessions, settings=settings)
        assert report.errors == [] and _incidents(sessions) == []  # a clean hour: nothing
        with unit_of_work(sessions) as db:
            traffic(db, clock, 60, bad_every=2)  # half the batches rejected for an hour
        report = run_once(sessions, settings=settings)
        assert report.errors == []
        [(incident, entries)] = _incidents(sessions)
        kinds = [k for k, _ in entries]
        assert incident.source == "alert" and incident.severity == "critical"
        assert incident.datasets == ["events"] and incident.runbook == "bad-batch-schema-break"
        assert {"opened", "alert_firing", "first_bad_batch", "batch_failed", "notification"} <= set(
            kinds
        )
        firing = [d for k, d in entries if k == "alert_firing"]
        # the page opened it; the ticket rule of the same SLO, firing too, joined it
        assert sorted(d["severity"] for d in firing) == ["page", "ticket"]
        assert all(d["budget_remaining"] is not None for d in firing)
        assert incident.first_bad_at is not None and incident.first_bad_at < incident.opened_at
        assert dict(entries)["notification"]["sink"] == "oncall-hook"
        # a second cycle with the same data adds nothing
        run_once(sessions, settings=settings)
        assert len(_incidents(sessions)[0][1]) == len(entries)
        with unit_of_work(sessions) as db:
            traffic(db, clock, 40)  # clean again: the page resolves
        run_once(sessions, settings=settings)
        [(incident, entries)] = _incidents(sessions)
    kinds = [k for k, _ in entries]
    # the page resolved (the 3-day ticket rule still burns); firing and resolved were sent
    assert kinds.count("alert_resolved") == 1 and kinds.count("notification") == 2
    with unit_of_work(sessions) as db:
        budget = error_budget(db, incident.id)  # type: ignore[attr-defined]
    [slo] = budget["slos"]
    resolved = next(d for k, d in entries if k == "alert_resolved")
    assert slo["at_firing"] == firing[0]["budget_remaining"]
    assert slo["latest"] == resolved["budget_remaining"] and slo["firing"] is True  # the ticket
    assert budget["consumed"] == pytest.approx(max(slo["at_firing"] - slo["latest"], 0.0))
