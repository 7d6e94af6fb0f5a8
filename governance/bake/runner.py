"""Running the bake guard: one pass (`driftgate model guard`), or a background thread in the
API process that every `governance_bake_poll_seconds` expires overdue promotion requests and
judges every promotion still baking (rolling back on a breach). Requests are taken with
`FOR UPDATE SKIP LOCKED`, so several replicas never act on one request twice."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.settings import Settings
from governance.bake.guard import GuardOutcome, guard_once
from governance.bake.notify import notify
from governance.bake.serving_probe import RankStats

log = logging.getLogger("driftgate.governance.bake")


def run_guard(
    sessions: sessionmaker[Session], settings: Settings, stats: RankStats | None
) -> GuardOutcome:
    """One guard pass in its own transaction, then notifications for new incidents."""
    with unit_of_work(sessions) as session:
        outcome = guard_once(session, stats=stats)
    for incident_id in outcome.incidents:
        try:
            notify(sessions, incident_id, settings)
        except Exception:  # a notification failure must not stop the guard
            log.exception("notifying incident %s failed", incident_id)
    return outcome


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
