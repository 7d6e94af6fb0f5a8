"""`driftgate postmortem` and `driftgate action-items` against a committed database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from core.auth import Principal, Role
from core.clock import utcnow
from core.settings import Settings
from incidents.models import Incident, IncidentEvent
from incidents.postmortems import records, service


@pytest.fixture
def sessions(
    committed_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Session]:
    settings = Settings(database_url=committed_db, data_dir=tmp_path / "data")
    monkeypatch.setattr("cli.context.get_settings", lambda: settings)
    engine = create_engine(committed_db)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _incident(session: Session) -> uuid.UUID:
    t0 = utcnow() - timedelta(hours=2)
    incident = Incident(
        title="labels stopped",
        severity="major",
        status="closed",
        source="alert",
        datasets=[],
        details={"slo_kind": "freshness"},
        first_bad_at=t0,
        opened_at=t0 + timedelta(seconds=600),
        opened_by="monitor-runner",
        closed_at=t0 + timedelta(seconds=3600),
        closed_by="alice",
    )
    session.add(incident)
    session.flush()
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            at=t0 + timedelta(seconds=600),
            kind="opened",
            actor="monitor-runner",
            summary="opened",
            details={},
            recorded_at=utcnow(),
        )
    )
    session.commit()
    return incident.id


def test_draft_show_submit_publish_markdown_and_items(sessions: Session, tmp_path: Path) -> None:
    runner = CliRunner()
    incident_id = _incident(sessions)
    drafted = runner.invoke(app, ["postmortem", "draft", str(incident_id)])
    assert drafted.exit_code == 0, drafted.output
    assert "revision 1): draft" in drafted.output
    assert "time_to_detect_seconds     600.0" in drafted.output
    assert "time_to_resolve_seconds    3600.0" in drafted.output
    pm = records.latest_for_incident(sessions, incident_id)
    again = runner.invoke(app, ["postmortem", "draft", str(incident_id)])
    assert again.exit_code == 1 and "already has a postmortem" in again.output

    service.update_postmortem(
        sessions,
        Principal("alice", Role.producer),
        pm.id,
        changes={
            "summary": "Labels stopped for an hour.",
            "root_causes": "The click joiner's credentials expired.",
            "resolution": "Rotated them.",
            "action_items": [{"title": "Alert on expiry", "owner": "sre", "priority": "P1"}],
        },
    )
    sessions.commit()
    assert runner.invoke(app, ["postmortem", "submit", str(pm.id)]).exit_code == 0
    published = runner.invoke(app, ["postmortem", "publish", str(pm.id)])
    assert published.exit_code == 0 and "is published" in published.output
    shown = runner.invoke(app, ["postmortem", "show", str(incident_id), "--json"])
    assert shown.exit_code == 0 and '"status": "published"' in shown.output

    out = tmp_path / "pm.md"
    exported = runner.invoke(app, ["postmortem", "markdown", str(pm.id), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    text = out.read_text()
    assert text.startswith("# Postmortem: labels stopped") and "## Root causes" in text
    assert "/runbooks/stale-feed)" in text

    listed = runner.invoke(app, ["action-items", "list", "--status", "open"])
    assert listed.exit_code == 0 and "P1  open" in listed.output and "1 of 1 items" in listed.output
    item_id = listed.output.split()[0]
    done = runner.invoke(app, ["action-items", "set-status", item_id, "done"])
    assert done.exit_code == 0, done.output
    assert "0 of 0 items" in runner.invoke(app, ["action-items", "list", "--status", "open"]).output
    bad = runner.invoke(app, ["action-items", "set-status", item_id, "closed"])
    assert bad.exit_code == 2 and "must be one of" in bad.output
    assert runner.invoke(app, ["postmortem", "show", "nope"]).exit_code == 2
