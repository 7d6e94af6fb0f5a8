"""Run scenarios over seeds: build the template once, play every seed on its own clone, and
summarize each scenario as distributions. Used by the CLI, the worker and the benchmark."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
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


def run_suite(
    server_url: str,
    settings: Settings,
    scenarios: list[Scenario],
    seeds: int,
    *,
    echo: Callable[[str], None] = lambda _: None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every seed of every scenario on a fresh clone of one template; the results document."""
    started = time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="driftgate-sim-"))
    template = build_template(server_url, data_dir, settings, echo=echo)
    build_seconds = time.perf_counter() - started
    rows, runs = [], []
    try:
        for scenario in scenarios:
            done = []
            # the control injects nothing, so a seed changes nothing (no injection hour, no
            # ticks around a fault): it is deterministic and runs once
            for seed in range(1 if scenario.detection == "none" else seeds):
                if progress:
                    progress(scenario.name, seed, None)
                result = _run_or_record(template, scenario, seed, settings)
                done.append(result.to_json())
                if progress:
                    progress(scenario.name, seed, result)
            rows.append(summarize(scenario.name, scenario.detection, done))
            runs += done
    finally:
        template.drop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "seeds": seeds,
        "scenarios": rows,
        "runs": runs,
        "catalog": {s.name: _declared(s) for s in scenarios},
        "template_seconds": round(build_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def _run_or_record(
    template: Template, scenario: Scenario, seed: int, settings: Settings
) -> RunResult:
    """One seed run; one that breaks is a result with its error, not the end of the suite."""
    try:
        return run_seed(template, scenario, seed, settings)
    except Exception as exc:
        log.exception("%s seed %d failed", scenario.name, seed)
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
