"""The scenario catalog, declared as data: what breaks, when, how badly, for how long, and how
the service is expected to notice.

Times are hours of simulated traffic after the template's history ends. A seed moves the
injection by up to two hours (`seed % 3`), so each seed meets different traffic and a
different phase of the monitor's ticks; the per-hour traffic itself is the feed's own seeded
stream. `detection` says what the targets expect:

- `cycle`: a data fault the contracts or the drift monitor see in the first bad batch, so
  detection within one monitor cycle of that batch's arrival;
- `delay`: visible only after a delay the scenario states (a freshness SLA, label maturity);
- `bake`: a promotion the bake guard should roll back within its bake window;
- `absorbed`: the service absorbs it by design (no alert is the right outcome);
- `none`: the clean control; every alert it raises is a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from incidents.scenarios import SCENARIO_NAMES, ScenarioParams

Detection = Literal["cycle", "delay", "bake", "absorbed", "none"]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    fault: str  # the injection in `faults.py`
    detection: Detection
    runbook: str | None
    baseline_hours: float = 2.0
    duration_hours: float = 2.0
    magnitude: float = 1.0
    recovery_hours: float = 2.0
    requests_per_hour: float = 200.0
    # POST /rank traffic (requests per simulated hour) with delayed POST /labels; 0 = none
    rank_per_hour: float = 0.0
    # the delay before which detection is impossible, and why (for `delay` scenarios)
    delay_hours: float = 0.0
    why_delay: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def with_params(self, params: ScenarioParams | dict[str, Any] | None) -> Scenario:
        """This scenario with the caller's overrides (validated by `ScenarioParams`)."""
        parsed = ScenarioParams.model_validate(params or {})
        changes = {k: v for k, v in parsed.model_dump().items() if v is not None}
        return replace(self, **changes)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "schema_break",
            "the impressions producer drops the `country` column",
            "schema_change",
            "cycle",
            "bad-batch-schema-break",
            options={"kind": "drop_country"},
        ),
        Scenario(
            "null_spike",
            "30% of impressions arrive with a null `country`",
            "null_spike",
            "cycle",
            "null-spike",
            magnitude=0.3,
            options={"field": "country"},
        ),
        Scenario(
            "unit_change",
            "`item_length_s` is sent in milliseconds (x1000)",
            "unit_change",
            "cycle",
            "unit-change",
            options={"field": "item_length_s"},
        ),
        Scenario(
            "new_categories",
            "items of 4 unseen categories take over new uploads",
            "new_categories",
            "cycle",
            "new-categories",
            magnitude=4,
            duration_hours=3.0,
        ),
        Scenario(
            "covariate_drift",
            "active users move to IN/BR on the web",
            "covariate_shift",
            "cycle",
            "covariate-drift",
            duration_hours=3.0,
        ),
        Scenario(
            "concept_drift",
            "users' tastes change; features do not",
            "concept_drift",
            "delay",
            "concept-drift-quality-burn",
            baseline_hours=1.0,
            duration_hours=8.0,
            recovery_hours=0.0,
            magnitude=1.0,
            rank_per_hour=90.0,
            delay_hours=6.0,
            why_delay="an hour's realized AUC needs its unclicked impressions' labels, which "
            "arrive when the 6 h attribution window closes; the realized-AUC SLO counts the hour "
            "when its AUC becomes known and pages on that run",
        ),
        Scenario(
            "label_outage",
            "click labels stop arriving, then land as a backlog",
            "label_outage",
            "delay",
            "label-outage",
            duration_hours=4.0,
            delay_hours=2.0,
            why_delay="the labels contract's freshness SLA allows 2 h of lag",
        ),
        Scenario(
            "stale_feed",
            "impression batches arrive 4 h late",
            "stale_feed",
            "delay",
            "stale-feed",
            duration_hours=3.0,
            magnitude=4.0,
            delay_hours=2.0,
            why_delay="the impressions contract's freshness SLA allows 2 h of lag",
        ),
        Scenario(
            "duplicate_replay",
            "the producer retries the last 3 hours' batches",
            "duplicate_replay",
            "absorbed",
            None,
            magnitude=3.0,
            duration_hours=1.0,
        ),
        Scenario(
            "bad_promotion",
            "a worse ranker is approved and promoted",
            "bad_promotion",
            "bake",
            "bad-promotion-rollback",
            baseline_hours=1.0,
            duration_hours=2.0,
            recovery_hours=1.0,
            rank_per_hour=120.0,
        ),
        Scenario(
            "clean_control",
            "7 days of clean traffic",
            "none",
            "none",
            None,
            baseline_hours=24 * 7,
            duration_hours=0.0,
            recovery_hours=0.0,
        ),
    ]
}
assert tuple(SCENARIOS) == SCENARIO_NAMES, "incidents.scenarios names the same catalog"
