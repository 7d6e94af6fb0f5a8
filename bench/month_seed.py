"""A month of traffic on top of the dashboard's demo seed: the `--scale month` world.

30 days of one `impressions` batch a minute (43,200 batches) and 100k served predictions of
the champion with delayed labels. Submitting 43k batches over HTTP or one by one through
`checks.service.submit_batch` would take most of an hour on a shared machine, so this writes
what the checks service stores for each batch in bulk: a `batches` row and one real
`checks.profile.profile_frame` profile per monitored field (profiles of a pool of generated
frames, cycled, the last hour drifted), with COPY. Everything read from them afterwards is
built the way the product builds it: the drift rollups by the runner's bounded
`refresh_rollups`, predictions by the prediction logger's `write_frame`, labels by
`ranker.labels.record_labels`, and one `monitors.runner.run_once` at the end; then
VACUUM ANALYZE, as autovacuum would have by the time a real month had passed.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from tests.dashboard.live_api import impressions

CONTRACT_ID = "impressions"
ROWS_PER_BATCH = 1_000
ITEMS_PER_REQUEST = 10


def seed_month(
    database_url: str,
    settings: Any,
    *,
    champion: int,
    days: int = 30,
    predictions: int = 100_000,
    pool: int = 48,
) -> dict[str, float]:
    """Add the month to a seeded database; returns seconds per step."""
    from sqlalchemy import create_engine

    from core.db import make_session_factory

    engine = create_engine(database_url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    took: dict[str, float] = {}
    try:
        for step, run in (
            ("batches", lambda: _batches(sessions, now, days * 24 * 60, pool)),
            ("rollups", lambda: _rollups(sessions, settings)),
            ("predictions", lambda: _predictions(sessions, now, days, predictions, champion)),
            ("monitor run", lambda: _monitor_run(sessions, settings)),
            ("vacuum analyze", lambda: _vacuum(engine)),
        ):
            started = time.perf_counter()
            run()
            took[step] = time.perf_counter() - started
    finally:
        engine.dispose()
    return took


def _batches(sessions: Any, now: datetime, minutes: int, pool: int) -> None:
    from sqlalchemy import insert

    from checks.models import Batch
    from checks.profile import profile_frame
    from contracts.service import get_contract, resolve_version, spec_of
    from core.db import unit_of_work
    from core.jsonsafe import jsonsafe

    with unit_of_work(sessions) as s:
        get_contract(s, CONTRACT_ID)
        version = resolve_version(s, CONTRACT_ID, None)
        spec, version_name = spec_of(version), version.version
    docs = [
        [
            (k, json.dumps(jsonsafe(v)))
            for k, v in profile_frame(
                impressions(ROWS_PER_BATCH, seed=1_000 + i, now=now, drifted=drift), spec
            ).items()
        ]
        for drift in (False, True)
        for i in range(pool if not drift else 4)
    ]
    normal, drifted = docs[:pool], docs[pool:]
    rng = np.random.default_rng(30)
    statuses = rng.choice(["passed", "warned", "quarantined"], minutes, p=[0.97, 0.02, 0.01])
    rows = [
        _batch_row(version_name, now - timedelta(minutes=minutes - m, seconds=-5), str(status))
        for m, status in enumerate(statuses)
    ]
    with unit_of_work(sessions) as s:
        for start in range(0, len(rows), 5_000):
            s.execute(insert(Batch.__table__), rows[start : start + 5_000])
        raw = s.connection().connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy("COPY column_profiles (batch_id, field, profile) FROM STDIN") as copy,
        ):
            for m, row in enumerate(rows):
                source = drifted[m % len(drifted)] if m >= minutes - 60 else normal[m % pool]
                for name, doc in source:
                    copy.write_row((row["id"], name, doc))


def _batch_row(version: str, at: datetime, status: str) -> dict[str, Any]:
    held = ROWS_PER_BATCH // 20 if status == "quarantined" else 0
    return {
        "id": uuid.uuid4(),
        "contract_id": CONTRACT_ID,
        "contract_version": version,
        "status": status,
        "rows_received": ROWS_PER_BATCH,
        "rows_accepted": ROWS_PER_BATCH - held,
        "rows_quarantined": held,
        "format": "parquet",
        "body_bytes": 1,
        "body_sha256": "0" * 64,
        "received_at": at,
        "newest_event_at": at - timedelta(seconds=30),
        "submitted_by": "month-seed",
        "accepted_path": "",
        "accepted_sha256": "",
        "quarantine_path": "",
        "quarantine_sha256": "",
        "validation_ms": 0,
    }


def _rollups(sessions: Any, settings: Any) -> None:
    """The runner's bounded rollup refresh, one transaction per run, until nothing is left."""
    from core.db import unit_of_work
    from monitors.drift.service import refresh_rollups

    for _ in range(10_000):
        with unit_of_work(sessions) as s:
            if refresh_rollups(s, contract_id=CONTRACT_ID, settings=settings).left == 0:
                return


def _predictions(sessions: Any, now: datetime, days: int, predictions: int, version: int) -> None:
    """Requests of ten items spread over the month, served by the champion, written by the
    prediction logger's bulk path; then labels for those older than a day."""
    from ranker.prediction_rows import ServedRequest, to_frame
    from ranker.predlog import new_request_id, write_frame

    rng = np.random.default_rng(31)
    n = predictions // ITEMS_PER_REQUEST
    offsets = np.sort(rng.uniform(0, days * 86_400 - 60, n))
    start = now - timedelta(days=days)
    requests = []
    positions = np.arange(ITEMS_PER_REQUEST, dtype=np.float32).reshape(-1, 1)
    for offset in offsets:
        requests.append(
            ServedRequest(
                request_id=new_request_id(),
                served_at=start + timedelta(seconds=float(offset)),
                model_name="ranker",
                model_version=version,
                user_id=f"u{int(rng.integers(0, 5_000))}",
                item_ids=[f"i{v}" for v in rng.integers(0, 3_000, ITEMS_PER_REQUEST)],
                scores=np.sort(rng.beta(2, 5, ITEMS_PER_REQUEST))[::-1].astype(np.float32),
                features=positions,
                surface=str(rng.choice(["feed", "profile"])),
                device=str(rng.choice(["ios", "android", "web"])),
                country=str(rng.choice(["US", "GB", "DE"])),
                hour=(start + timedelta(seconds=float(offset))).hour,
            )
        )
    frame = to_frame(requests)
    recorded: set[Any] = set()
    for chunk in frame.iter_slices(20_000):
        recorded |= write_frame(sessions, chunk, recorded=recorded)
    _labels(sessions, frame, now)


def _labels(sessions: Any, frame: Any, now: datetime) -> None:
    """A click label for every prediction served more than a day ago (delayed by minutes)."""
    import polars as pl

    from core.auth import Principal, Role
    from core.db import unit_of_work
    from ranker.labels import record_labels
    from ranker.schemas import LabelIn

    due = frame.filter(pl.col("served_at") < now - timedelta(days=1))
    rng = np.random.default_rng(32)
    clicked = rng.random(due.height) < (0.3 - 0.02 * due["position"].to_numpy())
    delay = rng.uniform(60, 3_600, due.height)
    ids = [uuid.UUID(bytes=b) for b in due["prediction_id"].to_list()]
    labels = [
        LabelIn(
            prediction_id=pid,
            clicked=bool(c),
            label_time=served + timedelta(seconds=float(d)),
        )
        for pid, c, served, d in zip(ids, clicked, due["served_at"].to_list(), delay, strict=True)
    ]
    actor = Principal("label-feed", Role.producer)
    for start in range(0, len(labels), 20_000):
        with unit_of_work(sessions) as s:
            record_labels(s, actor, labels=labels[start : start + 20_000])


def _monitor_run(sessions: Any, settings: Any) -> None:
    from monitors.runner import run_once

    report = run_once(sessions, settings=settings)
    if report.errors:
        raise RuntimeError(f"monitor run: {report.errors}")


def _vacuum(engine: Any) -> None:
    """What autovacuum would long have done on a month-old database: otherwise it runs on the
    freshly loaded tables while the pages are timed, and the planner has no statistics."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
