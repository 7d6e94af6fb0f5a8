"""Run `driftgate worker` as a supervised child of `driftgate serve`.

The API process answers requests; the child runs the background loops (see
`cli/worker_cmd.py`). The supervisor restarts the child if it dies (with a growing pause, so
a worker that cannot start does not spin), and stops it when the server stops.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger("driftgate.serve")

#: Environment switches that keep the loops out of the API process once a worker runs them.
#: Set in the worker's environment: the pid of the server it works for.
PARENT_ENV = "DRIFTGATE_WORKER_PARENT_PID"

IN_PROCESS_OFF = {"DRIFTGATE_MONITOR_RUNNER": "false", "DRIFTGATE_AUDIT_CHECKPOINTER": "false"}


class WorkerProcess:
    """One `driftgate worker` child, restarted while the server runs."""

    def __init__(
        self,
        database_url: str,
        *,
        max_backoff: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        # The child resolves the same database the server did (the embedded server's URL
        # when DATABASE_URL is unset), instead of starting an embedded server of its own.
        self._env = {**(env if env is not None else os.environ)}
        self._env["DRIFTGATE_DATABASE_URL"] = database_url
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._spawned_at = 0.0

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            # Its own session: a Ctrl-C in the terminal reaches the server, which stops the
            # worker itself; the worker exits on its own if the server dies (PARENT_ENV).
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker"],
                env={**self._env, PARENT_ENV: str(os.getpid())},
                start_new_session=True,
            )
            self._spawned_at = time.monotonic()
        log.info("background worker started (pid %d)", self.process.pid)

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            process = self.process
            if process is None or process.poll() is None:
                self._stop.wait(0.5)
                continue
            ran = time.monotonic() - self._spawned_at
            log.error(
                "background worker exited with %s; restarting in %.0f s",
                process.returncode,
                backoff,
            )
            if self._stop.wait(backoff):
                return
            self.restarts += 1
            self._spawn()
            # A worker that ran a while before dying starts the pause over.
            backoff = 1.0 if ran > 60 else min(backoff * 2, self._max_backoff)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        with self._lock:
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(timeout)


def stop_with_server(worker: WorkerProcess) -> None:
    """Stop the worker when the server is told to stop.

    uvicorn handles SIGTERM/SIGINT while it serves, then restores the handlers it found and
    raises the signal again, so the process ends as the signal says and a `finally` after
    `uvicorn.run` never runs. These handlers are the ones it finds: stop the worker, then die
    of the signal as before.
    """

    def handler(signum: int, _frame: object) -> None:
        worker.stop()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
