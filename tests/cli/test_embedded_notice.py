"""The embedded PostgreSQL is quiet to use: no runtime-directory warning on every call, and one
note, when a command starts it, that it outlives the command and how to stop it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.test_cli import run

NOTICE = "`driftgate db stop` stops it"


@pytest.mark.slow  # child processes
def test_embedded_server_start_is_announced_once_and_no_xdg_warning_is_printed(
    tmp_path: Path,
) -> None:
    pg_dir = tmp_path / "pg"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR") and not k.startswith("DRIFTGATE_")
    }
    env.update(
        {"DRIFTGATE_EMBEDDED_PG_DIR": str(pg_dir), "DRIFTGATE_DATA_DIR": str(tmp_path / "data")}
    )
    try:
        first = run(["migrate"], env)
        second = run(["token", "list"], env)
    finally:
        stopped = run(["db", "stop"], env)
    assert first.stderr.count(NOTICE) == 1 and str(pg_dir) in first.stderr
    assert NOTICE not in second.stderr  # reattached to the running server: nothing to say
    for proc in (first, second, stopped):
        assert "XDG_RUNTIME_DIR" not in proc.stderr, proc.stderr
        assert "Warning" not in proc.stderr, proc.stderr
    assert "embedded PostgreSQL stopped" in stopped.stdout
    assert not (pg_dir / "postmaster.pid").exists()
