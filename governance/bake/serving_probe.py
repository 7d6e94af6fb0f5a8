"""What the bake guard needs from live serving: how many POST /rank calls each served version
answered, how many failed, and how long they took.

An ASGI middleware times every POST /rank and notes the version being served when the call
started; `RankStats` keeps the recent outcomes in memory (this process only, bounded) and
summarizes them with numpy. After a restart the history is gone, which the guard reads as
missing data: it holds, it never confirms on what it did not see.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from core.asgi import StatusWatch
from core.clock import utcnow


@dataclass(frozen=True)
class ServingSummary:
    requests: int
    errors: int
    latency_p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


class RankStats:
    """Recent POST /rank outcomes per (model, version): (epoch seconds, HTTP status, latency ms)."""

    def __init__(self, max_rows_per_version: int = 200_000) -> None:
        self._max = max_rows_per_version
        self._rows: dict[tuple[str, int], deque[tuple[float, int, float]]] = {}
        self._lock = threading.Lock()

    def add(self, at: float, model: str, version: int, status: int, latency_ms: float) -> None:
        with self._lock:
            rows = self._rows.setdefault((model, version), deque(maxlen=self._max))
            rows.append((at, status, latency_ms))

    def summary(self, model: str, version: int, since: datetime) -> ServingSummary:
        with self._lock:
            rows = self._rows.get((model, version))
            arr = np.asarray(rows if rows else [], dtype=np.float64).reshape(-1, 3)
        arr = arr[arr[:, 0] >= since.timestamp()]
        if arr.shape[0] == 0:
            return ServingSummary(0, 0, None)
        errors = int((arr[:, 1] >= 500).sum())
        return ServingSummary(int(arr.shape[0]), errors, float(np.quantile(arr[:, 2], 0.99)))


class ServingProbe:
    """Pure ASGI middleware: records each POST /rank's status and latency in `RankStats`."""

    def __init__(self, app: Any, stats: RankStats, path: str = "/rank") -> None:
        self.app, self.stats, self.path = app, stats, path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        serving = getattr(scope["app"].state, "ranker", None)
        current = serving.holder.current if serving is not None else None
        watch = StatusWatch(send)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, watch)
        finally:
            if current is not None:
                self.stats.add(
                    utcnow().timestamp(),
                    current.ref.model_name,
                    current.ref.version,
                    watch.status,
                    (time.perf_counter() - started) * 1000.0,
                )
