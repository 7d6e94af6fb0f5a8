"""The bake guard's background thread in the API process: every
`governance_bake_poll_seconds` it expires overdue promotion requests and judges every
promotion still baking (rolling back on a breach). Requests are taken with
`FOR UPDATE SKIP LOCKED`, so several replicas never act on one request twice."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from governance.bake.guard import run_guard
from governance.bake.serving_probe import RankStats

log = logging.getLogger("driftgate.governance.bake")


class BakeGuard:
    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, stats: RankStats | None
    ) -> None:
        self._sessions, self._settings, self._stats = sessions, settings, stats
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bake-guard", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._settings.governance_bake_poll_seconds):
            try:
                run_guard(self._sessions, self._settings, self._stats)
                self.runs += 1
            except Exception:  # the guard keeps running; the next pass retries
                log.exception("bake guard pass failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
