"""Every query of simulation runs (`incidents.simulation_runs` keeps the rules)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.models import SimulationRun


def get_run(
    session: Session, run_id: uuid.UUID, *, for_update: bool = False
) -> SimulationRun | None:
    query = select(SimulationRun).where(SimulationRun.id == run_id)
    return session.scalar(query.with_for_update() if for_update else query)


def page(session: Session, limit: int, offset: int) -> tuple[int, list[SimulationRun]]:
    """How many runs there are, and one page of them, newest first."""
    total = session.scalar(select(func.count()).select_from(SimulationRun)) or 0
    rows = session.scalars(
        select(SimulationRun)
        .order_by(SimulationRun.requested_at.desc(), SimulationRun.id)
        .limit(limit)
        .offset(offset)
    )
    return total, list(rows)


def oldest_queued(session: Session) -> SimulationRun | None:
    """Locked, skipping runs another worker holds, so two workers never take the same run."""
    return session.scalar(
        select(SimulationRun)
        .where(SimulationRun.status == "queued")
        .order_by(SimulationRun.requested_at, SimulationRun.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
