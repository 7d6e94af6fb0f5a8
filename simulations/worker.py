"""The worker's side of `POST /simulations`: take the oldest queued run, play it, store its
results or its error.

A simulation swaps the process clock for a simulated one, so inside `driftgate worker` (whose
monitor runner reads the real clock on another thread) each run is played in a child process
(`python -m simulations.worker <run id>`); `execute` is the in-process step the child and the
tests call.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import traceback
import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.settings import Settings
from incidents import simulation_runs

log = logging.getLogger("driftgate.simulations")
RESULT_RUN_KEYS = (
    "scenario", "seed", "detected", "mttd_seconds", "detect_after_ingest_seconds",
    "time_to_mitigate_seconds", "mttr_seconds", "rows_posted", "rows_accepted",
    "rows_quarantined", "rows_lost", "false_alarms", "pages", "budget_consumed", "incidents",
    "postmortem", "first_alert", "notes", "wall_seconds",
)  # fmt: skip


def claim(sessions: sessionmaker[Session]) -> uuid.UUID | None:
    """Mark the oldest queued run `running` (committed), or None when none waits."""
    with unit_of_work(sessions) as session:
        run = simulation_runs.claim_next(session)
        return run.id if run is not None else None


def execute(sessions: sessionmaker[Session], settings: Settings, run_id: uuid.UUID) -> str:
    """Play a claimed run in this process and store the outcome; its final status."""
    from simulations.suite import resolve, run_suite

    with unit_of_work(sessions) as session:
        run = simulation_runs.get_run(session, run_id)
        scenario, seeds, params = run.scenario, run.seeds, dict(run.params)
    server_url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    try:
        doc = run_suite(server_url, settings, resolve([scenario], params), seeds)
    except Exception as exc:
        log.exception("simulation run %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        with unit_of_work(sessions) as session:
            return simulation_runs.finish_run(session, run_id, error=error[:4000]).status
    with unit_of_work(sessions) as session:
        return simulation_runs.finish_run(session, run_id, results=_results(doc)).status


def _results(doc: dict[str, Any]) -> dict[str, Any]:
    """The stored document: the per-scenario rows and each seed's headline figures."""
    return {
        "seeds": doc["seeds"],
        "wall_seconds": doc["wall_seconds"],
        "scenarios": doc["scenarios"],
        "runs": [{k: r.get(k) for k in RESULT_RUN_KEYS} for r in doc["runs"]],
    }


def step(sessions: sessionmaker[Session], settings: Settings) -> uuid.UUID | None:
    """One worker step in this process: claim and play the next run (tests, `--once`)."""
    run_id = claim(sessions)
    if run_id is not None:
        execute(sessions, settings, run_id)
    return run_id


class SimulationWorker:
    """A `driftgate worker` loop: every few seconds, one queued run in a child process."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, poll_seconds: float = 5.0
    ) -> None:
        self._sessions, self._settings, self._poll = sessions, settings, poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="simulations", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _loop(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                run_id = claim(self._sessions)
                if run_id is not None:
                    self._play(run_id)
            except Exception:
                log.exception("simulation worker step failed; retrying")

    def _play(self, run_id: uuid.UUID) -> None:
        self._child = subprocess.Popen([sys.executable, "-m", "simulations.worker", str(run_id)])
        code = self._child.wait()
        if code != 0:  # the child died before storing anything: record that here
            with unit_of_work(self._sessions) as session:
                run = simulation_runs.get_run(session, run_id)
                if run.status == "running":
                    simulation_runs.finish_run(
                        session, run_id, error=f"the simulation process exited with {code}"
                    )


def main(argv: list[str]) -> int:
    """`python -m simulations.worker <run id>`: play one claimed run (the worker's child)."""
    from core.db import make_engine, make_session_factory, resolve_database_url
    from core.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    engine = make_engine(resolve_database_url(settings))
    try:
        status = execute(make_session_factory(engine), settings, uuid.UUID(argv[0]))
    finally:
        engine.dispose()
    return 0 if status in ("succeeded", "failed") else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
