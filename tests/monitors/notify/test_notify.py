"""Notifications reach a local webhook, a Slack-style webhook and a local SMTP server; failed
deliveries retry with backoff, are recorded, and are never dropped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR
from core.settings import Settings
from monitors.notify.models import Notification
from monitors.notify.service import create_sink, deliver_due
from monitors.notify.sinks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from monitors.slos.service import create_slo
from tests.monitors.factory import register, simulated
from tests.monitors.sink_servers import HttpSink, SmtpSink, http_sink, smtp_sink
from tests.monitors.slos.test_slos import evaluate, slo_data, traffic

Auth = Callable[[str], dict[str, str]]
SECRET = "a-long-enough-webhook-secret"


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits are savepoints in the test's transaction (delivery commits)."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def hook() -> Iterator[HttpSink]:
    with http_sink() as sink:
        yield sink


@pytest.fixture
def mailbox() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


def sink(name: str, kind: str, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "target": target,
        "secret": None,
        "severities": ["page", "ticket"],
        "enabled": True,
        **extra,
    }


def fire_page(db: Session, settings: Settings, clock: Any) -> None:
    create_slo(db, CLI_OPERATOR, data=slo_data())
    traffic(db, clock, 60, bad_every=2)
    evaluate(db, settings)


def test_a_firing_alert_reaches_webhook_slack_and_email_sinks(
    db: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    hook: HttpSink,
    mailbox: SmtpSink,
) -> None:
    settings = settings.model_copy(update={"smtp_port": mailbox.port})
    register(db)
    create_sink(db, CLI_OPERATOR, data=sink("hook", "webhook", hook.url + "/hook", secret=SECRET))
    create_sink(
        db, CLI_OPERATOR, data=sink("chat", "slack", hook.url + "/slack", severities=["page"])
    )
    create_sink(db, CLI_OPERATOR, data=sink("oncall", "email", "oncall@example.test, b@x.test"))
    with simulated() as clock:
        fire_page(db, settings, clock)
        db.flush()
        report = deliver_due(sessions, settings=settings)
    # page + ticket fire: the webhook and email get both, Slack only takes pages
    assert (report.delivered, report.failed) == (5, 0)
    hooks = [r for r in hook.requests if r.path == "/hook"]
    assert {r.json()["severity"] for r in hooks} == {"page", "ticket"}
    page = next(r for r in hooks if r.json()["severity"] == "page")
    assert verify(SECRET, page.headers[TIMESTAMP_HEADER], page.body, page.headers[SIGNATURE_HEADER])
    assert not verify(
        "wrong-secret-wrong-secret",
        page.headers[TIMESTAMP_HEADER],
        page.body,
        page.headers[SIGNATURE_HEADER],
    )
    body = page.json()
    assert body["event"] == "firing" and body["slo"]["id"] == "events-pass-rate"
    assert body["runbook_url"] and body["evidence"]["batches"]
    slack = [r.json() for r in hook.requests if r.path == "/slack"]
    assert len(slack) == 1 and "FIRING page" in slack[0]["text"]
    assert slack[0]["blocks"][0]["type"] == "header"
    assert "runbook" in slack[0]["blocks"][2]["elements"][0]["text"]
    recipients, msg = mailbox.messages[0]
    assert recipients == ["oncall@example.test", "b@x.test"]
    assert msg["Subject"].startswith("[driftgate] FIRING")
    assert "Runbook:" in msg.get_content()
    rows = db.scalars(select(Notification)).all()
    assert {r.status for r in rows} == {"delivered"} and all(r.attempts == 1 for r in rows)


def test_failed_deliveries_back_off_record_the_error_and_succeed_later(
    db: Session, settings: Settings, sessions: sessionmaker[Session], hook: HttpSink
) -> None:
    register(db)
    create_sink(
        db, CLI_OPERATOR, data=sink("hook", "webhook", hook.url, secret=SECRET, severities=["page"])
    )
    hook.fail_next = 2
    with simulated() as clock:
        fire_page(db, settings, clock)
        db.flush()
        first = deliver_due(sessions, settings=settings)
        row = db.scalars(select(Notification)).one()
        db.refresh(row)
        assert (first.failed, row.status, row.attempts) == (1, "pending", 1)
        assert row.last_error is not None and row.last_error.startswith("HTTP 500")
        delay = (row.next_attempt_at - clock.now()).total_seconds()
        assert 5 <= delay <= 5.5  # notify_backoff_seconds, plus jitter
        assert deliver_due(sessions, settings=settings).failed == 0  # not due yet
        clock.advance(timedelta(seconds=6))
        assert deliver_due(sessions, settings=settings).failed == 1
        db.refresh(row)
        assert 10 <= (row.next_attempt_at - clock.now()).total_seconds() <= 11  # doubled
        clock.advance(timedelta(seconds=11))
        assert deliver_due(sessions, settings=settings).delivered == 1
    db.refresh(row)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert len(hook.requests) == 1


def test_out_of_attempts_is_dead_not_dropped_and_an_admin_can_requeue_it(
    db: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    client: TestClient,
    auth: Auth,
) -> None:
    settings = settings.model_copy(update={"notify_max_attempts": 2, "notify_timeout_seconds": 1})
    register(db)
    create_sink(
        db,
        CLI_OPERATOR,
        data=sink(
            "gone", "webhook", "http://127.0.0.1:9/nothing", secret=SECRET, severities=["page"]
        ),
    )
    with simulated() as clock:
        fire_page(db, settings, clock)
        db.flush()
        deliver_due(sessions, settings=settings)
        clock.advance(timedelta(minutes=1))
        assert deliver_due(sessions, settings=settings).dead == 1
        listed = client.get("/monitors/notifications?status=dead", headers=auth("viewer")).json()
        assert len(listed) == 1 and listed[0]["attempts"] == 2
        assert "ConnectError" in listed[0]["last_error"]
        assert (
            client.post(
                f"/monitors/notifications/{listed[0]['id']}/retry", headers=auth("viewer")
            ).status_code
            == 403
        )
        again = client.post(
            f"/monitors/notifications/{listed[0]['id']}/retry", headers=auth("admin")
        )
    assert again.status_code == 200 and again.json()["status"] == "pending"
    missing = client.post("/monitors/notifications/999999/retry", headers=auth("admin"))
    assert missing.status_code == 404 and missing.json()["field"] == "notification_id"


@pytest.mark.parametrize(
    ("body", "status", "field", "rule"),
    [
        ({"kind": "webhook", "target": "http://127.0.0.1/x"}, 422, "secret", "min_length_16"),
        ({"kind": "webhook", "target": "ftp://x", "secret": SECRET}, 422, "target", "url"),
        ({"kind": "slack", "target": "hooks.slack.example"}, 422, "target", "url"),
        ({"kind": "email", "target": "oncall, ops@x.test"}, 422, "target", "email"),
        ({"kind": "pager", "target": "http://x"}, 422, "kind", "literal_error"),
        ({"kind": "slack", "target": "http://x", "severities": []}, 422, "severities", "too_short"),
    ],
)
def test_bad_sinks_are_problems_naming_field_and_rule(
    client: TestClient, auth: Auth, body: dict[str, Any], status: int, field: str, rule: str
) -> None:
    resp = client.post("/monitors/sinks", json={"name": "s1", **body}, headers=auth("admin"))
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)


def test_sink_api_hides_secrets_refuses_duplicates_and_toggles(
    client: TestClient, auth: Auth
) -> None:
    body = {"name": "hook", "kind": "webhook", "target": "http://127.0.0.1:1/x", "secret": SECRET}
    created = client.post("/monitors/sinks", json=body, headers=auth("admin"))
    assert created.status_code == 201 and "secret" not in created.json()
    assert client.post("/monitors/sinks", json=body, headers=auth("admin")).status_code == 409
    assert client.get("/monitors/sinks", headers=auth("viewer")).status_code == 403
    off = client.patch("/monitors/sinks/hook", json={"enabled": False}, headers=auth("admin"))
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert (
        client.patch(
            "/monitors/sinks/nope", json={"enabled": False}, headers=auth("admin")
        ).status_code
        == 404
    )
