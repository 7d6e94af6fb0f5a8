"""Features never look into the future, splits leave purge gaps, serving matches training."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from ranker.encoding import FeatureSpec
from ranker.features import (
    FeatureParams,
    attributed_labels,
    click_events,
    engagement,
    impression_features,
    smooth,
)
from ranker.feed import generate
from ranker.metrics import calibration, ndcg_at_k, roc_auc
from ranker.online import COL, Context, OnlineFeatures
from ranker.snapshot import build_snapshot
from ranker.splits import plan_splits, split_column
from tests.support.trained import ORIGIN, small_config

H = timedelta(hours=1)
PARAMS = FeatureParams()


@pytest.fixture(scope="module")
def feed() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two days of impressions and the clicks known by the end of them."""
    truth = generate(small_config(), ORIGIN, 0, 48)
    end = ORIGIN + 48 * H
    labels = truth.filter(pl.col("clicked"), pl.col("label_time") < end).select(
        "event_id", "label_time", "clicked", "dwell_ms"
    )
    return truth.drop("p_click", "clicked", "label_time", "dwell_ms"), labels


def _features(imps: pl.DataFrame, labels: pl.DataFrame, as_of) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    clicks = click_events(imps, labels)
    return impression_features(imps, clicks, as_of=as_of, prior_ctr=0.04, params=PARAMS)


def test_features_of_past_impressions_do_not_change_when_the_future_is_removed(feed) -> None:  # type: ignore[no-untyped-def]
    imps, labels = feed
    cut = ORIGIN + 30 * H
    full = _features(imps, labels, ORIGIN + 48 * H).filter(pl.col("event_time") < cut)
    past_imps = imps.filter(pl.col("event_time") < cut)
    past_labels = labels.filter(pl.col("label_time") < cut)
    truncated = _features(past_imps, past_labels, cut)
    assert full.height == truncated.height > 10_000
    assert full.equals(truncated)


def test_an_impression_never_counts_its_own_click(feed) -> None:  # type: ignore[no-untyped-def]
    imps, labels = feed
    feats = _features(imps, labels, ORIGIN + 48 * H)
    cols = ["user_ctr", "uc_ctr", "item_ctr", "creator_ctr", "user_clicks_24h", "item_clicks"]
    clicked = feats.join(labels.select("event_id"), on="event_id", how="semi")
    for row in clicked.sample(3, seed=1).iter_rows(named=True):
        without = labels.filter(pl.col("event_id") != row["event_id"])
        again = _features(imps, without, ORIGIN + 48 * H).filter(
            pl.col("event_id") == row["event_id"]
        )
        assert again.select(cols).row(0) == tuple(row[c] for c in cols)


def test_splits_leave_one_attribution_window_so_no_label_comes_from_the_next_split(feed) -> None:  # type: ignore[no-untyped-def]
    imps, labels = feed
    w = timedelta(hours=6)
    plan = plan_splits(ORIGIN, ORIGIN + 48 * H, attribution=w)
    assert plan.train[0] == ORIGIN and plan.train[1] + w == plan.val[0]
    assert plan.val[1] + w == plan.test[0] and plan.test[1] + w == plan.as_of
    clicks = click_events(imps, labels)
    y = attributed_labels(imps, clicks, window=w, as_of=plan.as_of)
    rows = imps.with_columns(y.alias("label")).with_columns(
        split_column(pl.col("event_time"), plan)
    )
    assert set(rows["split"].drop_nulls().unique()) == {"train", "val", "test"}
    # Every positive training label is known before the first validation impression.
    known = rows.filter(pl.col("split") == "train", pl.col("label") == 1).join(
        clicks.select("event_id", "label_time"), on="event_id"
    )
    assert known["label_time"].max() < plan.val[0]  # type: ignore[operator]
    val_known = rows.filter(pl.col("split") == "val", pl.col("label") == 1).join(
        clicks.select("event_id", "label_time"), on="event_id"
    )
    assert val_known["label_time"].max() < plan.test[0]  # type: ignore[operator]
    # Impressions in the gaps belong to no split.
    gap = rows.filter(pl.col("event_time").is_between(plan.train[1], plan.val[0], closed="left"))
    assert gap.height and gap["split"].null_count() == gap.height


def test_a_window_too_short_for_three_attribution_windows_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        plan_splits(ORIGIN, ORIGIN + 12 * H, attribution=timedelta(hours=6))
    assert exc.value.field == "from" and exc.value.rule == "window_long_enough"


def test_serving_features_equal_training_features_for_a_query_at_the_snapshot_time(feed) -> None:  # type: ignore[no-untyped-def]
    imps, labels = feed
    at = ORIGIN + 48 * H
    clicks = click_events(imps, labels)
    spec = FeatureSpec.fit(_features(imps, labels, at), PARAMS, 0.04)
    online = OnlineFeatures(build_snapshot(imps, clicks, as_of=at, spec=spec), spec)
    last = imps.sort("event_time").group_by("user_id").agg(pl.all().last()).sort("user_id").head(8)
    items = imps.group_by("item_id").agg(pl.all().last()).sort("item_id").head(40)
    for user in last.iter_rows(named=True):
        queries = items.with_columns(
            pl.lit(user["user_id"]).alias("user_id"),
            pl.lit(user["country"]).alias("country"),
            pl.lit(user["user_age_bucket"]).alias("user_age_bucket"),
            pl.lit(at).alias("t"),
        )
        counts = engagement(queries, imps, clicks, at="t", as_of=at, params=PARAMS)
        trained = smooth(counts, queries["t"], 0.04, PARAMS)
        raw, cat = online.compute(
            user["user_id"],
            items["item_id"].to_list(),
            Context(now_us=int(at.timestamp() * 1e6), country=user["country"]),
        )
        for name in (
            "user_imps",
            "user_ctr",
            "user_imps_24h",
            "user_clicks_24h",
            "user_hours_since_click",
            "uc_imps",
            "uc_ctr",
            "segment_ctr",
            "item_imps",
            "item_ctr",
            "item_imps_24h",
            "item_clicks_24h",
            "creator_imps",
            "creator_ctr",
        ):
            np.testing.assert_allclose(
                raw[:, COL[name]], trained[name].to_numpy(), rtol=1e-5, err_msg=name
            )
        age = (at - items["item_created_at"]).dt.total_microseconds().to_numpy() / 3.6e9
        np.testing.assert_allclose(raw[:, COL["item_age_hours"]], age, rtol=1e-5)
        assert (raw[:, COL["position"]] == 0).all() and (cat[:, -1] > 0).all()


def test_unknown_users_and_items_get_the_cold_start_row(feed) -> None:  # type: ignore[no-untyped-def]
    imps, labels = feed
    at = ORIGIN + 48 * H
    clicks = click_events(imps, labels)
    spec = FeatureSpec.fit(_features(imps, labels, at), PARAMS, 0.04)
    online = OnlineFeatures(build_snapshot(imps, clicks, as_of=at, spec=spec), spec)
    raw, cat = online.compute(
        "nobody", ["nothing", "else"], Context(now_us=int(at.timestamp() * 1e6))
    )
    assert np.isfinite(raw).all() and (cat[:, 0] == 0).all()  # unknown country
    assert (raw[:, COL["user_imps"]] == 0).all() and (raw[:, COL["item_imps"]] == 0).all()
    assert raw[0, COL["item_ctr"]] == pytest.approx(0.04)
    assert raw[0, COL["user_hours_since_click"]] == PARAMS.recency_cap_hours


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=40))
def test_auc_equals_the_share_of_correctly_ordered_pairs(pairs) -> None:  # type: ignore[no-untyped-def]
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        assert np.isnan(roc_auc(y, s))
        return
    brute = np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg])
    assert roc_auc(y, s) == pytest.approx(brute)


def test_ndcg_and_calibration_on_known_cases() -> None:
    req = np.array([1, 1, 1, 2, 2])
    y = np.array([0, 1, 0, 1, 0])
    perfect = np.array([0.1, 0.9, 0.2, 0.8, 0.1])
    assert ndcg_at_k(req, y, perfect) == pytest.approx(1.0)
    worst_first = np.array([0.9, 0.1, 0.5, 0.1, 0.8])  # the click is last in both requests
    assert ndcg_at_k(req, y, worst_first) == pytest.approx((1 / np.log2(4) + 1 / np.log2(3)) / 2)
    cal = calibration(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5]))
    assert cal["calibration_ratio"] == pytest.approx(1.0) and cal["ece"] == pytest.approx(0.0)
