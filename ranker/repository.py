"""Every query of the ranker domain: feed batches to train on, feed runs, predictions, labels."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, or_, select, text
from sqlalchemy.orm import Session

from checks.models import Batch
from ranker.models import FeedRun, Prediction, PredictionLabel


def feed_batches(
    session: Session, contract_id: str, *, start: datetime, end: datetime
) -> list[Batch]:
    """Non-rejected batches of a contract that may hold rows in [start, end) and had arrived
    by `end` (data that arrived later did not exist at training time)."""
    stmt = (
        select(Batch)
        .where(
            Batch.contract_id == contract_id,
            Batch.status != "rejected",
            Batch.rows_accepted > 0,
            Batch.received_at <= end,
            or_(Batch.newest_event_at.is_(None), Batch.newest_event_at >= start),
        )
        .order_by(Batch.received_at, Batch.id)
    )
    return list(session.scalars(stmt))


def newest_feed_batch_at(
    session: Session, contract_ids: Sequence[str], *, until: datetime
) -> datetime | None:
    """When the newest non-rejected batch with accepted rows of these contracts arrived, among
    those that had arrived by `until` (None when there is none)."""
    stmt = select(func.max(Batch.received_at)).where(
        Batch.contract_id.in_(list(contract_ids)),
        Batch.status != "rejected",
        Batch.rows_accepted > 0,
        Batch.received_at <= until,
    )
    return session.execute(stmt).scalar_one_or_none()


def batches_by_id(session: Session, ids: Sequence[uuid.UUID]) -> list[Batch]:
    if not ids:
        return []
    return list(session.scalars(select(Batch).where(Batch.id.in_(ids)).order_by(Batch.received_at)))


def feed_runs_overlapping(session: Session, *, start: datetime, end: datetime) -> list[FeedRun]:
    stmt = (
        select(FeedRun)
        .where(FeedRun.window_start < end, FeedRun.window_end > start)
        .order_by(FeedRun.created_at)
    )
    return list(session.scalars(stmt))


def get_prediction(session: Session, prediction_id: uuid.UUID) -> Prediction | None:
    return session.get(Prediction, prediction_id)


def get_label(session: Session, prediction_id: uuid.UUID) -> PredictionLabel | None:
    return session.get(PredictionLabel, prediction_id)


def prediction_counts(session: Session, model_name: str) -> tuple[int, int]:
    """Predictions logged for a model, and how many have a label."""
    row = session.execute(
        select(func.count(Prediction.prediction_id), func.count(PredictionLabel.prediction_id))
        .select_from(Prediction)
        .outerjoin(PredictionLabel, PredictionLabel.prediction_id == Prediction.prediction_id)
        .where(Prediction.model_name == model_name)
    ).one()
    return int(row[0]), int(row[1])


def latest_feed_run(session: Session) -> FeedRun | None:
    return session.scalar(select(FeedRun).order_by(FeedRun.window_end.desc()).limit(1))


# Labels name a prediction by id or by (request, item); a request's predictions share the
# request id's upper 116 bits, so "by request" is an id range [lo, hi] plus the item.
_STORE_LABELS = text(
    """
    WITH incoming AS (
        SELECT * FROM unnest(
            CAST(:idx AS int[]), CAST(:pid AS uuid[]), CAST(:lo AS uuid[]), CAST(:hi AS uuid[]),
            CAST(:item AS text[]), CAST(:clicked AS bool[]), CAST(:dwell AS float8[]),
            CAST(:label_time AS timestamptz[])
        ) AS t(idx, prediction_id, lo, hi, item_id, clicked, dwell_ms, label_time)
    ), resolved AS (
        SELECT i.*, COALESCE(by_id.prediction_id, by_item.prediction_id) AS pid
        FROM incoming i
        LEFT JOIN predictions by_id ON by_id.prediction_id = i.prediction_id
        LEFT JOIN predictions by_item
            ON i.prediction_id IS NULL
           AND by_item.prediction_id BETWEEN i.lo AND i.hi
           AND by_item.item_id = i.item_id
    ), written AS (
        INSERT INTO prediction_labels
            (prediction_id, clicked, dwell_ms, label_time, received_at, received_by)
        SELECT DISTINCT ON (pid) pid, clicked, dwell_ms, label_time, :now, :actor
        FROM resolved WHERE pid IS NOT NULL
        ORDER BY pid, label_time DESC, idx DESC
        ON CONFLICT (prediction_id) DO UPDATE
            SET clicked = EXCLUDED.clicked, dwell_ms = EXCLUDED.dwell_ms,
                label_time = EXCLUDED.label_time, received_at = EXCLUDED.received_at,
                received_by = EXCLUDED.received_by
            WHERE prediction_labels.label_time <= EXCLUDED.label_time
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM written) AS written,
           (SELECT count(*) FROM resolved WHERE pid IS NOT NULL) AS joined,
           (SELECT count(DISTINCT pid) FROM resolved WHERE pid IS NOT NULL) AS distinct_joined,
           ARRAY(SELECT idx FROM resolved WHERE pid IS NULL ORDER BY idx) AS unknown
    """
)


def store_labels(
    session: Session,
    *,
    prediction_ids: Sequence[uuid.UUID | None],
    request_ranges: Sequence[tuple[uuid.UUID | None, uuid.UUID | None]],
    item_ids: Sequence[str | None],
    clicked: Sequence[bool],
    dwell_ms: Sequence[float | None],
    label_times: Sequence[datetime],
    received_at: datetime,
    received_by: str,
) -> Row[Any]:
    """Join labels to logged predictions and upsert the newest per prediction, one statement.

    A label older than the one stored for its prediction does not overwrite it. The row holds
    `written`, `joined`, `distinct_joined` and `unknown` (positions that matched nothing).
    """
    return session.execute(
        _STORE_LABELS,
        {
            "idx": list(range(len(label_times))),
            "pid": list(prediction_ids),
            "lo": [r[0] for r in request_ranges],
            "hi": [r[1] for r in request_ranges],
            "item": list(item_ids),
            "clicked": list(clicked),
            "dwell": list(dwell_ms),
            "label_time": list(label_times),
            "now": received_at,
            "actor": received_by,
        },
    ).one()


# --- reads for monitors: the prediction log joined to its delayed labels --------------------

_SERVED = text(
    """
SELECT (floor(extract(epoch FROM p.served_at) * 1000000))::bigint AS served_us,
       hashtextextended(p.request_id::text, 0) >> 12 AS request_code,  -- exact in a float64
       p.score, p.model_version,
       CASE WHEN l.clicked IS NULL THEN -1 WHEN l.clicked THEN 1 ELSE 0 END AS label
FROM predictions p LEFT JOIN prediction_labels l ON l.prediction_id = p.prediction_id
WHERE p.model_name = :model AND p.served_at >= :start AND p.served_at < :end
"""
)


def served_predictions(
    session: Session, model_name: str, start: datetime, end: datetime
) -> list[Row[Any]]:
    """Predictions served in [start, end) as (served µs, request code, score, model version,
    label: -1 none yet, 0 no click, 1 click) rows of numbers."""
    return list(session.execute(_SERVED, {"model": model_name, "start": start, "end": end}).all())


SEGMENTS = ("surface", "device", "country")  # the request context a prediction is logged with
_SERVED_WITH_SEGMENT = {
    segment: text(
        _SERVED.text.replace("ELSE 0 END AS label", f"ELSE 0 END AS label, p.{segment}", 1)
    )
    for segment in SEGMENTS
}


def served_predictions_with_segment(
    session: Session, model_name: str, start: datetime, end: datetime, segment: str
) -> list[Row[Any]]:
    """`served_predictions` rows with the prediction's `segment` value appended (or None)."""
    params = {"model": model_name, "start": start, "end": end}
    return list(session.execute(_SERVED_WITH_SEGMENT[segment], params).all())


def first_served_at(session: Session, model_name: str, version: int) -> datetime | None:
    """When a model version served its first prediction."""
    stmt = select(func.min(Prediction.served_at)).where(
        Prediction.model_name == model_name, Prediction.model_version == version
    )
    return session.scalar(stmt)


def models_served_since(session: Session, since: datetime) -> list[str]:
    """Names of the models that served a prediction at or after `since`."""
    stmt = select(Prediction.model_name).where(Prediction.served_at >= since).distinct()
    return sorted(session.scalars(stmt))


_LABEL_FACTS = text(
    """
SELECT count(*) AS predictions, count(l.prediction_id) AS labeled,
       count(*) FILTER (WHERE l.clicked) AS positives, max(l.received_at) AS last_label_at
FROM predictions p LEFT JOIN prediction_labels l ON l.prediction_id = p.prediction_id
WHERE p.model_name = :model AND p.model_version = :v
  AND p.served_at >= :start AND p.served_at < :end
"""
)


def label_facts(
    session: Session, model_name: str, version: int, start: datetime, end: datetime
) -> Row[Any]:
    """A version's predictions served in [start, end): how many, how many labelled, clicked,
    and the newest label's arrival (`predictions`, `labeled`, `positives`, `last_label_at`)."""
    params = {"model": model_name, "v": version, "start": start, "end": end}
    return session.execute(_LABEL_FACTS, params).one()


# A fixed hash of the prediction id keeps the sample the same on every call for one window.
_LABELLED_SAMPLE = text(
    """
SELECT p.score, l.clicked::int
FROM predictions p JOIN prediction_labels l ON l.prediction_id = p.prediction_id
WHERE p.model_name = :model AND p.model_version = :v
  AND p.served_at >= :start AND p.served_at < :end
  AND (hashtextextended(p.prediction_id::text, 7) & 1023) < :keep
"""
)


def labelled_scores_sample(
    session: Session, model_name: str, version: int, start: datetime, end: datetime, keep: int
) -> list[Row[Any]]:
    """(score, clicked 0/1) of a version's labelled predictions served in [start, end), about
    `keep` in 1024 of them, the same ones on every call."""
    params = {"model": model_name, "v": version, "start": start, "end": end, "keep": keep}
    return list(session.execute(_LABELLED_SAMPLE, params).all())


def label_arrivals(session: Session) -> tuple[int, datetime | None]:
    """How many labels there are and the newest arrival: changes whenever a label arrives."""
    row = session.execute(
        select(func.count(), func.max(PredictionLabel.received_at)).select_from(PredictionLabel)
    ).one()
    return int(row[0]), row[1]


def scores_served_since(
    session: Session, model_name: str, version: int, since: datetime, *, limit: int
) -> list[float]:
    """The first `limit` scores a model version served at or after `since`, in serving order."""
    stmt = (
        select(Prediction.score)
        .where(
            Prediction.model_name == model_name,
            Prediction.model_version == version,
            Prediction.served_at >= since,
        )
        .order_by(Prediction.served_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))
