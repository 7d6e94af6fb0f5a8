"""The catalog as data, the fault plans built from the feed's knobs, and the statistics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from incidents.scenarios import SCENARIO_NAMES
from simulations.catalog import SCENARIOS
from simulations.faults import plan
from simulations.measure import RunResult, distribution
from simulations.world import ORIGIN, TRAIN_DAYS

END = ORIGIN + timedelta(days=TRAIN_DAYS)


def test_the_api_layer_and_the_runner_name_the_same_scenarios() -> None:
    assert tuple(SCENARIOS) == SCENARIO_NAMES
    assert {s.detection for s in SCENARIOS.values()} <= {
        "cycle",
        "delay",
        "bake",
        "absorbed",
        "none",
    }
    for s in SCENARIOS.values():
        assert (s.detection == "delay") == bool(s.why_delay), s.name


def test_parameters_override_the_declared_ones_and_unknown_ones_are_refused() -> None:
    base = SCENARIOS["null_spike"]
    changed = base.with_params({"magnitude": 0.5, "duration_hours": 1})
    assert (changed.magnitude, changed.duration_hours) == (0.5, 1)
    assert changed.baseline_hours == base.baseline_hours
    with pytest.raises(ValidationError):
        base.with_params({"magnitude": -1})
    with pytest.raises(ValidationError):
        base.with_params({"speed": 3})


@pytest.mark.parametrize("seed", [2])
def test_a_null_spike_plan_marks_only_the_impressions_inside_its_window(seed: int) -> None:
    scenario = SCENARIOS["null_spike"].with_params({"duration_hours": 2})
    p = plan(scenario, origin=ORIGIN, history_end=END, seed=seed)
    assert p.start == END
    assert p.injected_at == END + timedelta(hours=scenario.baseline_hours + seed % 3)
    assert p.fault_end == p.injected_at + timedelta(hours=2)
    bad = [b for b, is_bad in p.batches if is_bad]
    assert {b.contract_id for b in bad} == {"impressions"} and len(bad) == 2
    assert p.first_bad_arrival == p.injected_at + timedelta(hours=1)  # the hour's batch closes
    for b in bad:
        assert b.frame["country"].null_count() / b.frame.height == pytest.approx(0.3, abs=0.05)
    clean = [b for b, is_bad in p.batches if not is_bad and b.contract_id == "impressions"]
    assert clean and all(b.frame["country"].null_count() == 0 for b in clean)


def test_a_label_outage_posts_no_labels_during_it_and_the_backlog_after() -> None:
    scenario = SCENARIOS["label_outage"]
    p = plan(scenario, origin=ORIGIN, history_end=END, seed=0)
    assert p.injected_at is not None and p.fault_end is not None
    labels = [(b, bad) for b, bad in p.batches if b.contract_id == "labels"]
    during = [b for b, _ in labels if p.injected_at < b.delivered_at < p.fault_end]
    assert during == []
    backlog = [b for b, bad in labels if bad]
    assert len(backlog) == 1 and backlog[0].frame.height > max(
        b.frame.height for b, bad in labels if not bad
    )


@pytest.mark.slow
def test_the_clean_control_injects_nothing_for_a_week() -> None:
    p = plan(SCENARIOS["clean_control"], origin=ORIGIN, history_end=END, seed=3)
    assert p.injected_at is None and not any(bad for _, bad in p.batches)
    assert p.end - p.start == timedelta(days=7)


def test_distribution_reports_median_p90_min_max_and_ignores_missing_values() -> None:
    d = distribution([60.0, None, 120.0, 180.0, 600.0])
    assert d == {"n": 4, "median": 150.0, "p90": pytest.approx(474.0), "min": 60.0, "max": 600.0}
    assert distribution([None])["median"] is None


def test_rows_lost_counts_what_is_neither_accepted_quarantined_nor_replayed() -> None:
    r = RunResult("x", 0, "cycle", rows_posted=100, rows_accepted=70, rows_quarantined=20)
    r.rows_replayed = 5
    assert r.rows_lost == 5
    r.injected_at = END
    r.first_alert_at = END + timedelta(minutes=61)
    assert r.mttd == 61 * 60 and r.detected
