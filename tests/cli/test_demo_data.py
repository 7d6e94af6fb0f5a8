"""The demo's batches are clean feed rows: no drift against the feed the ranker trains on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from checks.profile import profile_frame
from cli.flows import DEMO_COLUMNS, DEMO_FEED_DAYS, demo_impressions
from contracts.loader import load_contract_document, parse_document
from core.clock import utcnow
from monitors.drift.compare import (
    DriftPolicy,
    WindowDrift,
    compare_window,
    contract_policy,
    monitored_fields,
)
from monitors.drift.profiles import FieldProfile, merge_window
from ranker.feed import generate
from ranker.feed_config import FeedConfig

CONTRACT = Path(__file__).resolve().parents[2] / "ranker/contracts/impressions.contract.yaml"


@pytest.fixture(scope="module")
def spec():  # type: ignore[no-untyped-def]
    return load_contract_document(parse_document(CONTRACT.read_bytes()))[0]


@pytest.fixture(scope="module")
def reference(spec) -> dict[str, FieldProfile]:  # type: ignore[no-untyped-def]
    """A day of the feed `ranker train` posts, profiled hour by hour as batches are."""
    origin = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=DEMO_FEED_DAYS)
    last = DEMO_FEED_DAYS * 24
    feed = generate(FeedConfig(), origin, last - 24, last).select(DEMO_COLUMNS)
    hours = feed.with_columns(pl.col("event_time").dt.hour().alias("_h")).partition_by("_h")
    parts = [h.drop("_h") for h in hours]
    return merge_window(kv for part in parts for kv in profile_frame(part, spec).items())


def judge(spec, reference: dict[str, FieldProfile], frame: pl.DataFrame) -> WindowDrift:  # type: ignore[no-untyped-def]
    current = merge_window(profile_frame(frame, spec).items())
    policy = contract_policy(spec, DriftPolicy())
    fields = [f for f in monitored_fields(spec) if f.name in DEMO_COLUMNS]
    return compare_window(reference, current, fields, policy, rows=frame.height)


def test_demo_batches_do_not_alert_against_the_feed_the_ranker_trains_on(spec, reference) -> None:  # type: ignore[no-untyped-def]
    for seed in (1, 2, 3, 4):
        frame = demo_impressions(2_000, seed=seed, now=utcnow())
        assert frame.columns == DEMO_COLUMNS
        drift = judge(spec, reference, frame)
        assert drift.verdict in ("ok", "warn"), drift.reason


def test_rows_of_another_population_do_alert_against_the_same_reference(spec, reference) -> None:  # type: ignore[no-untyped-def]
    """What the demo posted before: uniform countries and positions — the check can fail."""
    frame = demo_impressions(2_000, seed=1, now=utcnow())
    rng = np.random.default_rng(0)
    other = frame.with_columns(
        pl.Series("country", rng.choice(["US", "GB", "DE", "FR", "IN", "BR", "JP"], 2_000)),
        pl.Series("position", rng.integers(0, 50, 2_000)),
    )
    drift = judge(spec, reference, other)
    assert drift.verdict == "alert"
    assert {"country", "position"} & {k for k, f in drift.fields.items() if f.severity == "alert"}


def test_demo_event_ids_are_its_own_and_stale_rows_are_hours_old() -> None:
    now = utcnow()
    good = demo_impressions(500, seed=1, now=now)
    stale = demo_impressions(500, seed=4, now=now - timedelta(hours=6))
    assert good["event_id"].n_unique() == good.height
    assert not set(good["event_id"]) & set(stale["event_id"])
    assert stale["event_time"].max() < now - timedelta(hours=5)
    assert good["event_time"].max() >= now - timedelta(hours=2)
