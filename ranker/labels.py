"""Delayed labels joined to the prediction log in Postgres, set-based, in one statement.

A label names a prediction by id, or by its request id and item. Labels that match no logged
prediction are reported back with their position, never dropped silently; a label older than
the one already stored for a prediction does not overwrite it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.clock import utcnow
from ranker.errors import LabelInFuture
from ranker.schemas import LabelIn

MAX_CLOCK_SKEW = timedelta(minutes=5)

_JOIN_SQL = text(
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


@dataclass
class LabelReport:
    received: int
    joined: int
    written: int
    stale: int
    unknown: list[dict[str, Any]] = field(default_factory=list)


def _bounds(label: LabelIn) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    if label.request_id is None:
        return None, None
    base = label.request_id.int & ~0xFFF  # a request's predictions share its upper 116 bits
    return uuid.UUID(int=base), uuid.UUID(int=base | 0xFFF)


def record_labels(session: Session, actor: Principal, *, labels: list[LabelIn]) -> LabelReport:
    """Join the labels to logged predictions, store them, and report the ones that match none."""
    now = utcnow()
    for i, label in enumerate(labels):
        if label.label_time > now + MAX_CLOCK_SKEW:
            raise LabelInFuture(
                f"labels[{i}].label_time {label.label_time.isoformat()} is in the future",
                field=f"labels[{i}].label_time",
                rule="not_in_future",
            )
    bounds = [_bounds(label) for label in labels]
    row = session.execute(
        _JOIN_SQL,
        {
            "idx": list(range(len(labels))),
            "pid": [label.prediction_id for label in labels],
            "lo": [b[0] for b in bounds],
            "hi": [b[1] for b in bounds],
            "item": [label.item_id for label in labels],
            "clicked": [label.clicked for label in labels],
            "dwell": [label.dwell_ms for label in labels],
            "label_time": [label.label_time for label in labels],
            "now": now,
            "actor": actor.name,
        },
    ).one()
    unknown = [
        {
            "index": i,
            "prediction_id": labels[i].prediction_id,
            "request_id": labels[i].request_id,
            "item_id": labels[i].item_id,
            "reason": "no logged prediction with this id"
            if labels[i].prediction_id
            else "no logged prediction for this request and item",
        }
        for i in row.unknown
    ]
    report = LabelReport(
        received=len(labels),
        joined=int(row.joined),
        written=int(row.written),
        stale=int(row.distinct_joined) - int(row.written),
        unknown=unknown,
    )
    audit.record(
        session,
        actor=actor.name,
        action="labels.record",
        object_type="prediction_labels",
        object_id=f"{now.isoformat()}",
        after={
            "received": report.received,
            "joined": report.joined,
            "written": report.written,
            "stale": report.stale,
            "unknown": len(unknown),
        },
    )
    return report
