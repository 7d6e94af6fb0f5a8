"""The isolated world a simulation runs in: one template database per invocation, cloned for
every seed run and dropped afterwards.

The template is what a small production install looks like after two days: the shipped
contracts, two days of the demo's full-size synthetic feed posted through them, a small
ranker trained on the accepted rows (the ranker's own flow, fewer epochs) and crowned, the
SLOs an on-call team would watch, the monitor runner's references, and a token per simulated
person. Cloning it with `CREATE DATABASE … TEMPLATE` takes under a second where building it
takes tens, so every seed starts from the same state and no run sees another's data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.auth import Principal, Role, create_token
from core.clock import SimulatedClock, get_clock, set_clock
from core.db import make_engine, make_session_factory, unit_of_work
from core.migrate import upgrade
from core.settings import Settings
from ranker.feed_config import FeedConfig

SIMULATOR = Principal(name="simulator", role=Role.admin)
ORIGIN = datetime(2026, 11, 2, tzinfo=UTC)
TRAIN_DAYS = 2
# The simulated people: a producer posting batches and labels, an ML engineer asking for
# promotions, two reviewers approving them, the on-call engineer (a reviewer, who may change
# an incident's status) and an admin.
PEOPLE = {
    "producer": Role.producer,
    "ml-engineer": Role.producer,
    "reviewer-ann": Role.reviewer,
    "reviewer-bob": Role.reviewer,
    "on-call": Role.reviewer,
    "sim-admin": Role.admin,
}


def feed_config(**knobs: Any) -> FeedConfig:
    """The world every simulation lives in: the demo's full-size feed (1,500 users, 500 items,
    3 new items an hour), over a 30-day horizon. A smaller world is cheaper to train on but its
    catalog turns over so fast that a clean week drifts in earnest (a 400-user, 200-item world
    paged three times on clean data: `item_category` and `country` really moved)."""
    return FeedConfig.model_validate({"horizon_days": 30, **knobs})


def _slo(
    slo_id: str, kind: str, contract: str | None, objective: float, **params: Any
) -> dict[str, Any]:
    return {
        "id": slo_id,
        "name": f"{contract or 'ranker'} {kind.replace('_', ' ')} at {objective}",
        "kind": kind,
        "contract_id": contract,
        "objective": objective,
        "params": params,
        "period": "P30D",
        "time_scale": 1.0,
        "min_events": 0,
        "pending_seconds": 0.0,
        "runbook_url": None,
        "enabled": True,
    }


# What the simulated team watches: every batch passes its contract, both feeds are fresh,
# impressions do not drift, and the served ranker keeps its realized AUC.
SLOS = [
    _slo("impressions-pass-rate", "batch_pass_rate", "impressions", 0.99),
    _slo("labels-pass-rate", "batch_pass_rate", "labels", 0.99),
    _slo("impressions-freshness", "freshness", "impressions", 0.99),
    _slo("labels-freshness", "freshness", "labels", 0.99),
    _slo("impressions-drift", "drift_free", "impressions", 0.95),
    # the small ranker's clean hours realize AUC ~0.80-0.83 on this world (0.827 offline)
    _slo("ranker-auc", "realized_auc", None, 0.95, threshold=0.76),
]


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _url_for(server_url: str, name: str) -> str:
    return (
        make_url(server_url)
        .set(database=name, drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """A new database (a copy of `template` when given) on the server; its SQLAlchemy URL."""
    statement = f'CREATE DATABASE "{name}"'
    if template:
        statement += f' TEMPLATE "{make_url(template).database}"'
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(statement)
    return _url_for(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def clock_at(moment: datetime) -> Iterator[SimulatedClock]:
    """The process clock reads a simulated time inside the block."""
    previous, clock = get_clock(), SimulatedClock(moment)
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


@dataclass(frozen=True)
class Template:
    """A built world: clone it per run; `end` is when its history stops."""

    server_url: str
    url: str
    data_dir: Path
    origin: datetime
    end: datetime
    champion: int
    tokens: dict[str, str]
    facts: dict[str, Any] = field(default_factory=dict)

    def clone(self) -> str:
        return create_database(self.server_url, f"driftgate_sim_{uuid.uuid4().hex[:12]}", self.url)

    def drop(self) -> None:
        drop_database(self.server_url, self.url)


def build_template(
    server_url: str,
    data_dir: Path,
    settings: Settings,
    *,
    echo: Callable[[str], None] = lambda _: None,
) -> Template:
    """Migrate, post two days of feed, train and crown a small ranker, seed SLOs and tokens,
    and build the monitors' references, in a new database on `server_url`."""
    url = create_database(server_url, f"driftgate_simtmpl_{uuid.uuid4().hex[:12]}")
    try:
        echo("migrating the template database …")
        upgrade(url)
        engine = make_engine(url)
        try:
            facts = _populate(make_session_factory(engine), data_dir, settings, echo)
        finally:
            engine.dispose()
    except BaseException:
        drop_database(server_url, url)
        raise
    end = ORIGIN + timedelta(days=TRAIN_DAYS)
    return Template(
        server_url, url, data_dir, ORIGIN, end, facts["champion"], facts["tokens"], facts
    )


def _populate(
    sessions: sessionmaker[Session], data_dir: Path, settings: Settings, echo: Callable[[str], None]
) -> dict[str, Any]:
    from governance.flows import train_and_register
    from monitors.runner import run_once
    from monitors.slos.service import create_slo
    from ranker.demo_world import small_train_config
    from ranker.ingest import ensure_contracts

    start, end = ORIGIN, ORIGIN + timedelta(days=TRAIN_DAYS)
    # Contracts exist from the origin on: a freshness SLO counts its ticks from the contract's
    # creation, which must not be the wall-clock moment the template was built.
    with clock_at(start), unit_of_work(sessions) as session:
        ensure_contracts(session, SIMULATOR)
    echo(f"posting {TRAIN_DAYS} days of the synthetic feed and training a small ranker …")
    with clock_at(end):
        outcome = train_and_register(
            sessions,
            SIMULATOR,
            model_name="ranker",
            start=start,
            end=end,
            data_dir=data_dir,
            generate=True,
            feed_config=feed_config(),
            train_config=small_train_config(),
        )
    with clock_at(end), unit_of_work(sessions) as session:
        for slo in SLOS:
            create_slo(session, SIMULATOR, data=slo)
        tokens = {
            name: create_token(session, SIMULATOR, name=name, role=role, prefix="dg_")
            for name, role in PEOPLE.items()
        }
    echo("building the monitors' references …")
    with clock_at(end + timedelta(minutes=1)):
        report = run_once(sessions, settings=settings)
    if report.errors:
        raise RuntimeError(f"the template's first monitor run failed: {report.errors}")
    return {
        "champion": outcome.version,
        "tokens": tokens,
        "auc": (outcome.metrics.get("model") or {}).get("auc"),
    }


@contextmanager
def run_data_dir(template: Template) -> Iterator[Path]:
    """A run's own data directory, so a run's batches, spools and leftover sweeps never meet
    another run's, even in parallel: the template's files hard-linked (no bytes copied), and
    `models/` a link to the template's, because the cloned registry names artifacts by their
    absolute path there (artifacts are content-addressed and written atomically)."""
    path = Path(tempfile.mkdtemp(prefix="run-", dir=template.data_dir.parent))
    try:
        for entry in template.data_dir.iterdir():
            if entry.name == "models":
                (path / "models").symlink_to(entry.resolve(), target_is_directory=True)
            elif entry.is_dir():
                shutil.copytree(entry, path / entry.name, copy_function=os.link)
            else:
                os.link(entry, path / entry.name)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Clone:
    """One seed run's own database, engine and session factory."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]


@contextmanager
def cloned(template: Template) -> Iterator[Clone]:
    """A fresh copy of the template for one run, dropped when the run ends."""
    url = template.clone()
    engine = make_engine(url)
    try:
        yield Clone(url, engine, make_session_factory(engine))
    finally:
        engine.dispose()
        drop_database(template.server_url, url)
