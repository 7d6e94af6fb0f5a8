"""Injections: the batches a producer posts during a scenario, with the fault inside its window.

Data faults reuse the synthetic feed's own incident knobs (`ranker.feed_config`): the feed is
delivered twice, clean and with the knob set, and each batch whose hour falls inside the
fault window is taken from the faulty delivery. So a fault starts and stops, and the hours
around it are exactly the clean feed. Replays and promotions are actions, not data, and the
runner performs them (`duplicate_replay`, `bad_promotion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ranker.feed import FeedBatch, deliver
from ranker.feed_config import (
    ConceptDrift,
    CovariateShift,
    FeedConfig,
    LabelOutage,
    NullSpike,
    SchemaChange,
    StaleFeed,
    UnitChange,
)
from simulations.catalog import Scenario
from simulations.world import feed_config

ABSENCES = ("label_outage", "stale_feed")


@dataclass(frozen=True)
class Plan:
    """What one seed run posts, and when its fault starts and stops (simulated times)."""

    start: datetime
    end: datetime
    injected_at: datetime | None  # first bad event (None: nothing is injected)
    fault_end: datetime | None
    batches: list[tuple[FeedBatch, bool]]  # (batch, carries the fault), in delivery order
    clean: FeedConfig
    faulty: FeedConfig  # the world /rank traffic is drawn from

    fault: str = ""

    @property
    def first_bad_arrival(self) -> datetime | None:
        """When the first batch carrying the fault arrived (None when the fault is data that
        does not arrive: an outage or a stale feed is seen by its absence)."""
        if self.fault in ABSENCES:
            return None
        return next((b.delivered_at for b, bad in self.batches if bad), None)


def knob(scenario: Scenario, at_hours: float) -> dict[str, Any]:
    """The feed knob that injects `scenario`'s fault from `at_hours` (hours after origin)."""
    o, m, d = scenario.options, scenario.magnitude, scenario.duration_hours
    match scenario.fault:
        case "schema_change":
            return {"schema_change": SchemaChange(at_hours=at_hours, kind=o["kind"])}
        case "null_spike":
            return {
                "null_spike": NullSpike(at_hours=at_hours, hours=d, field=o["field"], fraction=m)
            }
        case "unit_change":
            return {"unit_change": UnitChange(at_hours=at_hours, field=o["field"])}
        case "new_categories":
            shift = CovariateShift(at_hours=at_hours, new_categories=int(m), new_category_share=1.0)
            return {"covariate_shift": shift}
        case "covariate_shift":
            mix = {"IN": 4.0 * m, "BR": 3.0 * m, "US": 1.0}
            shift = CovariateShift(at_hours=at_hours, country_mix=mix, device_mix={"web": 1.0})
            return {"covariate_shift": shift}
        case "concept_drift":
            return {"concept_drift": ConceptDrift(at_hours=at_hours, strength=min(m, 1.0))}
        case "label_outage":
            return {"label_outage": LabelOutage(at_hours=at_hours, hours=d)}
        case "stale_feed":
            return {"stale_feed": StaleFeed(at_hours=at_hours, lag_hours=m)}
    return {}


def plan(scenario: Scenario, *, origin: datetime, history_end: datetime, seed: int) -> Plan:
    """The batches of one seed run of `scenario`, starting where the template's history ends."""
    start_h = int((history_end - origin) / timedelta(hours=1))
    inject_h = start_h + int(scenario.baseline_hours) + seed % 3
    if scenario.fault == "none":
        end_h = start_h + int(scenario.baseline_hours)
    else:  # the seed's offset (up to 2 h) comes out of the baseline's side, not the recovery's
        tail = max(1, round(scenario.duration_hours)) + scenario.recovery_hours
        end_h = inject_h + int(tail)
    traffic = {"requests_per_hour": scenario.requests_per_hour}
    clean = feed_config(**traffic)
    faulty = feed_config(**traffic, **knob(scenario, inject_h))
    window = _fault_window(scenario, inject_h)
    start, end = origin + timedelta(hours=start_h), origin + timedelta(hours=end_h)
    if faulty == clean:
        batches = [(b, False) for b in deliver(clean, origin, start_h, end_h)]
    else:
        batches = _mixed(clean, faulty, origin, start_h, end_h, window)
    injected = scenario.fault != "none"
    return Plan(
        start=start,
        end=end,
        injected_at=origin + timedelta(hours=inject_h) if injected else None,
        fault_end=origin + timedelta(hours=window[1]) if injected else None,
        batches=batches,
        clean=clean,
        faulty=faulty,
        fault=scenario.fault,
    )


def _fault_window(scenario: Scenario, inject_h: int) -> tuple[int, int]:
    """Hours [lo, hi) whose batches carry the fault (an outage's backlog lands at `hi`)."""
    hi = inject_h + max(1, round(scenario.duration_hours))
    return inject_h, hi + (1 if scenario.fault == "label_outage" else 0)


def _differs(batch: FeedBatch, clean: FeedBatch | None) -> bool:
    if clean is None or batch.delivered_at != clean.delivered_at:
        return True
    return not batch.frame.equals(clean.frame)


def _mixed(
    clean: FeedConfig,
    faulty: FeedConfig,
    origin: datetime,
    start_h: int,
    end_h: int,
    window: tuple[int, int],
) -> list[tuple[FeedBatch, bool]]:
    lo, hi = window
    good = {(b.contract_id, b.hour): b for b in deliver(clean, origin, start_h, end_h)}
    bad = {(b.contract_id, b.hour): b for b in deliver(faulty, origin, start_h, end_h)}
    out: list[tuple[FeedBatch, bool]] = []
    for key in sorted(set(good) | set(bad), key=lambda k: (k[1], k[0])):
        in_window = lo <= key[1] < hi
        batch = bad.get(key) if in_window else good.get(key)
        if batch is not None:
            out.append((batch, in_window and _differs(batch, good.get(key))))
    out.sort(key=lambda x: (x[0].delivered_at, x[0].contract_id))
    return out
