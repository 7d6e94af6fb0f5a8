"""`make run`'s path: migrate, demo, then `driftgate run --demo` serves the API and the
dashboard together, prints a working admin token, and Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dashboard.live_api import ROOT, create_database, drop_database, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_env(server_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    url = create_database(server_url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DRIFTGATE_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    try:
        yield env
    finally:
        drop_database(server_url, url)


def driftgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} within {timeout} s:\n" + "\n".join(lines[-40:]))


def test_run_serves_api_and_dashboard_and_ctrl_c_stops_both(demo_env: dict[str, str]) -> None:
    # the ranker seeding has its own test (tests/cli/test_demo_ranker.py)
    subprocess.run(
        driftgate("demo", "--no-ranker"), env=demo_env, cwd=ROOT, check=True, capture_output=True
    )
    api_port, ui_port = free_port(), free_port()
    process = subprocess.Popen(
        driftgate("run", "--demo", "--port", str(api_port), "--dashboard-port", str(ui_port)),
        env=demo_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a failing test kills the API and dashboard children too
    )
    try:
        lines = read_until(process, "Ctrl-C stops both.", timeout=300)
        token = next(x.rsplit(" ", 1)[1] for x in lines if "admin token" in x)
        api = f"http://127.0.0.1:{api_port}"
        me = httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["role"] == "admin" and me["name"].startswith("run-admin-")
        assert httpx.get(f"http://127.0.0.1:{ui_port}/_stcore/health").status_code == 200
        assert "  posted a drifted impressions batch" in lines
        firing = httpx.get(
            f"{api}/alerts",
            params={"state": "firing"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert any(a["slo_id"] == "impressions-pass-rate" for a in firing)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    for port in (api_port, ui_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
