"""The pure drafting rules: where each duration starts and ends, rows lost, budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents.postmortems import drafting
from incidents.postmortems.drafting import Entry, IncidentFacts

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _incident(**changes: object) -> IncidentFacts:
    base: dict[str, object] = {
        "id": "i",
        "title": "t",
        "source": "alert",
        "severity": "critical",
        "opened_at": _at(600),
    }
    return IncidentFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_durations_start_at_the_first_bad_batch_entry_without_first_bad_at() -> None:
    entries = [
        Entry(_at(60), "first_bad_batch", "m", "bad"),
        Entry(_at(300), "alert_firing", "m", "fired"),
        Entry(_at(60), "quarantine", "m", "held back"),
    ]
    t = drafting.times(_incident(stable_at=_at(900), closed_at=_at(3600)), entries)
    assert t["started_at"] == _at(60)
    assert t["time_to_detect_seconds"] == 240.0  # the alert came before the opening
    assert t["time_to_mitigate_seconds"] == 0.0  # bad rows quarantined at intake
    assert t["time_to_resolve_seconds"] == 3540.0


def test_without_bad_data_or_alert_the_opening_is_both_start_and_detection() -> None:
    t = drafting.times(_incident(), [Entry(_at(1200), "rollback", "guard", "rolled back")])
    assert (t["time_to_detect_seconds"], t["time_to_mitigate_seconds"]) == (0.0, 600.0)
    assert t["time_to_resolve_seconds"] is None


def test_rows_lost_is_what_neither_accepted_nor_quarantined_holds() -> None:
    now = T0
    batches = [
        {
            "batch_id": "a",
            "received_at": now,
            "rows_received": 10,
            "rows_accepted": 8,
            "rows_quarantined": 2,
        },
        {
            "batch_id": "b",
            "received_at": now,
            "rows_received": 7,
            "rows_accepted": 3,
            "rows_quarantined": 1,
        },
    ]
    assert drafting.rows(batches) == {
        "rows_posted": 17,
        "rows_accepted": 11,
        "rows_quarantined": 3,
        "rows_lost": 3,
    }


def test_error_budget_is_null_while_an_alert_still_fires() -> None:
    fired = Entry(_at(0), "alert_firing", "m", "f", {"slo_id": "a", "budget_remaining": 0.9})
    resolved = Entry(_at(9), "alert_resolved", "m", "r", {"slo_id": "a", "budget_remaining": 0.7})
    other = Entry(_at(5), "alert_firing", "m", "f", {"slo_id": "b", "budget_remaining": 0.5})
    total, per_slo = drafting.error_budget([fired, resolved])
    assert total == pytest.approx(0.2) and per_slo[0]["consumed"] == pytest.approx(0.2)
    total, per_slo = drafting.error_budget([fired, other, resolved])
    assert total is None and [s["consumed"] for s in per_slo] == [pytest.approx(0.2), None]
    m = drafting.metrics(_incident(), [fired, other], [], {})
    assert m["error_budget_consumed"] is None
    assert set(m["missing"]) == {
        "error_budget_consumed",
        "predictions_affected",
        "time_to_resolve_seconds",
        "time_to_mitigate_seconds",
    }


def test_runbooks_and_model_versions_come_from_the_incident_and_its_alerts() -> None:
    incident = _incident(
        source="bake_guard",
        model_name="ranker",
        model_version=4,
        affected={"model_versions": ["ranker:3", "ranker:4", "bad"]},
    )
    entries = [
        Entry(_at(1), "alert_firing", "m", "f", {"slo_kind": "freshness", "evidence": {}}),
        Entry(_at(2), "alert_firing", "m", "f", {"slo_kind": "realized_auc"}),
    ]
    assert drafting.runbooks(incident, entries) == [
        "bad-promotion-rollback",
        "stale-feed",
        "concept-drift-quality-burn",
    ]
    assert drafting.model_versions(incident) == [("ranker", 3), ("ranker", 4)]
