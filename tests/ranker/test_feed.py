"""The synthetic feed: deterministic, consistent across windows, and every knob does its job."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from ranker.feed import IMPRESSION_COLUMNS, LABEL_COLUMNS, click_within, deliver, generate
from ranker.feed_config import (
    ConceptDrift,
    CovariateShift,
    LabelOutage,
    NullSpike,
    SchemaChange,
    StaleFeed,
    UnitChange,
)
from tests.support.trained import ORIGIN, small_config

H = timedelta(hours=1)


def _batches(config, start: int, end: int, kind: str):  # type: ignore[no-untyped-def]
    return [b for b in deliver(config, ORIGIN, start, end) if b.contract_id == kind]


def test_same_seed_same_feed_and_another_seed_another_feed() -> None:
    a = generate(small_config(), ORIGIN, 0, 4)
    assert a.equals(generate(small_config(), ORIGIN, 0, 4))
    b = generate(small_config(seed=8), ORIGIN, 0, 4)
    assert not a.select("user_id", "item_id").equals(b.select("user_id", "item_id"))
    assert (
        a["event_id"].is_unique().all() and a["event_id"].str.contains("^evt_[0-9a-f]{16}$").all()
    )


def test_any_window_agrees_with_the_longer_window_it_is_part_of() -> None:
    whole = generate(small_config(), ORIGIN, 0, 6)
    parts = pl.concat(
        [generate(small_config(), ORIGIN, 0, 2), generate(small_config(), ORIGIN, 2, 6)]
    )
    assert whole.equals(parts)


def test_clicks_follow_the_true_probability_and_arrive_later_with_a_long_tail() -> None:
    feed = generate(small_config(), ORIGIN, 0, 48)
    assert abs(feed["clicked"].mean() - feed["p_click"].mean()) < 0.004  # type: ignore[operator]
    clicks = feed.filter(pl.col("clicked"))
    delay_min = (clicks["label_time"] - clicks["event_time"]).dt.total_seconds() / 60
    assert (delay_min > 0).all()
    assert 22 < delay_min.median() < 40  # type: ignore[operator]
    assert (delay_min > 6 * 60).mean() > 0.02  # type: ignore[operator]
    assert delay_min.max() <= 72 * 60  # the cap
    # Position bias and freshness are real signal: top slots and fresh items are clicked more.
    top = feed.filter(pl.col("position") == 0)["p_click"].mean()
    low = feed.filter(pl.col("position") >= 15)["p_click"].mean()
    assert top > 1.5 * low  # type: ignore[operator]


def test_delivered_batches_match_the_contract_columns_and_labels_are_clicks_in_window() -> None:
    batches = deliver(small_config(), ORIGIN, 24, 30)
    imps = [b for b in batches if b.contract_id == "impressions"]
    labels = [b for b in batches if b.contract_id == "labels"]
    assert len(imps) == 6 and all(b.frame.columns == IMPRESSION_COLUMNS for b in imps)
    assert all(b.delivered_at == ORIGIN + (b.hour + 1) * H for b in imps)
    frame = pl.concat([b.frame for b in labels])
    assert frame.columns == LABEL_COLUMNS and frame["clicked"].all()
    lo, hi = ORIGIN + 24 * H, ORIGIN + 30 * H
    assert frame["label_time"].min() >= lo and frame["label_time"].max() < hi  # type: ignore[operator]
    # Clicks on impressions from before the window (still arriving) are included.
    early = generate(small_config(), ORIGIN, 0, 24)["event_id"]
    assert frame["event_id"].is_in(early.implode()).any()


def test_covariate_shift_changes_the_user_mix_and_adds_categories_only_after_it() -> None:
    shift = CovariateShift(at_hours=12, country_mix={"JP": 1.0}, new_categories=2)
    feed = generate(small_config(covariate_shift=shift), ORIGIN, 0, 24)
    before = feed.filter(pl.col("event_time") < ORIGIN + 12 * H)
    after = feed.filter(pl.col("event_time") >= ORIGIN + 12 * H)
    assert (after["country"] == "JP").mean() == 1.0
    assert (before["country"] == "JP").mean() < 0.2  # type: ignore[operator]
    assert not before["item_category"].str.starts_with("new").any()
    assert after["item_category"].str.starts_with("new").any()


def test_unit_change_sends_item_length_in_milliseconds_and_dwell_in_seconds() -> None:
    clean = _batches(small_config(), 0, 4, "impressions")
    cfg = small_config(unit_change=UnitChange(at_hours=2, field="item_length_s"))
    bad = _batches(cfg, 0, 4, "impressions")
    assert bad[0].frame.equals(clean[0].frame)
    assert np.allclose(bad[3].frame["item_length_s"], clean[3].frame["item_length_s"] * 1000)
    cfg = small_config(unit_change=UnitChange(at_hours=0, field="dwell_ms"))
    dwell = pl.concat([b.frame for b in _batches(cfg, 0, 6, "labels")])["dwell_ms"]
    assert (
        dwell.max()
        < 1000
        <= pl.concat([b.frame for b in _batches(small_config(), 0, 6, "labels")])["dwell_ms"].min()
    )  # type: ignore[operator]


def test_null_spike_nulls_the_share_of_values_only_inside_its_window() -> None:
    cfg = small_config(null_spike=NullSpike(at_hours=2, hours=2, field="country", fraction=0.5))
    nulls = [
        b.frame["country"].null_count() / b.frame.height for b in _batches(cfg, 0, 6, "impressions")
    ]
    assert nulls[0] == nulls[1] == nulls[4] == nulls[5] == 0
    assert 0.35 < nulls[2] < 0.65 and 0.35 < nulls[3] < 0.65


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("rename_item_id", lambda f: "itemId" in f.columns and "item_id" not in f.columns),
        ("drop_country", lambda f: "country" not in f.columns),
        ("position_as_text", lambda f: f.schema["position"] == pl.String),
    ],
)
def test_schema_change_alters_the_producers_schema_from_its_hour_on(kind, check) -> None:  # type: ignore[no-untyped-def]
    cfg = small_config(schema_change=SchemaChange(at_hours=1, kind=kind))
    frames = [b.frame for b in _batches(cfg, 0, 3, "impressions")]
    assert frames[0].columns == IMPRESSION_COLUMNS and frames[0].schema["position"] == pl.Int64
    assert check(frames[1]) and check(frames[2])


def test_concept_drift_changes_click_odds_only_after_it_starts() -> None:
    clean = generate(small_config(), ORIGIN, 0, 12)
    drifted = generate(
        small_config(concept_drift=ConceptDrift(at_hours=6, strength=1.0)), ORIGIN, 0, 12
    )
    cut = pl.col("event_time") < ORIGIN + 6 * H
    assert drifted.filter(cut)["p_click"].equals(clean.filter(cut)["p_click"])
    after_clean, after_drift = clean.filter(~cut)["p_click"], drifted.filter(~cut)["p_click"]
    assert np.corrcoef(after_clean.to_numpy(), after_drift.to_numpy())[0, 1] < 0.9
    assert drifted.select("user_id", "item_id").equals(clean.select("user_id", "item_id"))


def test_label_outage_drops_labels_or_delivers_them_as_a_backlog() -> None:
    outage = {"at_hours": 10, "hours": 4}
    clean = _batches(small_config(), 8, 20, "labels")
    dropped = _batches(small_config(label_outage=LabelOutage(**outage, drop=True)), 8, 20, "labels")
    backlog = _batches(small_config(label_outage=LabelOutage(**outage)), 8, 20, "labels")
    assert {b.hour for b in clean} >= set(range(10, 14))
    assert not {b.hour for b in dropped} & set(range(10, 14))
    assert not {b.hour for b in backlog} & set(range(10, 14))
    late = next(b for b in backlog if b.hour == 14)
    assert late.frame["label_time"].min() < ORIGIN + 10.5 * H  # type: ignore[operator]
    total = lambda bs: sum(b.frame.height for b in bs)  # noqa: E731
    assert total(backlog) == total(clean) > total(dropped)


def test_stale_feed_delivers_impression_batches_late() -> None:
    cfg = small_config(stale_feed=StaleFeed(at_hours=3, lag_hours=5))
    imps = _batches(cfg, 0, 6, "impressions")
    lags = [
        (b.delivered_at - (ORIGIN + (b.hour + 1) * H)) / H
        for b in sorted(imps, key=lambda b: b.hour)
    ]
    assert lags == [0, 0, 0, 5, 5, 5]


def test_knobs_are_validated_with_the_field_that_is_wrong() -> None:
    with pytest.raises(ValidationError, match="country_mix"):
        CovariateShift(at_hours=1, country_mix={"XX": 1.0})
    with pytest.raises(ValidationError, match="fraction"):
        NullSpike(at_hours=1, hours=1, field="country", fraction=1.5)
    with pytest.raises(ValidationError, match="extra"):
        small_config(colour="red")
    with pytest.raises(ValueError, match="horizon"):
        generate(small_config(horizon_days=1), ORIGIN, 0, 48)


def test_attributed_click_odds_scale_with_the_window() -> None:
    cfg = small_config()
    assert click_within(cfg, timedelta(minutes=30)) == pytest.approx(0.5)
    assert 0.9 < click_within(cfg, timedelta(hours=6)) < 0.97
    assert click_within(cfg, timedelta(hours=100)) == 1.0
