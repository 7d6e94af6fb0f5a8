"""Embedded PostgreSQL (via `pgserver`) for machines without a server of their own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_servers: dict[Path, Any] = {}


def embedded_database_url(pg_dir: Path) -> str:
    """Start (or reuse) the embedded server under `pg_dir` and return its SQLAlchemy URL.

    The data directory persists, so contracts and batches survive restarts. The server is
    left running when this process exits (`cleanup_mode=None`) so the CLI and the API can
    share it; pgserver reattaches to a running server on the same directory.
    """
    import pgserver  # lazy: only needed without DATABASE_URL

    pg_dir = pg_dir.resolve()
    if pg_dir not in _servers:
        pg_dir.mkdir(parents=True, exist_ok=True)
        _servers[pg_dir] = pgserver.get_server(pg_dir, cleanup_mode=None)
    uri: str = _servers[pg_dir].get_uri()
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def stop_embedded(pg_dir: Path) -> bool:
    """Stop the embedded server under `pg_dir` if it runs; return whether one was running."""
    import pgserver

    pg_dir = pg_dir.resolve()
    if not (pg_dir / "postmaster.pid").exists():
        return False
    _servers.pop(pg_dir, None)
    # Attach with cleanup_mode="stop" and release at once: as the last handle, it stops the
    # server (as the unprivileged user pgserver runs it under when we are root).
    pgserver.get_server(pg_dir, cleanup_mode="stop").cleanup()
    return True
