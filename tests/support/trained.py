"""One trained ranker per test run, cloned for each worker that needs it (a pytest plugin).

The template posts 3 days of a reduced feed through the contracts and trains, registers and
crowns version 1 (about 30 s, once per run however many workers there are). A second
template adds three candidates derived from that champion for the promotion tests (a copy
with slightly different weights, one that ranks backwards, one broken for one country).
`trained` and `real` are per-worker clones of them; the clones share the templates' data
directory, where artifacts are content-addressed, so tests only ever add files to it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR, Principal, Role, create_token
from core.settings import Settings
from ranker.feed_config import FeedConfig
from tests.support.databases import drop_database
from tests.support.templates import Template, build_once

ORIGIN = datetime(2026, 11, 2, tzinfo=UTC)
TRAINED_DAYS = 3


def small_config(**changes: object) -> FeedConfig:
    """A reduced world: fewer users, items and requests, same click model and knobs."""
    base: dict[str, object] = {
        "n_users": 400,
        "new_users_per_day": 10,
        "n_items": 200,
        "new_items_per_hour": 2,
        "requests_per_hour": 200,
        "horizon_days": 10,
    }
    base.update(changes)
    return FeedConfig.model_validate(base)


def _sessions(url: str, **engine_options: Any) -> tuple[Engine, sessionmaker[Session]]:
    engine = create_engine(url, **engine_options)
    return engine, sessionmaker(bind=engine, expire_on_commit=False)


def _train(url: str, data_dir: Path) -> dict[str, Any]:
    from governance.flows import train_and_register
    from ranker.ingest import post_feed

    engine, sessions = _sessions(url)
    start, end = ORIGIN, ORIGIN + timedelta(days=TRAINED_DAYS)
    try:
        post_feed(
            sessions,
            CLI_OPERATOR,
            config=small_config(),
            origin=start,
            start=start,
            end=end,
            data_dir=data_dir,
        )
        outcome = train_and_register(
            sessions, CLI_OPERATOR, model_name="ranker", start=start, end=end, data_dir=data_dir
        )
    finally:
        engine.dispose()
    return {
        "version": outcome.version,
        "metrics": outcome.metrics,
        "artifact_sha256": outcome.artifact.sha256,
    }


@pytest.fixture(scope="session")
def trained_template(migrated_template: Template, pytestconfig: pytest.Config) -> Template:
    return build_once(
        pytestconfig,
        "trained",
        migrated_template.server_url,
        _train,
        base=migrated_template,
    )


# --- the ranker's view: one champion, a token per role -------------------------------------


@dataclass
class Trained:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    data_dir: Path
    config: FeedConfig
    start: datetime
    end: datetime
    version: int
    metrics: dict[str, Any]
    artifact_sha256: str
    tokens: dict[str, str]

    def settings(self, **changes: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": self.data_dir,
            "monitor_runner": False,
            "ranker_poll_seconds": 0.1,
        }
        base.update(changes)
        return Settings.model_validate(base)


def bearer(trained: Trained, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {trained.tokens[role]}"}


@pytest.fixture(scope="session")
def trained(trained_template: Template) -> Iterator[Trained]:
    """This worker's copy of the trained champion, with a token per role."""
    url = trained_template.clone()
    engine, sessions = _sessions(url)
    with sessions.begin() as s:
        tokens = {
            role.value: create_token(
                s, CLI_OPERATOR, name=f"ranker-{role.value}", role=role, prefix="dg_"
            )
            for role in Role
        }
    facts = trained_template.facts
    yield Trained(
        url=url,
        engine=engine,
        sessions=sessions,
        data_dir=trained_template.data_dir,
        config=small_config(),
        start=ORIGIN,
        end=ORIGIN + timedelta(days=TRAINED_DAYS),
        version=facts["version"],
        metrics=facts["metrics"],
        artifact_sha256=facts["artifact_sha256"],
        tokens=tokens,
    )
    engine.dispose()
    drop_database(trained_template.server_url, url)


# --- the promotion tests' view: the champion, three candidates, named people ---------------

PEOPLE = [
    ("ml-engineer", "producer"),
    ("rev-ann", "reviewer"),
    ("rev-bob", "reviewer"),
    ("ops-admin", "admin"),
    ("someone", "viewer"),
]


@dataclass
class Real:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    data_dir: Path
    config: FeedConfig
    champion: int
    tokens: dict[str, str]
    candidates: dict[str, int] = field(default_factory=dict)

    def settings(self, **changes: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": self.data_dir,
            "monitor_runner": False,
            "governance_bake_guard": False,
            "ranker_poll_seconds": 0.1,
        }
        base.update(changes)
        return Settings.model_validate(base)

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _nudge(payload: dict[str, Any]) -> None:
    import torch

    gen = torch.Generator().manual_seed(1)
    for key, tensor in payload["state_dict"].items():
        if key.startswith("mlp.") and tensor.dtype.is_floating_point:
            tensor.add_(torch.randn(tensor.shape, generator=gen) * 1e-3)


def _backwards(payload: dict[str, Any]) -> None:
    sd = payload["state_dict"]
    last = max(k for k in sd if k.startswith("mlp.") and k.endswith(".weight"))
    sd[last].mul_(-1.0)


def _breaks_one_country(payload: dict[str, Any]) -> None:
    import torch

    gen = torch.Generator().manual_seed(2)
    sd = payload["state_dict"]
    jp = payload["features"]["vocabularies"]["country"].index("JP")
    sd["embeddings.0.weight"][jp] = (
        torch.randn(sd["embeddings.0.weight"].shape[1], generator=gen) * 25
    )


CANDIDATES: dict[str, Callable[[dict[str, Any]], None]] = {
    "nudged": _nudge,
    "backwards": _backwards,
    "country": _breaks_one_country,
}


def _derive(
    sessions: sessionmaker[Session], data_dir: Path, champion: int, note: str, payload: Any
) -> int:
    """Register a version whose weights are the champion's, changed by CANDIDATES[note]."""
    from governance.registry import service
    from governance.registry.schemas import ModelVersionCreate
    from ranker import artifact

    derived = copy.deepcopy(payload)
    derived.pop("format")
    CANDIDATES[note](derived)
    derived["note"] = note
    stored = artifact.write(derived, data_dir=data_dir, model_name="ranker")
    with sessions.begin() as s:
        row = service.get_version(s, "ranker", champion)
        body = ModelVersionCreate(
            artifact_uri=stored.uri,
            artifact_sha256=stored.sha256,
            signature=row.signature,
            metrics=row.metrics,
            training_data=row.training_data,
            params=row.params,
            description=note,
        )
        who = Principal(name="ml-engineer", role=Role.producer) if note == "nudged" else None
        return service.register_version(
            s, who or CLI_OPERATOR, name="ranker", body=body, data_dir=data_dir
        ).version


def _add_candidates(champion: int) -> Callable[[str, Path], dict[str, Any]]:
    def build(url: str, data_dir: Path) -> dict[str, Any]:
        from governance.registry import service
        from ranker import artifact

        engine, sessions = _sessions(url)
        try:
            with sessions() as s:
                row = service.get_version(s, "ranker", champion)
                path = artifact.path_of(row.artifact_uri, data_dir)
                payload = artifact.read(path, row.artifact_sha256)
            candidates = {
                note: _derive(sessions, data_dir, champion, note, payload) for note in CANDIDATES
            }
        finally:
            engine.dispose()
        return {"champion": champion, "candidates": candidates}

    return build


@pytest.fixture(scope="session")
def real(trained_template: Template, pytestconfig: pytest.Config) -> Iterator[Real]:
    """This worker's copy of the champion and its three candidates, with named people."""
    template = build_once(
        pytestconfig,
        "candidates",
        trained_template.server_url,
        _add_candidates(trained_template.facts["version"]),
        base=trained_template,
    )
    url = template.clone()
    engine, sessions = _sessions(url, pool_size=10, max_overflow=60)
    with sessions.begin() as s:
        tokens = {
            name: create_token(s, CLI_OPERATOR, name=name, role=Role(role), prefix="dg_")
            for name, role in PEOPLE
        }
    yield Real(
        url,
        engine,
        sessions,
        template.data_dir,
        small_config(),
        template.facts["champion"],
        tokens,
        dict(template.facts["candidates"]),
    )
    engine.dispose()
    drop_database(template.server_url, url)
