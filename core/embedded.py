"""Embedded PostgreSQL (via `pgserver`) for machines without a server of their own."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

_servers: dict[Path, Any] = {}
_started: set[Path] = set()


def _pgserver() -> ModuleType:
    """Import `pgserver` without platformdirs' "XDG_RUNTIME_DIR is not set" warning.

    pgserver asks platformdirs for a runtime directory (its lock file, and a socket directory
    when the data directory's path is too long for a socket) as it is imported. Without
    XDG_RUNTIME_DIR (containers, cron, ssh without a login session) platformdirs falls back to
    /run/user/<uid> or a private /tmp/runtime-<uid> and warns on every CLI call. The fallback
    is fine here; any other runtime-directory warning (a wrong XDG_RUNTIME_DIR) still shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver
        import pgserver.utils
    return pgserver


def embedded_is_running(pg_dir: Path) -> bool:
    """Whether a server runs on `pg_dir` (its postmaster.pid names a live process)."""
    info = _pgserver().utils.PostmasterInfo.read_from_pgdata(pg_dir.resolve())
    return bool(info is not None and info.is_running())


def embedded_database_url(pg_dir: Path) -> str:
    """Start (or reuse) the embedded server under `pg_dir` and return its SQLAlchemy URL.

    The data directory persists, so contracts and batches survive restarts. The server is
    left running when this process exits (`cleanup_mode=None`) so the CLI and the API can
    share it; pgserver reattaches to a running server on the same directory.
    """
    pgserver = _pgserver()  # lazy: only needed without DATABASE_URL
    pg_dir = pg_dir.resolve()
    if pg_dir not in _servers:
        pg_dir.mkdir(parents=True, exist_ok=True)
        was_running = embedded_is_running(pg_dir)
        _servers[pg_dir] = pgserver.get_server(pg_dir, cleanup_mode=None)
        if not was_running:
            _started.add(pg_dir)
    uri: str = _servers[pg_dir].get_uri()
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def started_by_this_process(pg_dir: Path) -> bool:
    """Whether this process started the server on `pg_dir` (rather than reattaching to it)."""
    return pg_dir.resolve() in _started


def stop_embedded(pg_dir: Path) -> bool:
    """Stop the embedded server under `pg_dir` if it runs; return whether one was running."""
    pgserver = _pgserver()
    pg_dir = pg_dir.resolve()
    if not (pg_dir / "postmaster.pid").exists():
        return False
    _servers.pop(pg_dir, None)
    _started.discard(pg_dir)
    # Attach with cleanup_mode="stop" and release at once: as the last handle, it stops the
    # server (as the unprivileged user pgserver runs it under when we are root).
    pgserver.get_server(pg_dir, cleanup_mode="stop").cleanup()
    return True
