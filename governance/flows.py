"""Train, evaluate and register a ranker version in one flow (the `driftgate ranker train` CLI).

Every step has its own transaction: the synthetic feed's batches (when the window has no
data yet), the training read, the registration with its audit event. The first version of a
model becomes champion only when the model has none yet, so a fresh install serves at once.

The lineage of features, training and evaluation is recorded in the registration's
transaction, where the model version is known: a training that registers nothing (it failed,
or it reproduced an existing version byte for byte) adds no lineage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.auth import Principal
from core.db import unit_of_work
from core.jsonsafe import jsonsafe
from governance.promotions import break_glass
from governance.registry import repository, service
from governance.registry.schemas import ModelVersionCreate
from ranker import artifact, dataset
from ranker import repository as ranker_repo
from ranker.feed_config import FeedConfig
from ranker.ingest import post_feed
from ranker.lineage_runs import record_training
from ranker.training import MIN_TRAIN_ROWS, TrainedModel, train_window


@dataclass
class TrainOutcome:
    model_name: str
    version: int
    artifact: artifact.StoredArtifact
    metrics: dict[str, Any]
    champion: int | None
    notes: list[str] = field(default_factory=list)


def needs_feed(session: Session, *, start: datetime, end: datetime) -> bool:
    """No synthetic feed covers the window and it holds too little ranker data to train on."""
    if ranker_repo.feed_runs_overlapping(session, start=start, end=end):
        return False
    return dataset.load_window(session, start=start, end=end).impressions.height < MIN_TRAIN_ROWS


def covered_start(session: Session, *, start: datetime, end: datetime) -> datetime:
    """Where a default window's data begins: the earliest synthetic feed run inside it when
    no ranker data lies before that run (after `make run`, the demo's 48 hours of a 7-day
    window); else `start`. Training a window whose first days are empty finds no rows for
    its time-ordered train split."""
    runs = ranker_repo.feed_runs_overlapping(session, start=start, end=end)
    first = min((r.window_start for r in runs), default=None)
    if first is None or first <= start:
        return start
    if dataset.load_window(session, start=start, end=first).impressions.height:
        return start
    return first.astimezone(UTC)


def version_body(trained: TrainedModel, stored: artifact.StoredArtifact) -> ModelVersionCreate:
    return ModelVersionCreate.model_validate(
        {
            "artifact_uri": stored.uri,
            "artifact_sha256": stored.sha256,
            "signature": trained.payload["signature"],
            "metrics": jsonsafe(trained.metrics),
            "training_data": trained.batches,
            "contract_versions": trained.contract_versions,
            "params": jsonsafe(trained.params),
            "description": "trained by `driftgate ranker train` on "
            + " .. ".join(trained.params["window"]),
        }
    )


def train_and_register(
    sessions: sessionmaker[Session],
    actor: Principal,
    *,
    model_name: str,
    start: datetime,
    end: datetime,
    data_dir: Path,
    generate: bool | None = None,
    feed_config: FeedConfig | None = None,
    attribution: timedelta = timedelta(hours=6),
    train_config: Any = None,
    echo: Callable[[str], None] = lambda _: None,
    on_epoch: Callable[[dict[str, float], int], None] | None = None,
) -> TrainOutcome:
    """`generate=None` posts a synthetic feed only when the window needs one."""
    notes: list[str] = []
    with unit_of_work(sessions) as session:
        wanted = generate if generate is not None else needs_feed(session, start=start, end=end)
    if wanted:
        config = feed_config or FeedConfig()
        echo(
            f"posting a synthetic feed (seed {config.seed}) for {start:%Y-%m-%d %H:%M} .. "
            f"{end:%Y-%m-%d %H:%M} UTC through the contracts …"
        )
        posted = post_feed(
            sessions, actor, config=config, origin=start, start=start, end=end, data_dir=data_dir
        )
        notes.append(
            f"feed run {posted.run_id}: {len(posted.batch_ids)} batches {posted.statuses}, "
            f"accepted rows {posted.rows}"
        )
        echo(notes[-1])
    echo("building features and training …")
    with unit_of_work(sessions) as session:
        trained = train_window(
            session,
            start=start,
            end=end,
            attribution=attribution,
            train_config=train_config,
            on_epoch=on_epoch,
        )
    stored = artifact.write(trained.payload, data_dir=data_dir, model_name=model_name)
    with unit_of_work(sessions) as session:
        existing = repository.version_by_sha(session, model_name, stored.sha256)
        if existing is not None:
            version = existing.version
            notes.append(
                f"identical to version {version} (same data, same seed): not registered again"
            )
        else:
            version = service.register_version(
                session,
                actor,
                name=model_name,
                body=version_body(trained, stored),
                data_dir=data_dir,
            ).version
            record_training(
                session,
                actor,
                trained.steps,
                model_name=model_name,
                model_version=version,
                signature=trained.payload["signature"],
                metrics=trained.metrics,
                params={**trained.params, "artifact_sha256": stored.sha256},
            )
        alias = repository.get_alias(session, model_name)
        if alias is None:
            # A model without a champion serves nothing, so the break-glass path lets its
            # first version in without a second admin (`governance.promotions.break_glass`).
            champion = break_glass.set_champion(
                session,
                actor,
                name=model_name,
                version=version,
                reason="first version of the model",
            ).version
            notes.append(f"version {version} is the champion (the model had none)")
        else:
            champion = alias.version
    return TrainOutcome(model_name, version, stored, trained.metrics, champion, notes)
