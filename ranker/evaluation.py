"""Offline evaluation on a labelled split: the model next to a popularity baseline and the
oracle that scores with the generator's true click probability."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from ranker import repository
from ranker.encoding import FeatureSpec
from ranker.feed import click_within, generate, hour_floor, hours_between
from ranker.feed_config import FeedConfig
from ranker.metrics import evaluate
from ranker.splits import SplitPlan

SCORERS = ("model", "popularity", "oracle")


def model_scores(model: Any, spec: FeatureSpec, rows: pl.DataFrame) -> np.ndarray:
    from ranker import nn  # lazy: torch

    logits = nn.predict_logits(model, spec.numeric(rows), spec.categorical(rows))
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def popularity_scores(rows: pl.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The item's CTR so far (known clicks over impressions, smoothed towards the prior)."""
    a = spec.params.prior_strength
    return (
        (rows["item_clicks"].cast(pl.Float64) + a * spec.prior_ctr)
        / (rows["item_imps"].cast(pl.Float64) + a)
    ).to_numpy()


def oracle_scores(
    session: Session, rows: pl.DataFrame, attribution: timedelta
) -> tuple[np.ndarray, np.ndarray]:
    """The generator's true probability of a click within the attribution window, for rows
    that came from a recorded synthetic feed run (a mask says which did)."""
    if rows.height == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    lo, hi = rows["event_time"].min(), rows["event_time"].max()
    assert isinstance(lo, datetime) and isinstance(hi, datetime)
    truth = []
    for run in repository.feed_runs_overlapping(session, start=lo, end=hi + timedelta(hours=1)):
        config = FeedConfig.model_validate(run.config)
        start = max(
            hours_between(run.origin, hour_floor(lo)), hours_between(run.origin, run.window_start)
        )
        end = min(hours_between(run.origin, hi) + 1, hours_between(run.origin, run.window_end))
        if end <= start:
            continue
        frame = generate(config, run.origin, start, end).select("event_id", "p_click")
        truth.append(frame.with_columns(pl.col("p_click") * click_within(config, attribution)))
    if not truth:
        return np.zeros(rows.height), np.zeros(rows.height, dtype=bool)
    known = pl.concat(truth).unique("event_id", keep="last")
    joined = rows.select("event_id").join(known, on="event_id", how="left", maintain_order="left")
    p = joined["p_click"]
    return p.fill_null(0.0).to_numpy(), p.is_not_null().to_numpy()


def evaluate_split(
    session: Session, model: Any, spec: FeatureSpec, rows: pl.DataFrame, plan: SplitPlan
) -> dict[str, Any]:
    """One metrics row per scorer on the same rows (the oracle on the rows it knows)."""
    y = rows["label"].to_numpy()
    requests = rows["request_id"].to_numpy()
    table: dict[str, Any] = {
        "model": evaluate(y, model_scores(model, spec, rows), requests),
        "popularity": evaluate(y, popularity_scores(rows, spec), requests),
    }
    oracle, known = oracle_scores(session, rows, plan.attribution)
    table["oracle"] = evaluate(y[known], oracle[known], requests[known]) if known.any() else None
    table["oracle_coverage"] = float(known.mean()) if len(known) else 0.0
    table["test_window"] = [plan.test[0].isoformat(), plan.test[1].isoformat()]
    return table


def format_table(metrics: dict[str, Any]) -> str:
    """The metrics table as printed by the CLI."""
    head = (
        f"{'scorer':<12}{'AUC':>8}{'log loss':>10}{'NDCG@10':>9}"
        f"{'pred CTR':>10}{'obs CTR':>9}{'ECE':>8}"
    )
    lines = [head, "-" * len(head)]
    for name in SCORERS:
        m = metrics.get(name)
        if not m:
            lines.append(f"{name:<12}{'n/a (not a synthetic feed)':>40}")
            continue
        lines.append(
            f"{name:<12}{m['auc']:>8.4f}{m['log_loss']:>10.4f}{m['ndcg@10']:>9.4f}"
            f"{m['predicted_ctr']:>10.4f}{m['observed_ctr']:>9.4f}{m['ece']:>8.4f}"
        )
    model, pop, oracle = metrics.get("model"), metrics.get("popularity"), metrics.get("oracle")
    if model and pop:
        lines.append(f"model - popularity AUC: {model['auc'] - pop['auc']:+.4f}")
    if model and oracle:
        lines.append(f"oracle - model AUC:     {oracle['auc'] - model['auc']:+.4f}")
    if oracle and metrics.get("oracle_coverage", 1.0) < 1.0:
        lines.append(f"(oracle on {metrics['oracle_coverage']:.1%} of test rows)")
    return "\n".join(lines)
