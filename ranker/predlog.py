"""The prediction log: every served score, buffered off the request path and written in bulk.

A request only appends one record (its arrays) to an in-memory buffer. A background thread
turns the buffer into columns and a binary COPY payload (`ranker.prediction_rows`: numpy,
polars and pyarrow kernels, no Python loop per row), writes it with one COPY and records one
audit event in the same transaction, every `flush_seconds` or sooner once `flush_rows` are
waiting. The first write of a model version into a prediction window (an hour by default)
also records that window's `ranker.serve` lineage in that transaction; later writes into it
record nothing. `close()` flushes what is left; if the database is unreachable then, rows are
spilled to Parquet under the data directory and written by the next process that starts a
logger.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.auth import Principal, Role
from ranker.lineage_runs import record_serving
from ranker.prediction_rows import (
    COPY_HEADER,
    COPY_SQL,
    COPY_TRAILER,
    ServedRequest,
    conform,
    copy_rows,
    to_frame,
)

log = logging.getLogger("driftgate.ranker.predlog")

_HEX3 = np.array([f"{i:03x}" for i in range(4096)])
ACTOR = "ranker-serving"
LINEAGE_ACTOR = Principal(ACTOR, Role.producer)
PREDICTION_WINDOW = timedelta(hours=1)

# A model version's prediction window: (model name, model version, window start).
WindowKey = tuple[str, int, datetime]


def new_request_id() -> uuid.UUID:
    """A UUIDv7-layout id (milliseconds first, so the log's primary key grows at its right
    edge instead of splitting pages at random) whose last 12 bits are left free:
    prediction ids are the request id plus the position."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | 0x7 << 76  # version 7
    value = (value & ~(0x3 << 62)) | 0x2 << 62  # RFC 4122 variant
    return uuid.UUID(int=value & ~0xFFF)


def prediction_id(request_id: uuid.UUID, position: int) -> uuid.UUID:
    return uuid.UUID(int=request_id.int | position)


def prediction_ids(request_id: uuid.UUID, n: int) -> list[str]:
    prefix = str(request_id)[:-3]
    return [prefix + h for h in _HEX3[:n]]


def window_stats(frame: pl.DataFrame, length: timedelta) -> pl.DataFrame:
    """Rows and first/last serving time per model version and prediction window (windows
    aligned to the epoch), in one pass."""
    start = pl.col("served_at").dt.truncate(f"{int(length.total_seconds())}s").alias("window")
    return (
        frame.lazy()
        .group_by("model_name", "model_version", start)
        .agg(
            pl.len().alias("rows"),
            pl.col("served_at").min().alias("first_served_at"),
            pl.col("served_at").max().alias("last_served_at"),
        )
        .sort("model_name", "model_version", "window")
        .collect()
    )


def write_frame(
    sessions: sessionmaker[Session],
    frame: pl.DataFrame,
    *,
    window: timedelta = PREDICTION_WINDOW,
    recorded: set[WindowKey] | frozenset[WindowKey] = frozenset(),
) -> set[WindowKey]:
    """COPY the rows, record one audit event and the lineage of every window not `recorded`
    yet, in one transaction; return the windows whose lineage it recorded."""
    if frame.height == 0:
        return set()
    frame = conform(frame)
    rows = copy_rows(frame)
    stats = window_stats(frame, window)
    first = stats.row(0, named=True)
    new = [
        key
        for key in zip(stats["model_name"], stats["model_version"], stats["window"], strict=True)
        if key not in recorded
    ]
    with sessions.begin() as session:
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(COPY_SQL) as copy:  # type: ignore[union-attr]
            copy.write(COPY_HEADER)
            copy.write(memoryview(rows))
            copy.write(COPY_TRAILER)
        for name, version, start in new:
            record_serving(
                session,
                LINEAGE_ACTOR,
                model_name=name,
                model_version=version,
                window_start=start,
                window_length=window,
            )
        audit.record(
            session,
            actor=ACTOR,
            action="predictions.log",
            object_type="prediction_log",
            object_id=f"{first['model_name']}:{stats['first_served_at'].min()!s}",
            after={
                "rows": frame.height,
                "requests": frame["request_id"].n_unique(),
                "models": stats.group_by("model_name", "model_version", maintain_order=True)
                .agg(
                    pl.col("rows").sum(),
                    pl.col("first_served_at").min(),
                    pl.col("last_served_at").max(),
                )
                .to_dicts(),
            },
        )
    return set(new)


class PredictionLogger:
    """Buffer served predictions and write them in bulk from one background thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        spill_dir: Path,
        flush_rows: int = 20_000,
        flush_seconds: float = 0.5,
        max_buffer_rows: int = 2_000_000,
        sessions: sessionmaker[Session] | None = None,
        lineage_window: timedelta = PREDICTION_WINDOW,
    ) -> None:
        self.engine = engine
        # The app's sessions carry its lineage namespace and forwarder (`lineage.emit`).
        self.sessions = sessions or sessionmaker(bind=engine)
        self.lineage_window = lineage_window
        self._windows: set[WindowKey] = set()  # whose lineage this process has recorded
        self.spill_dir = spill_dir
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_buffer_rows = max_buffer_rows
        self._buffer: list[ServedRequest] = []
        self._rows = 0
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written_rows = 0
        self.spilled_rows = 0
        self.last_error: str | None = None

    @property
    def pending_rows(self) -> int:
        return self._rows

    def log(self, request: ServedRequest) -> None:
        """O(1) on the request path: append, and wake the writer once enough rows wait."""
        with self._buffer_lock:
            self._buffer.append(request)
            self._rows += len(request.item_ids)
            full = self._rows >= self.flush_rows
        if full:
            self._wake.set()

    def _take(self) -> list[ServedRequest]:
        with self._buffer_lock:
            taken, self._buffer, self._rows = self._buffer, [], 0
        return taken

    def _put_back(self, requests: list[ServedRequest]) -> None:
        with self._buffer_lock:
            self._buffer[:0] = requests
            self._rows += sum(len(r.item_ids) for r in requests)

    def flush(self) -> int:
        """Write everything buffered now; on failure the rows stay buffered and this raises."""
        with self._flush_lock:
            taken = self._take()
            if not taken:
                return 0
            frame = to_frame(taken)
            try:
                self._write(frame)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._put_back(taken)
                self._spill_if_over_limit()
                raise
            self.last_error = None
            self.written_rows += frame.height
            return frame.height

    def _write(self, frame: pl.DataFrame) -> None:
        recorded = write_frame(
            self.sessions, frame, window=self.lineage_window, recorded=self._windows
        )
        self._windows.update(recorded)  # only once committed

    def _spill_if_over_limit(self) -> None:
        if self._rows > self.max_buffer_rows:
            self.spill()

    def spill(self) -> int:
        """Move the buffer to a Parquet file (the database is unreachable)."""
        taken = self._take()
        if not taken:
            return 0
        frame = to_frame(taken)
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.spill_dir / f"predictions-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        frame.write_parquet(path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        self.spilled_rows += frame.height
        log.error("database unreachable: spilled %d predictions to %s", frame.height, path)
        return frame.height

    def recover_spills(self) -> int:
        """Write rows a previous process spilled, oldest first, deleting each file once written."""
        written = 0
        for path in sorted(self.spill_dir.glob("predictions-*.parquet")):
            self._write(pl.read_parquet(path))
            written += pl.scan_parquet(path).select(pl.len()).collect().item()
            path.unlink()
        return written

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.recover_spills()
        except Exception as exc:
            log.error("could not write spilled predictions yet: %s", exc)
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:
                log.warning("prediction log write failed, will retry: %s", exc)
                self._stop.wait(min(self.flush_seconds * 4, 5.0))

    def close(self) -> None:
        """Stop the writer and flush the rest; spill to Parquet if the database is gone."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        try:
            self.flush()
        except Exception as exc:
            log.error("final prediction log write failed (%s); spilling", exc)
            self.spill()
