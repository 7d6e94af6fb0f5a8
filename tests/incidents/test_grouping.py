"""Grouping by lineage: signals on datasets upstream of one model version are one incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from core.settings import Settings
from incidents import intake, service
from incidents.grouping import reach_of
from tests.incidents.builders import lineage_model, page

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _kinds(db: Session, incident_id: object) -> list[str]:
    return [e.kind for e in service.timeline(db, incident_id)]  # type: ignore[arg-type]


def test_reach_adds_the_model_versions_downstream_of_a_dataset(
    db: Session, settings: Settings
) -> None:
    lineage_model(db, ["impressions", "clicks"], version=1)
    lineage_model(db, ["impressions"], model="other", version=4)
    reach = reach_of(db, settings.lineage_namespace, datasets=["clicks"])
    assert reach.model_versions == {"ranker:1"}
    reach = reach_of(db, settings.lineage_namespace, datasets=["impressions"])
    assert reach.model_versions == {"ranker:1", "other:4"}
    # a model-level signal reaches back to the contracts it was trained from
    back = reach_of(db, settings.lineage_namespace, model_name="other")
    assert back.datasets == {"impressions"}


def test_alerts_on_two_datasets_upstream_of_one_model_version_are_one_incident(
    db: Session, settings: Settings
) -> None:
    lineage_model(db, ["impressions", "clicks"])
    first = intake.alert_firing(db, page("impressions", T0, budget=0.7), settings=settings)
    second = intake.alert_firing(db, page("clicks", T0 + timedelta(minutes=20)), settings=settings)
    assert first is not None and second is not None and first.id == second.id
    assert first.datasets == ["clicks", "impressions"]
    assert first.affected["model_versions"] == ["ranker:1"]
    assert len(first.affected["alerts"]) == 2
    assert _kinds(db, first.id) == ["opened", "alert_firing", "grouped", "alert_firing"]
    assert first.severity == "critical" and first.source == "alert"


def test_the_same_alerts_outside_the_window_are_two_incidents(
    db: Session, settings: Settings
) -> None:
    lineage_model(db, ["impressions", "clicks"])
    later = T0 + timedelta(minutes=settings.incident_group_window_minutes + 1)
    first = intake.alert_firing(db, page("impressions", T0), settings=settings)
    second = intake.alert_firing(db, page("clicks", later), settings=settings)
    assert first is not None and second is not None and first.id != second.id
    assert "grouped" not in _kinds(db, first.id)


def test_unrelated_datasets_and_closed_incidents_do_not_group(
    db: Session, settings: Settings
) -> None:
    lineage_model(db, ["impressions"])
    first = intake.alert_firing(db, page("impressions", T0), settings=settings)
    other = intake.alert_firing(db, page("users", T0 + timedelta(minutes=1)), settings=settings)
    assert first is not None and other is not None and first.id != other.id
    service.change_status(db, intake.MONITOR, first.id, status="closed", reason="done")
    again = intake.alert_firing(
        db, page("impressions", T0 + timedelta(minutes=2)), settings=settings
    )
    assert again is not None and again.id not in (first.id, other.id)


def test_a_ticket_joins_an_incident_but_never_opens_one(db: Session, settings: Settings) -> None:
    lineage_model(db, ["impressions", "clicks"])
    assert intake.alert_firing(db, page("clicks", T0, severity="ticket"), settings=settings) is None
    opened = intake.alert_firing(db, page("impressions", T0), settings=settings)
    joined = intake.alert_firing(
        db, page("clicks", T0 + timedelta(minutes=5), severity="ticket"), settings=settings
    )
    assert opened is not None and joined is not None and joined.id == opened.id


def test_a_model_quality_alert_joins_the_data_incident_upstream(
    db: Session, settings: Settings
) -> None:
    lineage_model(db, ["impressions"])
    data = intake.alert_firing(db, page("impressions", T0), settings=settings)
    quality = intake.alert_firing(
        db,
        page(None, T0 + timedelta(minutes=30), kind="realized_auc", model_name="ranker"),
        settings=settings,
    )
    assert data is not None and quality is not None and quality.id == data.id


def test_the_same_firing_twice_lands_once_and_resolving_records_the_budget(
    db: Session, settings: Settings
) -> None:
    signal = page("impressions", T0, budget=0.8)
    incident = intake.alert_firing(db, signal, settings=settings)
    intake.alert_firing(db, signal, settings=settings)
    from dataclasses import replace

    done = replace(signal, at=T0 + timedelta(hours=1), budget_remaining=0.55)
    assert [i.id for i in intake.alert_resolved(db, done)] == [incident.id]  # type: ignore[union-attr]
    assert incident is not None
    entries = service.timeline(db, incident.id)
    assert [e.kind for e in entries] == ["opened", "alert_firing", "alert_resolved"]
    assert entries[1].details["budget_remaining"] == 0.8
    assert entries[2].details["budget_remaining"] == 0.55


def test_a_page_joining_a_lesser_incident_raises_its_severity(
    db: Session, settings: Settings
) -> None:
    opened = service.open_incident(
        db,
        intake.MONITOR,
        title="3 failing batches of impressions",
        severity="major",
        source="batch_failures",
        datasets=["impressions"],
        at=T0,
    )
    joined = intake.alert_firing(
        db, page("impressions", T0 + timedelta(minutes=5)), settings=settings
    )
    assert joined is not None and joined.id == opened.id and joined.severity == "critical"
    kinds = _kinds(db, opened.id)
    assert "grouped" in kinds and "severity_change" in kinds
    # a ticket never lowers it
    intake.alert_firing(
        db, page("impressions", T0 + timedelta(minutes=6), severity="ticket"), settings=settings
    )
    assert joined.severity == "critical"
