"""Point-in-time features from accepted impressions and clicks, with no look into the future.

A feature of an impression shown at time t counts only impressions before t and clicks whose
label had *arrived* before t (its `label_time`), never the impression's own outcome. Counts
come from one cumulative sum per key and an as-of join (strictly before t), so the pipeline
is vectorized end to end. The same function computes the serving snapshot: the features a
query "at time T" would get, which is how serving and training stay consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

USER, ITEM, CREATOR, CATEGORY = "user_id", "item_id", "creator_id", "item_category"
SEGMENT = ["country", "user_age_bucket", CATEGORY]  # who the user is x what the item is

# Raw numeric features, in model order; their transforms live in `transformed`.
NUMERIC_FEATURES = (
    "user_imps",
    "user_ctr",
    "user_imps_24h",
    "user_clicks_24h",
    "user_hours_since_click",
    "user_signup_days",
    "uc_imps",
    "uc_ctr",
    "segment_ctr",
    "item_imps",
    "item_ctr",
    "item_imps_24h",
    "item_clicks_24h",
    "item_age_hours",
    "item_length_s",
    "creator_imps",
    "creator_ctr",
    "position",
)
CATEGORICAL_FEATURES = (
    "country",
    "device",
    "surface",
    "hour",
    "user_age_bucket",
    "item_category",
)
LOG_FEATURES = frozenset(NUMERIC_FEATURES) - {
    "user_ctr",
    "uc_ctr",
    "segment_ctr",
    "item_ctr",
    "creator_ctr",
}
RATE_FEATURES = frozenset({"user_ctr", "uc_ctr", "segment_ctr", "item_ctr", "creator_ctr"})


@dataclass(frozen=True)
class FeatureParams:
    """How features are computed; stored in the artifact so serving computes the same."""

    window_hours: float = 24.0
    prior_strength: float = 20.0  # pseudo-impressions pulling a CTR towards its parent's
    category_prior_strength: float = 10.0
    recency_cap_hours: float = 720.0  # "never clicked" reads as this many hours ago


def click_events(impressions: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """First known click per impression, with the impression's keys (inner join: a label
    without its impression cannot be attributed and is left out)."""
    first = labels.filter(pl.col("clicked")).group_by("event_id").agg(pl.col("label_time").min())
    return first.join(
        impressions.select("event_id", "event_time", USER, ITEM, CREATOR, *SEGMENT),
        on="event_id",
        how="inner",
    )


def _events(
    impressions: pl.DataFrame, clicks: pl.DataFrame, keys: list[str], as_of: datetime
) -> pl.DataFrame:
    """Per key and moment: cumulative impressions and clicks up to and including it."""
    imps = impressions.select(*keys, pl.col("event_time").alias("t"), imp=pl.lit(1), clk=pl.lit(0))
    clks = clicks.select(*keys, pl.col("label_time").alias("t"), imp=pl.lit(0), clk=pl.lit(1))
    return (
        pl.concat([imps, clks])
        .filter(pl.col("t") < as_of, *[pl.col(k).is_not_null() for k in keys])
        .group_by(*keys, "t")
        .agg(pl.col("imp").sum(), pl.col("clk").sum())
        .sort("t")
        .with_columns(
            pl.col("imp").cum_sum().over(keys).alias("cum_imp"),
            pl.col("clk").cum_sum().over(keys).alias("cum_clk"),
        )
        .select(*keys, "t", "cum_imp", "cum_clk")
    )


def _before(queries: pl.DataFrame, events: pl.DataFrame, keys: list[str], at: str) -> pl.DataFrame:
    """Cumulative counts strictly before each query's `at` time (0 when there are none)."""
    joined = (
        queries.select("_q", *keys, at)
        .sort(at)
        .join_asof(
            events,
            left_on=at,
            right_on="t",
            by=keys,
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,
        )
    )
    return joined.select("_q", pl.col("cum_imp").fill_null(0), pl.col("cum_clk").fill_null(0)).sort(
        "_q"
    )


def _counts(
    queries: pl.DataFrame,
    impressions: pl.DataFrame,
    clicks: pl.DataFrame,
    keys: list[str],
    prefix: str,
    window: timedelta,
    as_of: datetime,
) -> pl.DataFrame:
    events = _events(impressions, clicks, keys, as_of)
    now = _before(queries, events, keys, "_t")
    q_then = queries.with_columns((pl.col("_t") - window).alias("_t0"))
    then = _before(q_then, events, keys, "_t0")
    return pl.DataFrame(
        {
            "_q": now["_q"],
            f"{prefix}_imps": now["cum_imp"],
            f"{prefix}_clicks": now["cum_clk"],
            f"{prefix}_imps_24h": now["cum_imp"] - then["cum_imp"],
            f"{prefix}_clicks_24h": now["cum_clk"] - then["cum_clk"],
        }
    )


def _last_click(queries: pl.DataFrame, clicks: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    last = (
        clicks.filter(pl.col("label_time") < as_of)
        .select(USER, pl.col("label_time").alias("t"))
        .unique()
        .sort("t")
    )
    return (
        queries.select("_q", USER, "_t")
        .sort("_t")
        .join_asof(
            last.with_columns(pl.col("t").alias("last_click_at")),
            left_on="_t",
            right_on="t",
            by=USER,
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,
        )
        .select("_q", "last_click_at")
        .sort("_q")
    )


def engagement(
    queries: pl.DataFrame,
    impressions: pl.DataFrame,
    clicks: pl.DataFrame,
    *,
    at: str,
    as_of: datetime,
    params: FeatureParams,
) -> pl.DataFrame:
    """Engagement counts of each query's user, item, creator and userxcategory before `at`.

    `queries` needs user_id, item_id, creator_id, item_category and the time column `at`;
    only events before `as_of` exist. Returns one row per query, in order.
    """
    window = timedelta(hours=params.window_hours)
    q = queries.with_row_index("_q").with_columns(pl.col(at).alias("_t"))
    parts = [
        _counts(q, impressions, clicks, [USER], "user", window, as_of),
        _counts(q, impressions, clicks, [ITEM], "item", window, as_of),
        _counts(q, impressions, clicks, [CREATOR], "creator", window, as_of),
        _counts(q, impressions, clicks, [USER, CATEGORY], "uc", window, as_of),
        _counts(q, impressions, clicks, SEGMENT, "segment", window, as_of),
        _last_click(q, clicks, as_of),
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out.join(p, on="_q", how="left", maintain_order="left")
    return out.drop("_q")


def smooth(
    counts: pl.DataFrame, times: pl.Series, prior_ctr: float, params: FeatureParams
) -> pl.DataFrame:
    """Counts → the numeric engagement features (smoothed CTRs, recency in hours)."""
    a, b = params.prior_strength, params.category_prior_strength
    user_ctr = (pl.col("user_clicks") + a * prior_ctr) / (pl.col("user_imps") + a)
    hours = ((times - counts["last_click_at"]).dt.total_microseconds() / 3.6e9).fill_null(
        params.recency_cap_hours
    )
    creator_ctr = (pl.col("creator_clicks") + a * prior_ctr) / (pl.col("creator_imps") + a)
    segment_ctr = (pl.col("segment_clicks") + a * prior_ctr) / (pl.col("segment_imps") + a)
    return counts.with_columns(
        user_ctr.alias("user_ctr"),
        segment_ctr.alias("segment_ctr"),
        ((pl.col("uc_clicks") + b * segment_ctr) / (pl.col("uc_imps") + b)).alias("uc_ctr"),
        ((pl.col("item_clicks") + b * creator_ctr) / (pl.col("item_imps") + b)).alias("item_ctr"),
        creator_ctr.alias("creator_ctr"),
        pl.Series("user_hours_since_click", hours).clip(0, params.recency_cap_hours),
    )


def impression_features(
    impressions: pl.DataFrame,
    clicks: pl.DataFrame,
    *,
    as_of: datetime,
    prior_ctr: float,
    params: FeatureParams,
) -> pl.DataFrame:
    """Every impression with its point-in-time features (raw, before transforms)."""
    counts = engagement(
        impressions, impressions, clicks, at="event_time", as_of=as_of, params=params
    )
    feats = smooth(counts, impressions["event_time"], prior_ctr, params)
    age = (pl.col("event_time") - pl.col("item_created_at")).dt.total_microseconds() / 3.6e9
    base = impressions.with_columns(
        age.clip(0, None).alias("item_age_hours"),
        pl.col("user_signup_days").cast(pl.Float64),
        pl.col("item_length_s").cast(pl.Float64),
        pl.col("position").cast(pl.Float64),
        pl.col("hour").cast(pl.String),
    )
    keep = [c for c in feats.columns if c in NUMERIC_FEATURES or c == "item_clicks"]
    return pl.concat([base, feats.select(keep)], how="horizontal")


def attributed_labels(
    impressions: pl.DataFrame, clicks: pl.DataFrame, *, window: timedelta, as_of: datetime
) -> pl.Series:
    """1 when a click for the impression arrived within `window` and before `as_of`."""
    hit = clicks.filter(
        pl.col("label_time") < as_of,
        pl.col("label_time") - pl.col("event_time") <= window,
    ).select("event_id", pl.lit(1.0).alias("label"))
    return (
        impressions.select("event_id")
        .join(hit, on="event_id", how="left", maintain_order="left")
        .get_column("label")
        .fill_null(0.0)
    )
