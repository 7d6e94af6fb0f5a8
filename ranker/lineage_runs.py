"""The ranker's steps as OpenLineage runs, so the graph reads raw batches → features → model →
predictions (naming: `lineage.naming`, docs: docs/ranker.md "Lineage").

- `ranker.features`: accepted rows of every batch read (by batch id) → `features/feed#<build>`;
- `ranker.train`: `features/feed#<build>` → `models/<model>#<version>`;
- `ranker.evaluate`: the model and the features' test split → `evaluations/<model>#<version>`;
- `ranker.serve`: every model version served in a prediction window →
  `predictions/<model>#<window>`.

Training learns its model version only when the registry numbers it, so `train_window` keeps
what it did (`TrainingSteps`, no I/O) and the three training runs are recorded with the
registration, in its transaction: a version that is not registered leaves no lineage.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from openlineage.client.generated import (
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    schema_dataset,
)
from sqlalchemy.orm import Session

from core.auth import Principal
from core.jsonsafe import jsonsafe
from lineage import emit, naming

FEATURE_SET = "feed"
FEATURES_FACET = "urn:driftgate:lineage:facets:FeatureBuildRunFacet:1-0-0"
TRAINING_FACET = "urn:driftgate:lineage:facets:TrainingRunFacet:1-0-0"
EVALUATION_FACET = "urn:driftgate:lineage:facets:EvaluationRunFacet:1-0-0"
# Serving runs are named by what they stand for, so every process that writes predictions of
# one window records the very same events (and the store keeps them once).
_SERVE_RUN_NAMESPACE = uuid.UUID("5b0f3c1e-8d7a-4f0e-9a61-2f4c9d7e0b13")


@dataclass(frozen=True)
class Span:
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True)
class TrainingSteps:
    """What `train_window` did, kept until the registry gives the model its version."""

    build_id: str
    recipe: dict[str, Any]  # split plan and feature parameters: with the batches, the build
    batches: list[dict[str, Any]]  # the window's batch references (id, contract, rows used)
    feature_rows: int  # every impression with features (the purge gaps' too)
    split_rows: dict[str, int]  # rows per split
    features: Span
    training: Span
    evaluation: Span


def feature_build_id(batches: Sequence[Mapping[str, Any]], recipe: Mapping[str, Any]) -> str:
    """A content id of a feature build: the same batches and recipe (split plan, feature
    parameters) build the same features, so a rebuild is the same version (16 hex digits of a
    sha256)."""
    doc = {
        "batches": sorted(
            [str(b["batch_id"]), b["accepted_sha256"], int(b["rows_used"])] for b in batches
        ),
        "recipe": recipe,
    }
    canonical = json.dumps(jsonsafe(doc), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def model_links(model_name: str, model_version: int | str) -> dict[str, str]:
    return {naming.MODEL_NAME: model_name, naming.MODEL_VERSION: str(model_version)}


def model_ref(model_name: str, model_version: int | str, **kwargs: Any) -> emit.DatasetRef:
    """`models/<model>#<version>`, linked to the model version."""
    return emit.DatasetRef(
        None,
        naming.model(model_name),
        version=str(model_version),
        links=model_links(model_name, model_version),
        **kwargs,
    )


def record_training(
    session: Session,
    actor: Principal,
    steps: TrainingSteps,
    *,
    model_name: str,
    model_version: int,
    signature: Mapping[str, Any],
    metrics: Mapping[str, Any],
    params: Mapping[str, Any],
) -> None:
    """Record the features, training and evaluation runs of a just-registered version."""
    links = model_links(model_name, model_version)
    features = emit.DatasetRef(
        None,
        naming.feature_set(FEATURE_SET),
        version=steps.build_id,
        facets={"schema": _schema(signature)},
        links={naming.FEATURE_SET: FEATURE_SET, naming.BUILD_ID: steps.build_id},
    )
    _record_features(session, actor, steps, features)
    emit.record_run(
        session,
        actor,
        job=naming.TRAIN_JOB,
        inputs=[features],
        outputs=[model_ref(model_name, model_version, facets={"schema": _schema(signature)})],
        started_at=steps.training.started_at,
        ended_at=steps.training.ended_at,
        run_facets={"training": emit.facet(TRAINING_FACET, **jsonsafe(dict(params)))},
        job_facets=_job_type("TRAIN"),
        links=links,
    )
    emit.record_run(
        session,
        actor,
        job=naming.EVALUATE_JOB,
        inputs=[model_ref(model_name, model_version), features],
        outputs=[
            emit.DatasetRef(
                None, naming.evaluations(model_name), version=str(model_version), links=links
            )
        ],
        started_at=steps.evaluation.started_at,
        ended_at=steps.evaluation.ended_at,
        run_facets={"evaluation": emit.facet(EVALUATION_FACET, **jsonsafe(dict(metrics)))},
        job_facets=_job_type("EVALUATE"),
        links=links,
    )


def _record_features(
    session: Session, actor: Principal, steps: TrainingSteps, features: emit.DatasetRef
) -> None:
    batches = [
        emit.DatasetRef(
            None,
            naming.accepted_rows(b["contract_id"]),
            version=str(b["batch_id"]),
            input_facets={
                "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                    rowCount=int(b["rows_used"])
                )
            },
        )
        for b in steps.batches
    ]
    output = emit.DatasetRef(
        features.namespace,
        features.name,
        version=features.version,
        facets=features.facets,
        output_facets={
            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=steps.feature_rows
            )
        },
        links=features.links,
    )
    emit.record_run(
        session,
        actor,
        job=naming.FEATURES_JOB,
        inputs=batches,
        outputs=[output],
        started_at=steps.features.started_at,
        ended_at=steps.features.ended_at,
        run_facets={
            "featureBuild": emit.facet(
                FEATURES_FACET, splitRows=dict(steps.split_rows), **jsonsafe(steps.recipe)
            )
        },
        job_facets=_job_type("FEATURES"),
        links=dict(features.links),
    )


def serve_run_id(namespace: str, model_name: str, window: str) -> uuid.UUID:
    """The one `ranker.serve` run of a model's prediction window."""
    return uuid.uuid5(_SERVE_RUN_NAMESPACE, f"{namespace}\n{model_name}\n{window}")


def record_serving(
    session: Session,
    actor: Principal,
    *,
    model_name: str,
    model_version: int,
    window_start: datetime,
    window_length: timedelta,
) -> uuid.UUID:
    """Record that `model_version` served predictions in a window (in the log's transaction).

    One run per window, whose inputs are every model version served in it: each version adds
    its own START and COMPLETE events, fully determined by (window, version), so recording it
    again, from any process, changes nothing. The run spans the window's bounds.
    """
    window = naming.prediction_window(window_start, window_length)
    links = {naming.MODEL_NAME: model_name, naming.PREDICTION_WINDOW: window}
    return emit.record_run(
        session,
        actor,
        job=naming.SERVE_JOB,
        run_id=serve_run_id(emit.namespace_of(session), model_name, window),
        inputs=[model_ref(model_name, model_version)],
        outputs=[
            emit.DatasetRef(None, naming.predictions(model_name), version=window, links=links)
        ],
        started_at=window_start,
        ended_at=window_start + window_length,
        job_facets=_job_type("SERVE", processing="STREAMING"),
        links=links,
    )


def _schema(signature: Mapping[str, Any]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(
                name=str(f["name"]),
                type=str(f["dtype"]),
                description=str(f.get("transform") or f.get("kind") or "") or None,
            )
            for f in signature.get("inputs", [])
        ]
    )


def _job_type(kind: str, processing: str = "BATCH") -> dict[str, Any]:
    return {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType=processing, integration="DRIFTGATE", jobType=kind
        )
    }
