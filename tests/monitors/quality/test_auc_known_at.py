"""The quality runner stamps when each window's realized AUC became known (and turned mature),
never moves the stamps on recomputation, and concept drift pages once its labels land."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.clock import SimulatedClock
from core.settings import Settings
from monitors.quality.models import ModelQualityWindow
from monitors.quality.service import record_recent
from monitors.slos.alerts import reconcile
from monitors.slos.service import create_slo, evaluate_slo, get_slo
from ranker.models import PredictionLabel
from tests.monitors.factory import simulated
from tests.monitors.quality.test_quality import log_hour

HOUR = timedelta(hours=1)


def _window(db: Session, start: datetime) -> ModelQualityWindow:
    db.expire_all()
    return db.scalars(
        select(ModelQualityWindow).where(ModelQualityWindow.window_start == start)
    ).one()


def test_auc_known_at_is_the_first_run_with_an_auc_and_recomputation_never_moves_it(
    db: Session, settings: Settings
) -> None:
    with simulated() as clock:
        hour = clock.now()
        late = log_hour(db, hour, seed=7, label_share=0.3)
        clock.advance(timedelta(hours=1, minutes=5))
        record_recent(db, settings=settings)
        before = _window(db, hour)
        assert before.status == "insufficient_labels"
        assert (before.auc_known_at, before.mature_at) == (None, None)

        clock.advance(timedelta(hours=5))
        db.execute(insert(PredictionLabel), late)  # the unclicked impressions' labels land
        known = clock.now()
        record_recent(db, settings=settings)
        first = _window(db, hour)
        assert first.status == "provisional" and first.auc is not None
        assert (first.auc_known_at, first.mature_at) == (known, None)

        clock.advance(timedelta(hours=2))
        record_recent(db, settings=settings)
        again = _window(db, hour)
        assert again.computed_at == clock.now()  # recomputed...
        assert again.auc_known_at == known  # ...but counted where it first became known

        clock.advance(timedelta(days=1))
        mature = clock.now()
        record_recent(db, settings=settings)
        clock.advance(HOUR)
        record_recent(db, settings=settings)
        last = _window(db, hour)
    assert last.status == "mature"
    assert (last.auc_known_at, last.mature_at) == (known, mature)


def _auc_slo(db: Session) -> None:
    create_slo(
        db,
        CLI_OPERATOR,
        data={
            "id": "ranker-auc",
            "name": "ranker realized AUC",
            "kind": "realized_auc",
            "contract_id": None,
            "objective": 0.95,
            "params": {"threshold": 0.7},
            "period": "P30D",
            "time_scale": 1.0,
            "min_events": 0,
            "pending_seconds": 0.0,
            "runbook_url": None,
            "enabled": True,
        },
    )


def _cycle(db: Session, clock: SimulatedClock, settings: Settings) -> list[tuple[str, str]]:
    """One monitor run: quality windows, then the SLO; its page changes (from, to)."""
    db.flush()
    record_recent(db, settings=settings)
    slo = get_slo(db, "ranker-auc")
    changes = reconcile(db, slo, evaluate_slo(db, slo), settings=settings)
    db.flush()
    return [(str(before), after) for a, before, after in changes if a.severity == "page"]


def test_concept_drift_pages_on_the_run_its_first_bad_windows_labels_land_and_holds(
    db: Session, settings: Settings
) -> None:
    """Hours 0-3 healthy, 4-6 drifted, 7-8 healthy; every hour's labels land 6 h after it
    ends (the attribution window); the runner runs every 15 minutes."""
    drifted = {4, 5, 6}
    with simulated() as clock:
        _auc_slo(db)
        origin = clock.now()
        pending: dict[int, list[dict[str, object]]] = {}
        pages: list[tuple[datetime, str, str]] = []
        for step in range(17 * 4):
            now = origin + step * timedelta(minutes=15)
            clock.advance(now - clock.now())
            h = step // 4
            if step % 4 == 0 and h < 9:  # serve hour h
                pending[h] = log_hour(
                    db,
                    now,
                    seed=300 + h,
                    requests=60,
                    label_share=0.0,
                    concept_drift=0.95 if h in drifted else 0.0,
                )
            for served, labels in list(pending.items()):
                if now >= origin + (served + 7) * HOUR:  # 6 h after the hour ended
                    db.execute(insert(PredictionLabel), labels)
                    del pending[served]
            pages += [(now, *c) for c in _cycle(db, clock, settings)]
        aucs: dict[datetime, float] = {
            w.window_start: w.auc
            for w in db.scalars(select(ModelQualityWindow))
            if w.auc is not None
        }
    assert all((aucs[origin + h * HOUR] < 0.65) == (h in drifted) for h in range(9))
    first_bad_known = origin + (4 + 7) * HOUR
    first_good_known_again = origin + (7 + 7) * HOUR
    # paged on the very run that learnt the first drifted hour, fired once, resolved once
    assert pages == [
        (first_bad_known, "None", "pending"),
        (first_bad_known, "pending", "firing"),
        (first_good_known_again, "firing", "resolved"),
    ]


def test_migration_stamps_existing_windows_at_their_end_so_history_moves_no_event(
    committed_db: str,
) -> None:
    from alembic import command

    from core.migrate import alembic_config

    cfg = alembic_config(committed_db)
    command.downgrade(cfg, "7c1e5a9d2b40")
    libpq = make_url(committed_db).set(drivername="postgresql").render_as_string(False)
    rows = [
        ("mature", 0.8, "2026-11-01 10:00+00"),
        ("provisional", 0.6, "2026-11-02 10:00+00"),
        ("insufficient_labels", None, "2026-11-02 11:00+00"),
    ]
    with psycopg.connect(libpq, autocommit=True) as conn:
        for status, auc, end in rows:
            conn.execute(
                "INSERT INTO model_quality_windows (model_name, model_versions, window_start, "
                "window_end, status, predictions, labeled, coverage, auc, metrics, computed_at) "
                "VALUES ('ranker', '[1]', %s::timestamptz - interval '1 hour', %s, %s, 10, 10, "
                "1.0, %s, '{}', now())",
                (end, end, status, auc),
            )
    command.upgrade(cfg, "heads")
    with psycopg.connect(libpq) as conn:
        stamped = conn.execute(
            "SELECT status, auc_known_at = window_end, mature_at = window_end "
            "FROM model_quality_windows ORDER BY window_end"
        ).fetchall()
    assert stamped == [
        ("mature", True, True),
        ("provisional", True, None),
        ("insufficient_labels", None, None),
    ]
