"""Incident-simulation runs asked for through the API: queue one, read them, and the worker's
side (claim the oldest queued run, store its results or its error).

The runner itself lives in the top-level `simulations` package, which drives the whole app;
this module only keeps the record (queries in `simulation_runs_repository.py`), so the API can
validate and queue without importing it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.errors import InvalidInput, NotFound
from core.schemas import RequestModel, ResponseModel
from incidents import simulation_runs_repository as repository
from incidents.models import SimulationRun
from incidents.scenarios import CATALOG, MAX_SEEDS, SCENARIO_NAMES, ScenarioParams

OBJECT_TYPE = "simulation_run"


class SimulationRunNotFound(NotFound):
    type_slug = "simulation-run-not-found"


class UnknownScenario(InvalidInput):
    title = "Unknown scenario"
    type_slug = "unknown-scenario"


class SimulationCreate(RequestModel):
    scenario: str = Field(
        min_length=1,
        max_length=60,
        description=f"A scenario of the catalog ({', '.join(SCENARIO_NAMES)}) or `catalog`.",
    )
    seeds: int = Field(default=3, ge=1, le=MAX_SEEDS, description="Seeds per scenario.")
    params: ScenarioParams = Field(
        default_factory=ScenarioParams, description="Overrides of the scenario's parameters."
    )


class SimulationRunRead(ResponseModel):
    id: uuid.UUID = Field(description="Run id.")
    scenario: str = Field(description="Scenario name, or `catalog`.")
    seeds: int = Field(description="Seeds per scenario.")
    params: dict[str, Any] = Field(description="Parameter overrides.")
    status: str = Field(description="queued, running, succeeded or failed.")
    requested_at: datetime = Field(description="When it was asked for.")
    requested_by: str = Field(description="Who asked.")
    started_at: datetime | None = Field(default=None, description="When the worker took it.")
    finished_at: datetime | None = Field(default=None, description="When it ended.")
    results: dict[str, Any] | None = Field(
        default=None, description="Per-scenario distributions and every seed's figures."
    )
    error: str | None = Field(default=None, description="Why it failed.")


class SimulationRunPage(ResponseModel):
    total: int = Field(description="Runs in all.")
    items: list[SimulationRunRead] = Field(description="Runs, newest first.")


def queue_run(session: Session, actor: Principal, *, body: SimulationCreate) -> SimulationRun:
    """Record a run for the worker (refusing a scenario the catalog does not have)."""
    if body.scenario != CATALOG and body.scenario not in SCENARIO_NAMES:
        raise UnknownScenario(
            f"unknown scenario {body.scenario!r}; known: {', '.join(SCENARIO_NAMES)} or "
            f"{CATALOG!r}",
            field="scenario",
            rule="known_scenario",
        )
    run = SimulationRun(
        id=uuid.uuid4(),
        scenario=body.scenario,
        seeds=body.seeds,
        params=body.params.model_dump(exclude_none=True),
        status="queued",
        requested_at=utcnow(),
        requested_by=actor.name,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="simulation.queue",
        object_type=OBJECT_TYPE,
        object_id=str(run.id),
        after={"scenario": run.scenario, "seeds": run.seeds, "params": run.params},
    )
    return run


def get_run(session: Session, run_id: uuid.UUID) -> SimulationRun:
    run = repository.get_run(session, run_id)
    if run is None:
        raise SimulationRunNotFound(f"no simulation run {run_id}", field="run_id", rule="exists")
    return run


def list_runs(session: Session, *, limit: int, offset: int) -> tuple[int, list[SimulationRun]]:
    return repository.page(session, limit, offset)


def claim_next(session: Session) -> SimulationRun | None:
    """The oldest queued run, now `running` (the worker commits this before running it)."""
    run = repository.oldest_queued(session)
    if run is not None:
        run.status, run.started_at = "running", utcnow()
        session.flush()
    return run


def finish_run(
    session: Session,
    run_id: uuid.UUID,
    *,
    results: dict[str, Any] | None = None,
    error: str | None = None,
    at: datetime | None = None,
) -> SimulationRun:
    """Store a run's results (succeeded) or its error (failed), with an audit event."""
    run = repository.get_run(session, run_id, for_update=True)
    if run is None:
        raise SimulationRunNotFound(f"no simulation run {run_id}", field="run_id", rule="exists")
    run.status = "failed" if error is not None else "succeeded"
    run.results, run.error, run.finished_at = results, error, at or utcnow()
    session.flush()
    audit.record(
        session,
        actor="simulation-worker",
        action=f"simulation.{run.status}",
        object_type=OBJECT_TYPE,
        object_id=str(run.id),
        after={"status": run.status, "error": error},
    )
    return run
