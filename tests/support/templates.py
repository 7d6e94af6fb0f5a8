"""Template databases: built once per test run by whichever worker asks first, then cloned.

`CREATE DATABASE x TEMPLATE y` copies a migrated (or migrated and trained) database in well
under a second, where migrating takes seconds and training tens of seconds. A file lock in
the run's shared directory makes parallel workers wait for one build instead of racing; a
record per template lets the controller drop them all when the run ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.support.databases import create_database, database_url_for, drop_database


@dataclass(frozen=True)
class SharedRun:
    """What every worker of one test run shares (set up by tests/support/shared_run.py)."""

    run_id: str
    directory: Path


RUN = pytest.StashKey[SharedRun]()

# Builds a template in place: (database url, data directory) -> JSON-able facts about it.
Build = Callable[[str, Path], dict[str, Any]]


@dataclass(frozen=True)
class Template:
    server_url: str
    url: str
    data_dir: Path
    facts: dict[str, Any]

    def clone(self) -> str:
        """A new database with the template's contents; the caller drops it."""
        return create_database(self.server_url, template=self.url)


def build_once(
    config: pytest.Config,
    name: str,
    server_url: str,
    build: Build,
    *,
    base: Template | None = None,
) -> Template:
    """The run's template `name`, built by `build` on a copy of `base` (or a new database).

    A template built on another shares the other's data directory: artifact URIs are absolute
    and point there. Builds must leave no connection open, or the template cannot be cloned.
    """
    run = config.stash[RUN]
    records = run.directory / "templates"
    records.mkdir(parents=True, exist_ok=True)
    record = records / f"{name}.json"
    with FileLock(str(records / f"{name}.lock")):
        if record.exists():
            return _load(record)
        database = f"driftgate_tmpl_{run.run_id}_{name}"
        # A worker that died mid-build (killed, not failed) left its half-built copy behind.
        drop_database(server_url, database_url_for(server_url, database))
        url = create_database(server_url, template=base.url if base else None, name=database)
        (records / f"{name}.db").write_text(json.dumps([server_url, url]))
        data_dir = base.data_dir if base else records / f"{name}-data"
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            facts = build(url, data_dir)
        except BaseException:
            drop_database(server_url, url)
            (records / f"{name}.db").unlink()
            raise
        template = Template(server_url, url, data_dir, facts)
        record.write_text(json.dumps({**template.__dict__, "data_dir": str(data_dir)}))
        return template


def _load(record: Path) -> Template:
    doc = json.loads(record.read_text())
    return Template(doc["server_url"], doc["url"], Path(doc["data_dir"]), doc["facts"])


def drop_all(directory: Path) -> None:
    """Drop every template database the run created (called once, when the run ends)."""
    for made in sorted((directory / "templates").glob("*.db")):
        server_url, url = json.loads(made.read_text())
        drop_database(server_url, url)
