"""The runner end to end on a committed database: the done-when scenario, the advisory lock,
the API lifespan thread and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR
from core.db import make_session_factory, unit_of_work
from core.settings import Settings
from monitors.drift.models import DriftWindow
from monitors.notify.models import Notification
from monitors.notify.service import create_sink
from monitors.runner import MONITOR_LOCK, run_once
from monitors.schemas import RunRead
from monitors.slos.models import Alert
from monitors.slos.service import create_slo
from tests.monitors.drift.test_drift import SHIFTED_MIX
from tests.monitors.factory import events_contract, hourly, register, simulated
from tests.monitors.sink_servers import http_sink

ROOT = Path(__file__).resolve().parents[2]
Auth = Callable[[str], dict[str, str]]


@pytest.fixture
def sessions(committed_db: str) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(committed_db)
    yield make_session_factory(engine)
    engine.dispose()


def drift_slo() -> dict[str, object]:
    return {
        "id": "events-drift-free",
        "name": "events drift-free hours",
        "kind": "drift_free",
        "contract_id": "events",
        "objective": 0.95,
        "params": {},
        "period": "P30D",
        "time_scale": 1.0,
        "min_events": 0,
        "pending_seconds": 0.0,
        "runbook_url": None,
        "enabled": True,
    }


def test_covariate_shift_raises_a_drift_alert_that_reaches_the_sink_and_a_clean_run_does_not(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    data_dir = settings.data_dir
    with http_sink() as hook, simulated() as clock:
        with unit_of_work(sessions) as db:
            register(db, events_contract(fields={"x": {"method": "psi"}, "cat": {"method": "psi"}}))
            create_slo(db, CLI_OPERATOR, data=drift_slo())
            create_sink(
                db,
                CLI_OPERATOR,
                data={
                    "name": "hook",
                    "kind": "webhook",
                    "target": hook.url,
                    "secret": "s" * 20,
                    "severities": ["page", "ticket"],
                    "enabled": True,
                },
            )
        rollups_built = 0
        for hour in range(12):  # a clean half day: evaluated after every hour
            with unit_of_work(sessions) as db:
                hourly(db, clock, data_dir, 1, seed=hour)
            clock.advance(timedelta(minutes=1))
            report = run_once(sessions, settings=settings)
            assert report.ran and report.errors == [] and report.transitions == []
            assert report.rollups_left == 0 and report.sliding_windows == 3
            rollups_built += report.rollups_built
        assert hook.requests == []
        # each hour as it completed (with its batch's minute and 10 minutes), two 6-hour buckets
        assert rollups_built == 3 * 12 + 2
        for hour in range(3):  # the shift: x moves and the category mix changes
            with unit_of_work(sessions) as db:
                hourly(db, clock, data_dir, 1, seed=100 + hour, shift=1.0, cat_mix=SHIFTED_MIX)
            clock.advance(timedelta(minutes=1))
            report = run_once(sessions, settings=settings)
        with unit_of_work(sessions) as db:
            verdicts = db.scalars(
                select(DriftWindow.verdict)
                .where(DriftWindow.kind == "window", DriftWindow.verdict != "no_data")
                .order_by(DriftWindow.window_start)
            ).all()
            pages = db.scalars(select(Alert).where(Alert.severity == "page")).all()
            sliding = [
                (f"PT{int((w.window_end - w.window_start).total_seconds() // 60)}M", w.verdict)
                for w in db.scalars(
                    select(DriftWindow)
                    .where(DriftWindow.kind == "sliding")
                    .order_by(DriftWindow.window_end, DriftWindow.window_start.desc())
                )
            ]
            sliding = [(k.replace("PT60M", "PT1H"), v) for k, v in sliding]
            delivered = db.scalars(select(Notification.status)).all()
    assert verdicts[-3:] == ["alert", "alert", "alert"] and "alert" not in verdicts[:-3]
    # each run stored its 5, 15 and 60-minute windows ending then (51 minutes after the batch:
    # only the hour holds it), and the first run after the first drifted batch alerted
    assert sliding[:3] == [("PT5M", "no_data"), ("PT15M", "no_data"), ("PT1H", "ok")]
    assert sliding[3 * 12 : 3 * 12 + 3] == [
        ("PT5M", "no_data"),
        ("PT15M", "no_data"),
        ("PT1H", "alert"),
    ]
    assert len(pages) == 1 and pages[0].state == "firing"
    assert pages[0].evidence["windows"][-1]["fields"] == ["cat", "x"]
    assert set(delivered) == {"delivered"}
    payloads = [r.json() for r in hook.requests]
    assert {(p["slo"]["id"], p["severity"], p["event"]) for p in payloads} >= {
        ("events-drift-free", "page", "firing")
    }


def test_only_one_runner_evaluates_at_a_time(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MONITOR_LOCK})
        assert run_once(sessions, settings=settings).ran is False
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MONITOR_LOCK})
    assert run_once(sessions, settings=settings).ran is True


def test_the_api_lifespan_runs_the_runner_on_its_schedule(
    committed_db: str, settings: Settings
) -> None:
    from api.app import create_app

    fast = settings.model_copy(
        update={"monitor_interval_seconds": 0.2, "monitor_poll_seconds": 0.05}
    )
    app = create_app(fast, database_url=committed_db)
    with TestClient(app):
        runner = app.state.monitor_runner
        assert runner.reported.wait(timeout=20)
        assert runner.last_report is not None and runner.last_report.ran
    assert not runner._thread.is_alive()
    off = create_app(
        settings.model_copy(update={"monitor_runner": False}), database_url=committed_db
    )
    with TestClient(off):
        assert not hasattr(off.state, "monitor_runner")


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_cli_applies_slos_from_a_file_and_runs_the_monitors(
    committed_db: str, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as db:
        register(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    env.update({"DATABASE_URL": committed_db, "DRIFTGATE_DATA_DIR": str(tmp_path / "data")})
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(
        "slos:\n"
        "  - {id: events-pass, name: events pass, kind: batch_pass_rate, contract_id: events,\n"
        "     objective: 0.99}\n"
    )
    first = _cli(["monitors", "apply-slos", str(slo_file)], env)
    assert first.returncode == 0, first.stderr
    assert "created events-pass" in first.stdout
    slo_file.write_text(slo_file.read_text().replace("0.99", "0.95"))
    assert "updated events-pass" in _cli(["monitors", "apply-slos", str(slo_file)], env).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: x, name: x, kind: batch_pass_rate, objective: 0.9}\n")
    failed = _cli(["monitors", "apply-slos", str(bad)], env)
    assert failed.returncode == 1 and "contract_id: required_for_kind" in failed.stderr
    ran = _cli(["monitors", "run"], env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.strip().splitlines()[-1])["slos"] == 1
    printed = json.loads(ran.stdout.strip().splitlines()[-1])
    assert printed["sliding_windows"] == 0
    # the CLI prints exactly what POST /monitors/run answers
    assert set(printed) == set(RunRead.model_fields)
    drift = _cli(["monitors", "drift", "events", "--count", "1"], env)
    assert drift.returncode == 0, drift.stderr
    assert drift.stdout.startswith("reference: none (no reference yet: the trailing window")


def test_run_endpoint_needs_admin_and_reports_the_run(client: TestClient, auth: Auth) -> None:
    assert client.post("/monitors/run", headers=auth("viewer")).status_code == 403
    resp = client.post("/monitors/run", headers=auth("admin"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ran"] is True and body["errors"] == []
    assert set(body) == set(RunRead.model_fields)
    assert {"sliding_windows", "rollups_built", "rollups_left"} <= set(body)
