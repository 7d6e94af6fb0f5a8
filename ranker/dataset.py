"""The training data of a window: accepted rows of the `impressions` and `labels` contracts.

Reads only what checks accepted (each file verified against its stored sha256), only batches
that had arrived by the end of the window, and keeps a reference to every batch used, so a
model version can name the exact data and contract versions it was trained on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from polars._typing import PolarsDataType
from sqlalchemy.orm import Session

from checks.models import Batch
from checks.service import read_accepted
from core.errors import InvalidInput
from ranker import repository
from ranker.feed import IMPRESSION_COLUMNS, LABEL_COLUMNS

IMPRESSIONS, LABELS = "impressions", "labels"
# Fields every impression needs for the ranker; rows without them (e.g. 1.0.0 producers that
# do not send them) are counted and left out.
RANKER_FIELDS = (
    "event_id",
    "event_time",
    "request_id",
    "user_id",
    "item_id",
    "position",
    "item_category",
    "creator_id",
    "item_created_at",
)


@dataclass
class WindowData:
    impressions: pl.DataFrame
    labels: pl.DataFrame
    batches: list[dict[str, Any]]  # one reference per batch read
    skipped_impressions: int

    def contract_versions(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for ref in self.batches:
            out.setdefault(ref["contract_id"], set()).add(ref["contract_version"])
        return {k: sorted(v) for k, v in sorted(out.items())}


def _ref(batch: Batch, rows: int) -> dict[str, Any]:
    return {
        "batch_id": str(batch.id),
        "contract_id": batch.contract_id,
        "contract_version": batch.contract_version,
        "accepted_sha256": batch.accepted_sha256,
        "rows_used": rows,
    }


def _read(
    batches: list[Batch], columns: list[str], time_col: str, start: datetime, end: datetime
) -> tuple[list[pl.DataFrame], list[dict[str, Any]]]:
    # polars compares a datetime literal with the columns' `UTC` only in that same spelling;
    # moments read from PostgreSQL come back as `Etc/UTC`
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    frames, refs = [], []
    for batch in batches:
        frame = read_accepted(batch)
        present = [c for c in columns if c in frame.columns]
        missing = [pl.lit(None).alias(c) for c in columns if c not in frame.columns]
        frame = frame.select(present).with_columns(missing).select(columns)
        frame = frame.filter(pl.col(time_col).is_between(start, end, closed="left"))
        if frame.height:
            frames.append(frame)
            refs.append(_ref(batch, frame.height))
    return frames, refs


def load_window(session: Session, *, start: datetime, end: datetime) -> WindowData:
    """Accepted impressions shown in [start, end) and labels that arrived in it."""
    imp_frames, imp_refs = _read(
        repository.feed_batches(session, IMPRESSIONS, start=start, end=end),
        IMPRESSION_COLUMNS,
        "event_time",
        start,
        end,
    )
    lab_frames, lab_refs = _read(
        repository.feed_batches(session, LABELS, start=start, end=end),
        LABEL_COLUMNS,
        "label_time",
        start,
        end,
    )
    return assemble(imp_frames, lab_frames, imp_refs + lab_refs)


def load_batches(
    session: Session, refs: list[dict[str, Any]], *, start: datetime, end: datetime
) -> WindowData:
    """Exactly the batches a model version names (their sha256 is checked on read)."""
    by_id = {
        b.id: b for b in repository.batches_by_id(session, [uuid.UUID(r["batch_id"]) for r in refs])
    }
    missing = [r["batch_id"] for r in refs if uuid.UUID(r["batch_id"]) not in by_id]
    if missing:
        raise InvalidInput(
            f"{len(missing)} training batch(es) no longer exist, e.g. {missing[0]}",
            field="training_data",
            rule="batches_exist",
        )
    wanted = [by_id[uuid.UUID(r["batch_id"])] for r in refs]
    imps = [b for b in wanted if b.contract_id == IMPRESSIONS]
    labs = [b for b in wanted if b.contract_id == LABELS]
    imp_frames, imp_refs = _read(imps, IMPRESSION_COLUMNS, "event_time", start, end)
    lab_frames, lab_refs = _read(labs, LABEL_COLUMNS, "label_time", start, end)
    return assemble(imp_frames, lab_frames, imp_refs + lab_refs)


def assemble(
    imp_frames: list[pl.DataFrame], lab_frames: list[pl.DataFrame], refs: list[dict[str, Any]]
) -> WindowData:
    impressions = (
        pl.concat(imp_frames, how="vertical_relaxed")
        if imp_frames
        else pl.DataFrame(schema=_IMPRESSION_SCHEMA)
    ).cast(_IMPRESSION_SCHEMA, strict=False)  # type: ignore[arg-type]
    usable = impressions.filter(pl.all_horizontal(pl.col(RANKER_FIELDS).is_not_null()))
    # A batch posted twice (or an event repeated across batches) counts once.
    usable = usable.unique("event_id", keep="first", maintain_order=True).sort(
        "event_time", "event_id"
    )
    labels = (
        pl.concat(lab_frames, how="vertical_relaxed")
        if lab_frames
        else pl.DataFrame(schema=_LABEL_SCHEMA)
    ).cast(_LABEL_SCHEMA, strict=False)  # type: ignore[arg-type]
    return WindowData(
        impressions=usable,
        labels=labels.filter(pl.col("event_id").is_not_null(), pl.col("label_time").is_not_null()),
        batches=refs,
        skipped_impressions=impressions.height - usable.height,
    )


_TS = pl.Datetime("us", "UTC")
_IMPRESSION_SCHEMA: dict[str, PolarsDataType] = {
    "event_id": pl.String,
    "event_time": _TS,
    "request_id": pl.String,
    "user_id": pl.String,
    "item_id": pl.String,
    "position": pl.Int64,
    "surface": pl.String,
    "country": pl.String,
    "device": pl.String,
    "hour": pl.Int64,
    "score": pl.Float64,
    "item_category": pl.String,
    "creator_id": pl.String,
    "item_created_at": _TS,
    "item_length_s": pl.Float64,
    "user_age_bucket": pl.String,
    "user_signup_days": pl.Int64,
}
_LABEL_SCHEMA: dict[str, PolarsDataType] = {
    "event_id": pl.String,
    "label_time": _TS,
    "clicked": pl.Boolean,
    "dwell_ms": pl.Float64,
}
