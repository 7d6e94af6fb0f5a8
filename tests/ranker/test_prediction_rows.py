"""The prediction log's binary COPY: every column lands in Postgres as served, NULLs included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ranker import prediction_rows as rows
from ranker.predlog import PredictionLogger, new_request_id, prediction_id
from tests.support.trained import Trained

SELECT = text(
    "SELECT prediction_id, request_id, served_at, model_name, model_version, user_id, item_id, "
    "position, score, surface, device, country, hour, features FROM predictions "
    "WHERE request_id = ANY(CAST(:r AS uuid[])) ORDER BY prediction_id"
)


def served(
    n: int,
    *,
    seed: int,
    width: int = 18,
    user: str = "u-ü✓",
    surface: str | None = "feed",
    device: str | None = None,
    country: str | None = "DE",
    version: int = 3,
    at: datetime | None = None,
) -> rows.ServedRequest:
    rng = np.random.default_rng(seed)
    return rows.ServedRequest(
        request_id=new_request_id(),
        served_at=at or datetime(2026, 11, 20, 9, 15, 7, 123456, tzinfo=UTC),
        model_name="ranker",
        model_version=version,
        user_id=user,
        item_ids=[f"item-{seed}-{i}-é" for i in range(n)],
        scores=rng.random(n),
        features=(rng.random((n, width)) * 1000 - 500).astype(np.float32),
        surface=surface,
        device=device,
        country=country,
        hour=9,
    )


def copy(db: Session, frame: pl.DataFrame) -> None:
    raw = db.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(rows.COPY_SQL) as cp:  # type: ignore[union-attr]
        cp.write(rows.COPY_HEADER)
        cp.write(memoryview(rows.copy_rows(frame)))
        cp.write(rows.COPY_TRAILER)


def stored(db: Session, requests: list[rows.ServedRequest]) -> list[dict[str, object]]:
    ids = [str(r.request_id) for r in requests]
    return [dict(r._mapping) for r in db.execute(SELECT, {"r": ids})]


def test_binary_copy_stores_every_column_as_served(db: Session) -> None:
    requests = [
        served(5, seed=1),
        served(1, seed=2, surface=None, device="ios", country=None, user=""),
        served(3, seed=3, width=5, version=4),  # another signature in the same write
    ]
    copy(db, rows.to_frame(requests))
    got = stored(db, requests)
    assert len(got) == 9
    for request in requests:
        mine = [g for g in got if g["request_id"] == request.request_id]
        n = len(request.item_ids)
        assert [g["position"] for g in mine] == list(range(n))
        assert [g["prediction_id"] for g in mine] == [
            prediction_id(request.request_id, i) for i in range(n)
        ]
        assert [g["item_id"] for g in mine] == request.item_ids
        scores = np.array([g["score"] for g in mine], np.float32)  # REAL: float32 of the score
        np.testing.assert_array_equal(scores, request.scores.astype(np.float32))
        np.testing.assert_array_equal(
            np.stack([rows.unpack(g["features"]) for g in mine]), request.features
        )
        first = mine[0]
        assert first["served_at"] == request.served_at
        assert (first["model_name"], first["model_version"]) == ("ranker", request.model_version)
        assert first["user_id"] == request.user_id and first["hour"] == 9
        assert (first["surface"], first["device"], first["country"]) == (
            request.surface,
            request.device,
            request.country,
        )


def test_a_frame_that_is_not_a_log_frame_is_refused_before_postgres(db: Session) -> None:
    frame = rows.to_frame([served(2, seed=4)])
    short = frame.with_columns(pl.col("request_id").bin.slice(0, 8))
    with pytest.raises(ValueError, match="request_id"):
        rows.copy_rows(short)
    with pytest.raises(ValueError, match="hour"):
        rows.copy_rows(frame.with_columns(pl.lit(None, pl.Int16).alias("hour")))


def old_spill_frame(requests: list[rows.ServedRequest]) -> pl.DataFrame:
    """What the CSV-era logger spilled: uuids as text, features as a `\\x…` hex literal."""
    frame = rows.to_frame(requests)
    as_text = {
        name: [str(uuid.UUID(bytes=b)) for b in frame[name].to_list()]
        for name in ("prediction_id", "request_id")
    }
    return frame.with_columns(
        *(pl.Series(name, values) for name, values in as_text.items()),
        ("\\x" + pl.col("features").bin.encode("hex")).alias("features"),
        pl.col("model_version").cast(pl.Int64),
        pl.col("position").cast(pl.Int64),
        pl.col("score").cast(pl.Float64),
    )


def test_a_spill_file_of_the_csv_era_is_recovered_unchanged(
    trained: Trained, tmp_path: Path
) -> None:
    requests = [served(4, seed=5, at=datetime.now(UTC) - timedelta(minutes=3))]
    old = old_spill_frame(requests)
    assert rows.conform(old).equals(rows.to_frame(requests))
    old.write_parquet(tmp_path / "predictions-20261120T091507000000-abcdef12.parquet")
    assert PredictionLogger(trained.engine, spill_dir=tmp_path).recover_spills() == 4
    assert not list(tmp_path.glob("*.parquet"))
    with trained.sessions() as session:
        got = stored(session, requests)
    assert [g["prediction_id"] for g in got] == [
        prediction_id(requests[0].request_id, i) for i in range(4)
    ]
    np.testing.assert_array_equal(
        np.stack([rows.unpack(g["features"]) for g in got]), requests[0].features
    )
