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

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.clock import utcnow
from ranker import repository
from ranker.errors import LabelInFuture
from ranker.schemas import LabelIn

MAX_CLOCK_SKEW = timedelta(minutes=5)


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
    row = repository.store_labels(
        session,
        prediction_ids=[label.prediction_id for label in labels],
        request_ranges=[_bounds(label) for label in labels],
        item_ids=[label.item_id for label in labels],
        clicked=[label.clicked for label in labels],
        dwell_ms=[label.dwell_ms for label in labels],
        label_times=[label.label_time for label in labels],
        received_at=now,
        received_by=actor.name,
    )
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
