"""Scenarios end to end on real PostgreSQL: the runner drives the real app on a simulated
clock in a clone of the simulation world, and the measurements must show detection, no row
lost, an incident and its drafted postmortem."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.settings import Settings
from simulations.catalog import SCENARIOS
from simulations.runner import run_seed
from simulations.world import Template

pytestmark = pytest.mark.slow
SHORT = {"baseline_hours": 1, "duration_hours": 1, "recovery_hours": 1}
CYCLE = 60.0  # seconds: the monitor runs one cycle after each arrival


@pytest.mark.parametrize("name", ["null_spike", "unit_change", "schema_break"])
def test_a_data_fault_pages_within_one_cycle_of_its_first_bad_batch_and_loses_no_row(
    name: str, sim_template: Template, sim_settings: Settings
) -> None:
    r = run_seed(sim_template, SCENARIOS[name].with_params(SHORT), 1, sim_settings)
    assert r.injected_at is not None and r.first_bad_arrival is not None
    assert r.detected, r.notes
    assert r.detect_after_ingest is not None and 0 <= r.detect_after_ingest <= CYCLE
    assert r.first_alert == "impressions-pass-rate/page"
    assert r.rows_posted > 0 and r.rows_quarantined > 0 and r.rows_lost == 0
    # the contract held the bad rows back the moment they arrived
    assert (r.mitigated_by, r.mitigated_at) == ("quarantine", r.first_bad_arrival)
    assert r.false_alarms == []
    # the service opened an incident from the page; the on-call closed it after the fix
    assert [i["source"] for i in r.incidents] == ["alert"], r.incidents
    assert r.incidents[0]["status"] == "closed"
    assert r.mttr is not None and r.mttd is not None and r.mttr > r.mttd
    assert r.postmortem.get("status") == "drafted", r.postmortem
    assert r.postmortem["metrics"]["rows_lost"] == 0


def test_a_promoted_worse_ranker_is_rolled_back_within_the_bake_window(
    sim_template: Template, sim_settings: Settings
) -> None:
    scenario = SCENARIOS["bad_promotion"].with_params({"duration_hours": 2, "recovery_hours": 0})
    r = run_seed(sim_template, scenario, 0, sim_settings)
    assert r.rank_requests > 0
    assert len(r.rollbacks) == 1, r.notes
    assert r.rollbacks[0]["to"] == sim_template.champion
    assert r.mttd is not None and 0 < r.mttd <= timedelta(hours=2).total_seconds()
    assert r.mitigated_by == "rollback"
    assert "bake_guard" in {i["source"] for i in r.incidents}, r.incidents
    assert r.rows_lost == 0


def test_a_clean_day_pages_nobody_and_lists_every_ticket(
    sim_template: Template, sim_settings: Settings
) -> None:
    r = run_seed(
        sim_template,
        SCENARIOS["clean_control"].with_params({"baseline_hours": 24}),
        0,
        sim_settings,
    )
    pages = [a for a in r.alerts if a["severity"] == "page" and a["fired_at"]]
    for alert in r.false_alarms:
        print(f"clean-day alert: {alert['slo']} {alert['severity']} {alert['summary']}")
    assert pages == []
    assert r.rows_lost == 0 and r.rows_quarantined == 0
    assert r.batches.get("passed", 0) + r.batches.get("warned", 0) >= 2 * 23
