"""HTTP routes of incident-simulation runs (admin): queue one, list them, read one."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from core.http import Admin, DbSession
from incidents import simulation_runs as runs
from incidents.simulation_runs import SimulationCreate, SimulationRunPage, SimulationRunRead

router = APIRouter(tags=["simulations"])
RunId = Annotated[uuid.UUID, Path(description="Simulation run id.")]


@router.post("/simulations", response_model=SimulationRunRead, status_code=status.HTTP_202_ACCEPTED)
def queue_simulation(session: DbSession, actor: Admin, body: SimulationCreate) -> Any:
    """Queue an incident simulation; the background worker runs it and stores its results."""
    return runs.queue_run(session, actor, body=body)


@router.get("/simulations", response_model=SimulationRunPage)
def list_simulations(
    session: DbSession,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many.")] = 0,
) -> dict[str, Any]:
    """Simulation runs, newest first."""
    total, items = runs.list_runs(session, limit=limit, offset=offset)
    return {"total": total, "items": items}


@router.get("/simulations/{run_id}", response_model=SimulationRunRead)
def get_simulation(session: DbSession, _: Admin, run_id: RunId) -> Any:
    """One simulation run, with its results once it finished."""
    return runs.get_run(session, run_id)
