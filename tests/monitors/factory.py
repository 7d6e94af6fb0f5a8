"""Builders for monitor tests: a monitored contract, synthetic batches, a simulated clock."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from checks.models import Batch
from checks.service import IncomingBatch, submit_batch
from contracts.service import register_contract
from contracts.spec import ContractSpec
from core.auth import CLI_OPERATOR, Principal, Role
from core.clock import SimulatedClock, get_clock, set_clock

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
PRODUCER = Principal(name="test-producer", role=Role.producer)
CATS = ["a", "b", "c", "d", "e"]
CAT_MIX = np.array([0.4, 0.25, 0.15, 0.12, 0.08])


def events_contract(**monitoring: Any) -> dict[str, Any]:
    """A contract with numbers, categories, a boolean and a served score."""
    doc: dict[str, Any] = {
        "id": "events",
        "version": "1.0.0",
        "owner": "ml-platform",
        "dataset": {"namespace": "shop", "name": "events"},
        "fields": [
            {"name": "event_id", "type": "string", "required": True},
            {"name": "x", "type": "float"},
            {"name": "y", "type": "float"},
            {"name": "n", "type": "integer", "min": 0},
            {"name": "cat", "type": "category"},
            {"name": "flag", "type": "boolean"},
            {"name": "score", "type": "float", "min": 0, "max": 1},
            {"name": "at", "type": "timestamp"},
        ],
        "dataset_rules": [{"kind": "row_count", "min": 1}],
        "freshness": {"field": "at", "max_lag": "PT2H"},
    }
    if monitoring:
        doc["monitoring"] = monitoring
    return doc


def register(db: Session, doc: dict[str, Any] | None = None) -> ContractSpec:
    spec = ContractSpec.model_validate(doc or events_contract())
    register_contract(db, CLI_OPERATOR, spec=spec)
    db.flush()
    return spec


def frame(
    n: int,
    *,
    seed: int,
    shift: float = 0.0,
    cat_mix: np.ndarray | None = None,
    at: datetime | None = None,
    start_id: int = 0,
) -> pl.DataFrame:
    """`shift` moves x by that many standard deviations and the score up; `cat_mix` the cats."""
    rng = np.random.default_rng(seed)
    mix = CAT_MIX if cat_mix is None else cat_mix
    moment = at or START
    return pl.DataFrame(
        {
            "event_id": [f"e{start_id + i}" for i in range(n)],
            "x": rng.normal(10 + 2 * shift, 2, n),
            "y": rng.lognormal(1, 0.5, n),
            "n": rng.poisson(5, n),
            "cat": rng.choice(CATS, n, p=mix / mix.sum()),
            "flag": rng.random(n) < 0.3,
            "score": np.clip(rng.beta(2 + 4 * shift, 5, n), 0, 1),
            "at": [moment] * n,
        }
    )


def post(db: Session, data: pl.DataFrame, data_dir: Path, contract_id: str = "events") -> Batch:
    """Submit a batch through the real checks service (validation, profile, Parquet files)."""
    buf = io.BytesIO()
    data.write_parquet(buf)
    body = buf.getvalue()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"incoming-{hashlib.sha256(body).hexdigest()[:16]}.parquet"
    path.write_bytes(body)
    sub = submit_batch(
        db,
        PRODUCER,
        contract_id=contract_id,
        version=None,
        body=IncomingBatch(path, hashlib.sha256(body).hexdigest(), len(body), "parquet"),
        data_dir=data_dir,
    )
    path.unlink()
    db.flush()
    return sub.batch


@contextmanager
def simulated(start: datetime = START) -> Iterator[SimulatedClock]:
    previous = get_clock()
    clock = SimulatedClock(start)
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def hourly(
    db: Session,
    clock: SimulatedClock,
    data_dir: Path,
    hours: int,
    *,
    rows: int = 500,
    seed: int = 0,
    **shape: Any,
) -> list[Batch]:
    """One batch per hour (posted 10 minutes into the hour), advancing the clock."""
    batches = []
    for h in range(hours):
        clock.advance(timedelta(minutes=10))
        batches.append(
            post(
                db, frame(rows, seed=seed + h, at=clock.now(), start_id=h * rows, **shape), data_dir
            )
        )
        clock.advance(timedelta(minutes=50))
    return batches


def since(clock: SimulatedClock, hours: float) -> datetime:
    return clock.now() - timedelta(hours=hours)


def batch_row(
    db: Session,
    received_at: datetime,
    status: str = "passed",
    *,
    contract_id: str = "events",
    newest_event_at: datetime | None = None,
) -> Batch:
    """A batch row without files: enough for SLO events (status, arrival, freshness)."""
    import uuid

    batch = Batch(
        id=uuid.uuid4(),
        contract_id=contract_id,
        contract_version="1.0.0",
        status=status,
        rows_received=1,
        rows_accepted=0 if status == "rejected" else 1,
        rows_quarantined=1 if status == "rejected" else 0,
        format="parquet",
        body_bytes=1,
        body_sha256="0" * 64,
        received_at=received_at,
        newest_event_at=newest_event_at,
        submitted_by="test",
        accepted_path="",
        accepted_sha256="",
        quarantine_path="",
        quarantine_sha256="",
        validation_ms=0,
    )
    db.add(batch)
    return batch
