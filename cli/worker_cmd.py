"""`driftgate worker`: the service's background loops in their own process.

The monitor runner (drift over sliding windows, SLO burn rates, calibration, notifications)
and the audit checkpointer do heavy Python and numeric work on a timer. In the API process
they share the interpreter lock with the event loop that answers POST /rank, so their work
shows up in its tail latency. `driftgate serve` therefore runs them here, in a child process
it supervises (`cli/background.py`); `driftgate worker` is also the command to run them on
their own machine or under a process manager. The runner finds new batches and labels by
polling the database, so it needs nothing from the API process.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any, Protocol

import typer

log = logging.getLogger("driftgate.worker")


class _Loop(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def background_loops(sessions: Any, settings: Any) -> list[tuple[str, _Loop]]:
    """The loops the settings switch on, not yet started."""
    loops: list[tuple[str, _Loop]] = []
    if settings.monitor_runner:
        from monitors.runner import MonitorRunner

        loops.append(("monitor runner", MonitorRunner(sessions, settings)))
    if settings.audit_checkpointer:
        from core.audit_trail import CheckpointScheduler

        loops.append(("audit checkpointer", CheckpointScheduler(sessions, settings)))
    if settings.simulation_worker:
        from simulations.worker import SimulationWorker

        loops.append(("simulation runs", SimulationWorker(sessions, settings)))
    return loops


def worker() -> None:
    """Run the monitor runner and the audit checkpointer until SIGTERM or Ctrl-C."""
    from cli.background import PARENT_ENV
    from cli.context import context

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ctx = context()
    loops = background_loops(ctx.sessions, ctx.settings)
    if not loops:
        typer.echo(
            "nothing to run: DRIFTGATE_MONITOR_RUNNER, DRIFTGATE_AUDIT_CHECKPOINTER and "
            "DRIFTGATE_SIMULATION_WORKER are off",
            err=True,
        )
        raise typer.Exit(2)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for name, loop in loops:
        loop.start()
        log.info("started the %s", name)
    typer.echo(f"driftgate worker: {', '.join(name for name, _ in loops)}")
    parent = os.environ.get(PARENT_ENV)
    while not stop.wait(1.0):  # a timed wait lets the signal handler run promptly
        if parent is not None and str(os.getppid()) != parent:
            log.warning("the server (pid %s) is gone; stopping", parent)
            break
    for name, loop in loops:
        loop.stop()
        log.info("stopped the %s", name)
