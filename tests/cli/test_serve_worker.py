"""`driftgate serve` keeps the background loops in a supervised `driftgate worker` child.

Real processes: the server is `python -m cli.main serve` on a free port against a migrated
database; the worker is found through /proc and proves it works by writing signed audit
checkpoints. Killing it gets it restarted; stopping (or killing) the server ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from core.auth import CLI_OPERATOR, Role, create_token
from tests.support.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with suppress(FileNotFoundError):
            out.extend(int(c) for c in task.read_text().split())
    return out


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def worker_of(pid: int) -> int | None:
    found = [c for c in children(pid) if "worker" in cmdline(c) and alive(c)]
    return found[0] if found else None


@contextmanager
def serving(database: str, data_dir: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    engine = create_engine(database)
    with sessionmaker(bind=engine).begin() as s:  # an audit event for the checkpointer to sign
        create_token(s, CLI_OPERATOR, name="admin", role=Role.admin, prefix="dg_")
    engine.dispose()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")},
        "DATABASE_URL": database,
        "DRIFTGATE_DATA_DIR": str(data_dir),
        "DRIFTGATE_AUDIT_CHECKPOINT_INTERVAL_SECONDS": "0.5",
        "DRIFTGATE_RANKER_SERVING": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--no-migrate", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def healthy() -> bool:
            with suppress(httpx.HTTPError):
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            return False

        wait_until(healthy, timeout=90, interval=0.2, what="the server to answer /health")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def checkpoints(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "audit-checkpoints").glob("*"))


def test_serve_runs_the_background_loops_in_a_supervised_worker(
    committed_db: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with serving(committed_db, data_dir) as server:
        first = wait_until(lambda: worker_of(server.pid), timeout=30, what="a worker child")
        # The worker does the checkpointer's job (the API process has it switched off).
        wait_until(lambda: checkpoints(data_dir), timeout=60, what="a signed checkpoint")

        os.kill(first, signal.SIGKILL)
        second = wait_until(
            lambda: (w := worker_of(server.pid)) not in (None, first) and w,
            timeout=30,
            what="the worker to be restarted",
        )
        assert alive(second)

        server.send_signal(signal.SIGTERM)
        assert server.wait(30) in (0, -signal.SIGTERM)  # uvicorn ends by the signal
        wait_until(lambda: not alive(second), timeout=20, what="the worker to stop with the server")


def test_the_worker_does_not_outlive_a_killed_server(committed_db: str, tmp_path: Path) -> None:
    with serving(committed_db, tmp_path / "data") as server:
        worker = wait_until(lambda: worker_of(server.pid), timeout=30, what="a worker child")
        server.kill()
        server.wait()
        wait_until(lambda: not alive(worker), timeout=20, what="the orphaned worker to exit")


def test_background_thread_keeps_the_loops_in_the_api_process(
    committed_db: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with serving(committed_db, data_dir, "--background", "thread") as server:
        wait_until(lambda: checkpoints(data_dir), timeout=60, what="a signed checkpoint")
        assert worker_of(server.pid) is None


def test_worker_with_nothing_to_run_says_so(committed_db: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")},
        "DATABASE_URL": committed_db,
        "DRIFTGATE_MONITOR_RUNNER": "false",
        "DRIFTGATE_AUDIT_CHECKPOINTER": "false",
        "DRIFTGATE_SIMULATION_WORKER": "false",
    }
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "nothing to run" in out.stderr
