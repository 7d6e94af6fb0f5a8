"""One seed run of one scenario: a clone of the template, the real app in-process on a
simulated clock, the plan's batches posted at their delivery times, /rank traffic with its
delayed labels where the scenario has any, the monitor runner one cycle after each batch and
on a regular tick, the bake guard, and the simulated on-call acting on incidents.

Events are played in time order; the clock only moves forward. Everything the run measures
is read back through the API at the end (alerts, SLO budgets, incidents), so the figures are
what an operator would see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from core.settings import Settings
from simulations.catalog import Scenario
from simulations.driver import Driver
from simulations.faults import Plan, plan
from simulations.measure import RunResult
from simulations.oncall import OnCall
from simulations.promotion import promote_worse_candidate
from simulations.world import Template, clock_at, cloned, run_data_dir

TICK = timedelta(minutes=15)
HOURLY = timedelta(hours=1)
LABEL_EVERY = timedelta(minutes=5)

# event kinds, in the order they are played when simultaneous
BATCH, RANK, LABELS, MONITOR, ACTION = range(5)


def run_settings(base: Settings, data_dir: Path, *, serving: bool) -> Settings:
    """The app's settings for a run: no background threads (the runner calls them at
    simulated moments), the run's own data directory, the production reference minimums."""
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "monitor_runner": False,
            "governance_bake_guard": False,
            "audit_checkpointer": False,
            "ranker_serving": serving,
            "ranker_poll_seconds": 0.05,
            "monitor_backfill_windows": 2,
            # hour windows whose labels can still change: the 6 h attribution window and some
            "monitor_quality_backfill": 10,
            "predlog_flush_seconds": 0.05,
        }
    )


def run_seed(template: Template, scenario: Scenario, seed: int, settings: Settings) -> RunResult:
    """Play `scenario` with `seed` on a fresh clone of `template`; the measurements."""
    started = time.perf_counter()
    the_plan = plan(scenario, origin=template.origin, history_end=template.end, seed=seed)
    result = RunResult(
        scenario.name,
        seed,
        scenario.detection,
        injected_at=the_plan.injected_at,
        first_bad_arrival=the_plan.first_bad_arrival,
        fault_end=the_plan.fault_end,
    )
    serving = scenario.rank_per_hour > 0
    with cloned(template) as world, run_data_dir(template) as data_dir:
        app_settings = run_settings(settings, data_dir, serving=serving)
        with clock_at(the_plan.start) as clock, _app(app_settings, world.url) as client:
            driver = Driver(client, template.tokens, clock, world.sessions, app_settings, result)
            if serving:
                _wait_serving(driver)
            budgets_before = driver.slo_budgets()
            oncall = OnCall(driver, result)
            _play(driver, oncall, scenario, the_plan, seed, template)
            _read_back(driver, oncall, result, budgets_before)
    result.wall_seconds = round(time.perf_counter() - started, 2)
    return result


@contextmanager
def _app(settings: Settings, url: str) -> Iterator[TestClient]:
    from api.app import create_app

    app = create_app(settings, database_url=url)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _wait_serving(driver: Driver, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = driver.client.get("/rank/status", headers=driver.as_("producer")).json()
        if status.get("serving"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the champion is not served: {status}")


def _monitor_times(scenario: Scenario, the_plan: Plan, seed: int) -> list[datetime]:
    """When the monitor runner runs: one cycle after each arrival (the moment a bad batch can
    first be judged), every `TICK` while the fault is on and an hour after it (to time
    detection and resolution), and otherwise at least hourly (hours with no arrival too)."""
    cycle = timedelta(seconds=60)
    times = {batch.delivered_at + cycle for batch, _ in the_plan.batches}
    lo, hi = the_plan.injected_at, the_plan.fault_end
    moment = the_plan.start + timedelta(minutes=(seed * 7) % int(TICK.total_seconds() // 60))
    while moment <= the_plan.end:
        if lo is not None and hi is not None and lo <= moment <= hi + HOURLY:
            times.add(moment)
        moment += TICK
    out: list[datetime] = []
    for t in sorted(t for t in times if t <= the_plan.end + cycle):
        while out and t - out[-1] > HOURLY:  # a quiet hour still gets its run
            out.append(out[-1] + HOURLY)
        out.append(t)
    return out


def _schedule(scenario: Scenario, the_plan: Plan, seed: int) -> list[tuple[datetime, int, Any]]:
    """Every event of the run as (when, kind, payload), in play order."""
    events: list[tuple[datetime, int, Any]] = [
        (batch.delivered_at, BATCH, (i, batch, bad))
        for i, (batch, bad) in enumerate(the_plan.batches)
    ]
    events += [(t, MONITOR, None) for t in _monitor_times(scenario, the_plan, seed)]
    if scenario.rank_per_hour > 0:
        rng = np.random.default_rng([seed, 31])
        span = (the_plan.end - the_plan.start).total_seconds()
        n = int(rng.poisson(scenario.rank_per_hour * span / 3600))
        for offset in np.sort(rng.uniform(0, span, n)):
            events.append((the_plan.start + timedelta(seconds=float(offset)), RANK, None))
        moment = the_plan.start
        while moment <= the_plan.end:
            events.append((moment, LABELS, None))
            moment += LABEL_EVERY
    if scenario.fault == "duplicate_replay" and the_plan.injected_at is not None:
        events.append((the_plan.injected_at, ACTION, "replay"))
    if scenario.fault == "bad_promotion" and the_plan.injected_at is not None:
        events.append((the_plan.injected_at, ACTION, "promote"))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _play(
    driver: Driver,
    oncall: OnCall,
    scenario: Scenario,
    the_plan: Plan,
    seed: int,
    template: Template,
) -> None:
    traffic = (
        _traffic(driver, scenario, the_plan, seed, template) if scenario.rank_per_hour else None
    )
    posted: list[tuple[Any, bool]] = []
    for moment, kind, payload in _schedule(scenario, the_plan, seed):
        driver.clock.set(max(driver.clock.now(), moment))
        if kind == BATCH:
            _, batch, bad = payload
            driver.post_batch(batch, bad=bad)
            posted.append((batch, bad))
        elif kind == RANK and traffic is not None:
            traffic._serve(moment)
        elif kind == LABELS and traffic is not None:
            traffic._post_due(moment)
        elif kind == MONITOR:
            transitions = driver.run_monitors()
            if scenario.fault == "bad_promotion":
                oncall.rollbacks(driver.run_bake_guard())
            oncall.after_run(transitions)
        elif payload == "replay":
            _replay(driver, posted, int(scenario.magnitude))
        elif payload == "promote":
            promote_worse_candidate(driver, template)
    if traffic is not None:
        driver.result.rank_requests = traffic.report.requests
        driver.result.labels_posted = traffic.report.labels_posted


def _replay(driver: Driver, posted: list[tuple[Any, bool]], hours: int) -> None:
    """The producer re-sends its last `hours` hours of batches under their first keys."""
    recent = [b for b, _ in posted if b.contract_id == "impressions"][-hours:]
    recent += [b for b, _ in posted if b.contract_id == "labels"][-hours:]
    for batch in recent:
        driver.post_batch(batch, bad=True)


def _traffic(
    driver: Driver, scenario: Scenario, the_plan: Plan, seed: int, template: Template
) -> Any:
    """Synthetic users ranking through POST /rank, their clicks posted later via /labels."""
    from ranker.simulate import TrafficSimulator

    return TrafficSimulator(
        driver.client,
        driver.as_("producer"),
        driver.clock,
        config=the_plan.faulty,
        origin=template.origin,
        candidates=20,
        seed=seed,
    )


def _read_back(
    driver: Driver, oncall: OnCall, result: RunResult, before: dict[str, float | None]
) -> None:
    result.alerts = [
        {
            "slo": a["slo_id"],
            "severity": a["severity"],
            "state": a["state"],
            "fired_at": _dt(a.get("fired_at")),
            "resolved_at": _dt(a.get("resolved_at")),
            "summary": a["summary"],
            "why": _why(a.get("evidence") or {}),
        }
        for a in driver.alerts()
    ]
    after = driver.slo_budgets()
    result.budget_consumed = {
        slo: round(before[slo] - after[slo], 6)  # type: ignore[operator]
        for slo in after
        if before.get(slo) is not None and after.get(slo) is not None
    }
    oncall.finish()


def _why(evidence: dict[str, Any]) -> str:
    """What the alert's evidence names: the drifted fields, or the batches' statuses."""
    fields = sorted({f for w in evidence.get("windows") or [] for f in w.get("fields") or []})
    if fields:
        return "drifted fields: " + ", ".join(fields)
    statuses = sorted({b["status"] for b in evidence.get("batches") or [] if b.get("status")})
    return "batches: " + ", ".join(statuses) if statuses else ""


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


ProgressFn = Callable[[str, int, RunResult], None]
