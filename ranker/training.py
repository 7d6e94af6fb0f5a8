"""Train and evaluate the ranker on a window of accepted feed data; build its artifact payload.

accepted batches → point-in-time features → time split with purge gaps → PyTorch fit with
early stopping → offline evaluation on the test split (model vs popularity vs oracle) →
online feature snapshot → artifact payload. Deterministic for a given window and config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInput
from ranker import dataset, evaluation
from ranker.encoding import FeatureSpec
from ranker.features import (
    FeatureParams,
    attributed_labels,
    click_events,
    impression_features,
)
from ranker.lineage_runs import Span, TrainingSteps, feature_build_id
from ranker.snapshot import build_snapshot
from ranker.splits import SplitPlan, plan_splits, split_column

DEFAULT_ATTRIBUTION = timedelta(hours=6)
MIN_TRAIN_ROWS = 1000


@dataclass
class Prepared:
    """Every usable impression with its features, its label and its split."""

    frame: pl.DataFrame
    clicks: pl.DataFrame
    prior_ctr: float

    def split(self, name: str) -> pl.DataFrame:
        return self.frame.filter(pl.col("split") == name)


def prepare(
    data: dataset.WindowData,
    plan: SplitPlan,
    params: FeatureParams,
    prior_ctr: float | None = None,
) -> Prepared:
    """Features (point in time) and labels (within the attribution window, known by `as_of`).

    The CTR prior comes from the training split's labels unless given (re-evaluation).
    """
    imps, clicks = data.impressions, click_events(data.impressions, data.labels)
    labels = attributed_labels(imps, clicks, window=plan.attribution, as_of=plan.as_of)
    split = imps.select(split_column(pl.col("event_time"), plan)).to_series()
    if prior_ctr is None:
        train_labels = labels.filter(split == "train")
        if train_labels.len() < MIN_TRAIN_ROWS:
            raise InvalidInput(
                f"only {train_labels.len()} training impressions in the window; "
                f"need at least {MIN_TRAIN_ROWS}",
                field="from",
                rule="enough_training_data",
            )
        mean = train_labels.mean()
        prior_ctr = (float(mean) if isinstance(mean, int | float) else 0.0) or 1e-3
    frame = impression_features(
        imps, clicks, as_of=plan.as_of, prior_ctr=prior_ctr, params=params
    ).with_columns(labels.alias("label"), split.alias("split"))
    return Prepared(frame=frame, clicks=clicks, prior_ctr=prior_ctr)


@dataclass
class TrainedModel:
    payload: dict[str, Any]
    metrics: dict[str, Any]
    batches: list[dict[str, Any]]
    contract_versions: dict[str, list[str]]
    steps: TrainingSteps
    params: dict[str, Any] = field(default_factory=dict)


def train_window(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    attribution: timedelta = DEFAULT_ATTRIBUTION,
    train_config: Any = None,
    params: FeatureParams | None = None,
    on_epoch: Callable[[dict[str, float], int], None] | None = None,
) -> TrainedModel:
    """Train on accepted data in [start, end) and evaluate on its test split.

    Records nothing: what each step did comes back as `steps`, for lineage once the model
    version exists (`ranker.lineage_runs.record_training`).
    """
    from ranker import nn  # lazy: torch

    # polars compares with the feed's `UTC` columns only in that spelling (bounds read from
    # PostgreSQL come back as `Etc/UTC`)
    start, end = start.astimezone(UTC), end.astimezone(UTC)

    config = train_config or nn.TrainConfig()
    params = params or FeatureParams()
    plan = plan_splits(start, end, attribution=attribution)
    features_started = utcnow()
    data = dataset.load_window(session, start=start, end=end)
    if data.impressions.height == 0:
        raise InvalidInput(
            f"no accepted impressions between {start.isoformat()} and {end.isoformat()}",
            field="from",
            rule="has_data",
        )
    prep = prepare(data, plan, params)
    features_done = utcnow()
    train, val = prep.split("train"), prep.split("val")
    spec = FeatureSpec.fit(train, params, prep.prior_ctr)
    x_train = spec.numeric(train)
    shape = nn.ModelShape(
        n_numeric=x_train.shape[1],
        cardinalities=spec.cardinalities(),
        mean=x_train.mean(axis=0).astype(float).tolist(),
        std=(x_train.std(axis=0) + 1e-6).astype(float).tolist(),
    )
    result = nn.fit(
        shape,
        config,
        (x_train, spec.categorical(train), train["label"].to_numpy()),
        (spec.numeric(val), spec.categorical(val), val["label"].to_numpy()),
        on_epoch=on_epoch,
    )
    model = nn.load(shape, config, result.state_dict)
    trained_at = utcnow()
    metrics = evaluation.evaluate_split(session, model, spec, prep.split("test"), plan)
    metrics["rows"] = {s: prep.split(s).height for s in ("train", "val", "test")}
    recipe = {"splits": plan.to_json(), "params": asdict(params)}
    steps = TrainingSteps(
        build_id=feature_build_id(data.batches, recipe),
        recipe=recipe,
        batches=data.batches,
        feature_rows=prep.frame.height,
        split_rows=metrics["rows"],
        features=Span(features_started, features_done),
        training=Span(features_done, trained_at),
        evaluation=Span(trained_at, utcnow()),
    )
    snapshot = build_snapshot(data.impressions, prep.clicks, as_of=end, spec=spec)
    training = {
        "window": [start.isoformat(), end.isoformat()],
        "splits": plan.to_json(),
        "batches": data.batches,
        "contract_versions": data.contract_versions(),
        "skipped_impressions": data.skipped_impressions,
        "history": result.history,
        "best_epoch": result.best_epoch,
    }
    payload = {
        "state_dict": result.state_dict,
        "model": {
            "n_numeric": shape.n_numeric,
            "cardinalities": list(shape.cardinalities),
            "mean": shape.mean,
            "std": shape.std,
            "train_config": config.to_json(),
        },
        "features": spec.to_json(),
        "signature": spec.signature(),
        "training": training,
        "metrics": metrics,
        "snapshot": snapshot.to_payload(),
    }
    return TrainedModel(
        payload=payload,
        metrics=metrics,
        batches=data.batches,
        contract_versions=data.contract_versions(),
        steps=steps,
        params={
            "train_config": config.to_json(),
            "features": {"params": spec.to_json()["params"], "prior_ctr": spec.prior_ctr},
            "window": training["window"],
            "splits": plan.to_json(),
            "best_epoch": result.best_epoch,
            "epochs": len(result.history),
        },
    )


def plan_from_json(doc: dict[str, Any]) -> SplitPlan:
    def pair(v: list[str]) -> tuple[datetime, datetime]:
        return datetime.fromisoformat(v[0]), datetime.fromisoformat(v[1])

    return SplitPlan(
        train=pair(doc["train"]),
        val=pair(doc["val"]),
        test=pair(doc["test"]),
        as_of=datetime.fromisoformat(doc["as_of"]),
        attribution=timedelta(hours=float(doc["attribution_hours"])),
    )


def model_from_payload(payload: dict[str, Any]) -> tuple[Any, FeatureSpec]:
    from ranker import nn

    m = payload["model"]
    shape = nn.ModelShape(
        n_numeric=int(m["n_numeric"]),
        cardinalities=tuple(int(c) for c in m["cardinalities"]),
        mean=list(m["mean"]),
        std=list(m["std"]),
    )
    config = nn.TrainConfig.from_json(m["train_config"])
    return nn.load(shape, config, payload["state_dict"]), FeatureSpec.from_json(payload["features"])


def reevaluate(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    """Recompute the registered test-split metrics from the exact batches the model names."""
    training = payload["training"]
    start, end = (datetime.fromisoformat(v) for v in training["window"])
    plan = plan_from_json(training["splits"])
    model, spec = model_from_payload(payload)
    data = dataset.load_batches(session, training["batches"], start=start, end=end)
    prep = prepare(data, plan, spec.params, prior_ctr=spec.prior_ctr)
    return evaluation.evaluate_split(session, model, spec, prep.split("test"), plan)


def evaluate_window(
    session: Session, payload: dict[str, Any], *, start: datetime, end: datetime
) -> dict[str, Any]:
    """Score a model on other data: every mature impression shown in [start, end).

    Features get the same amount of history the model was trained with, so the window's
    first impressions are not judged on empty histories.
    """
    training = payload["training"]
    t0, t1 = (datetime.fromisoformat(v) for v in training["window"])
    model, spec = model_from_payload(payload)
    attribution = timedelta(hours=float(training["splits"]["attribution_hours"]))
    if end - attribution <= start:
        raise InvalidInput(
            f"the window must be longer than the attribution window ({attribution})",
            field="to",
            rule="window_long_enough",
        )
    plan = SplitPlan(
        train=(start, start),
        val=(start, start),
        test=(start, end - attribution),
        as_of=end,
        attribution=attribution,
    )
    data = dataset.load_window(session, start=start - (t1 - t0), end=end)
    prep = prepare(data, plan, spec.params, prior_ctr=spec.prior_ctr)
    test = prep.split("test")
    if test.height == 0:
        raise InvalidInput(
            "no accepted impressions with mature labels in the window",
            field="from",
            rule="has_data",
        )
    out = evaluation.evaluate_split(session, model, spec, test, plan)
    out["rows"] = {"test": test.height}
    return out
