"""Wire ranker serving to the registry: the champion decides what /rank serves.

Governance owns which version is served, so it hands ranker's `ModelHolder` a resolver that
reads the champion (and records refused artifacts in the audit trail); ranker itself never
imports governance. Started and stopped by the API's lifespan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.db import unit_of_work
from core.settings import Settings
from governance.registry.service import champion_ref
from ranker.feature_refresh import snapshot_loader
from ranker.predlog import PredictionLogger
from ranker.serving import ArtifactRef, ModelHolder

SERVING_ACTOR = "ranker-serving"


@dataclass
class RankerServing:
    model_name: str
    holder: ModelHolder
    logger: PredictionLogger | None
    max_candidates: int

    def stop(self) -> None:
        """Stop watching the registry, then flush every buffered prediction."""
        self.holder.stop()
        if self.logger is not None:
            self.logger.close()


def champion_resolver(
    sessions: sessionmaker[Session], model_name: str
) -> Callable[[], ArtifactRef | None]:
    def resolve() -> ArtifactRef | None:
        with sessions() as session:
            ref = champion_ref(session, model_name)
        if ref is None:
            return None
        return ArtifactRef(ref.model_name, ref.version, ref.artifact_uri, ref.artifact_sha256)

    return resolve


def refusal_recorder(sessions: sessionmaker[Session]) -> Callable[[ArtifactRef, Exception], None]:
    def record(ref: ArtifactRef, exc: Exception) -> None:
        with unit_of_work(sessions) as session:
            audit.record(
                session,
                actor=SERVING_ACTOR,
                action="model.load_refused",
                object_type="model",
                object_id=f"{ref.model_name}:{ref.version}",
                after={"artifact_sha256": ref.sha256, "error": str(exc)[:500]},
            )

    return record


def start_ranker_serving(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    *,
    log_predictions: bool = True,
) -> RankerServing:
    """Start the champion watcher and the prediction log writer."""
    holder = ModelHolder(
        champion_resolver(sessions, settings.ranker_model_name),
        data_dir=settings.data_dir,
        poll_seconds=settings.ranker_poll_seconds,
        threads=settings.ranker_threads,
        on_refused=refusal_recorder(sessions),
        load_features=snapshot_loader(sessions),
        feature_refresh_seconds=settings.ranker_feature_refresh_seconds,
    )
    logger = (
        PredictionLogger(
            engine,
            spill_dir=settings.data_dir / "prediction-spill",
            flush_rows=settings.predlog_flush_rows,
            flush_seconds=settings.predlog_flush_seconds,
            max_buffer_rows=settings.predlog_max_buffer_rows,
            sessions=sessions,
        )
        if log_predictions
        else None
    )
    holder.start()
    if logger is not None:
        logger.start()
    return RankerServing(settings.ranker_model_name, holder, logger, settings.ranker_max_candidates)
