"""Run scenarios over seeds: build the template once, play every seed on its own clone, and
summarize each scenario as distributions. Used by the CLI, the worker and the benchmark."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from core.settings import Settings
from simulations.catalog import SCENARIOS, Scenario
from simulations.measure import RunResult, summarize
from simulations.runner import run_seed
from simulations.world import Template, build_template

log = logging.getLogger("driftgate.simulations")

Progress = Callable[[str, int, RunResult | None], None]


def resolve(names: list[str], params: dict[str, Any] | None = None) -> list[Scenario]:
    """The scenarios named (`catalog` for all), with the caller's parameter overrides."""
    wanted = list(SCENARIOS) if names == ["catalog"] else names
    unknown = [n for n in wanted if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
    return [SCENARIOS[n].with_params(params) for n in wanted]


def default_jobs() -> int:
    """Seed runs at once: one per core (a run is one Python process and its server backend)."""
    return max(1, os.cpu_count() or 1)


def run_suite(
    server_url: str,
    settings: Settings,
    scenarios: list[Scenario],
    seeds: int,
    *,
    jobs: int = 1,
    echo: Callable[[str], None] = lambda _: None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every seed of every scenario on a fresh clone of one template; the results document.

    With `jobs` > 1 the seed runs play in that many child processes at once (each run owns its
    clone, data directory and simulated clock, so runs share nothing but the template); the
    results come back in catalog order whatever order they finish in."""
    started = time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="driftgate-sim-"))
    template = build_template(server_url, data_dir, settings, echo=echo)
    build_seconds = time.perf_counter() - started
    # the control injects nothing, so a seed changes nothing (no injection hour, no ticks
    # around a fault): it is deterministic and runs once
    plays = [
        (scenario, seed)
        for scenario in scenarios
        for seed in range(1 if scenario.detection == "none" else seeds)
    ]
    results: dict[tuple[str, int], RunResult] = {}
    try:
        for (scenario, seed), result in _play_all(template, plays, settings, jobs, progress):
            results[(scenario.name, seed)] = result
    finally:
        template.drop()
        shutil.rmtree(data_dir, ignore_errors=True)
    rows, runs = [], []
    for scenario in scenarios:
        done = [r.to_json() for (name, _), r in sorted(results.items()) if name == scenario.name]
        rows.append(summarize(scenario.name, scenario.detection, done))
        runs += done
    return {
        "seeds": seeds,
        "jobs": jobs,
        "scenarios": rows,
        "runs": runs,
        "catalog": {s.name: _declared(s) for s in scenarios},
        "template_seconds": round(build_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


Play = tuple[Scenario, int]


def _play_all(
    template: Template,
    plays: list[Play],
    settings: Settings,
    jobs: int,
    progress: Progress | None,
) -> Iterator[tuple[Play, RunResult]]:
    """Each (scenario, seed) run, here in order when `jobs` is 1, else in child processes
    (spawned: the parent holds torch and database pools, which do not survive a fork)."""
    if jobs <= 1 or len(plays) <= 1:
        for scenario, seed in plays:
            if progress:
                progress(scenario.name, seed, None)
            result = _run_or_record(template, scenario, seed, settings)
            if progress:
                progress(scenario.name, seed, result)
            yield (scenario, seed), result
        return
    # the longest runs first, so the last minutes are not one long run on one core
    ordered = sorted(plays, key=lambda p: -_expected_cost(p[0]))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures: dict[Future[RunResult], Play] = {}
        for scenario, seed in ordered:
            if progress:
                progress(scenario.name, seed, None)
            futures[pool.submit(_run_or_record, template, scenario, seed, settings)] = (
                scenario,
                seed,
            )
        for future in as_completed(futures):
            scenario, seed = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the child died (killed, out of memory)
                result = _failed(scenario, seed, exc)
            if progress:
                progress(scenario.name, seed, result)
            yield (scenario, seed), result


def _expected_cost(scenario: Scenario) -> float:
    """Rough seconds of one run, from the last catalog's wall times: ~0.3 s per simulated hour
    of batches, ~3 s per hour of the fault (monitor ticks every few minutes), and ~0.13 s per
    ranked request of an hour (POST /rank, its delayed labels, quality windows)."""
    hours = scenario.baseline_hours + scenario.duration_hours + scenario.recovery_hours
    return 0.3 * hours + 3.0 * (scenario.duration_hours + 1) + 0.13 * scenario.rank_per_hour * hours


def _run_or_record(
    template: Template, scenario: Scenario, seed: int, settings: Settings
) -> RunResult:
    """One seed run; one that breaks is a result with its error, not the end of the suite."""
    try:
        return run_seed(template, scenario, seed, settings)
    except Exception as exc:
        log.exception("%s seed %d failed", scenario.name, seed)
        return _failed(scenario, seed, exc)


def _failed(scenario: Scenario, seed: int, exc: BaseException) -> RunResult:
    failed = RunResult(scenario.name, seed, scenario.detection)
    failed.notes.append(f"run failed: {type(exc).__name__}: {str(exc)[:500]}")
    return failed


def _declared(s: Scenario) -> dict[str, Any]:
    return {
        "title": s.title,
        "detection": s.detection,
        "runbook": s.runbook,
        "baseline_hours": s.baseline_hours,
        "duration_hours": s.duration_hours,
        "magnitude": s.magnitude,
        "recovery_hours": s.recovery_hours,
        "requests_per_hour": s.requests_per_hour,
        "rank_per_hour": s.rank_per_hour,
        "delay_hours": s.delay_hours,
        "why_delay": s.why_delay,
    }
