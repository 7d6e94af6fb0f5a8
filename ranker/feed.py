"""The synthetic feed: impressions with a ground-truth click probability, and delayed clicks.

Each hour is drawn from its own seeded stream, so any window is reproducible on its own and
agrees with every other window of the same config. `generate` returns the clean truth (with
`p_click`, the oracle's score); `deliver` turns it into the batches a producer would post,
with the incident knobs applied (late batches, wrong units, nulls, schema changes, outages).
Vectorized over requests and candidates; the only Python loop is over hours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from ranker.feed_config import AGE_BUCKETS, COUNTRIES, DEVICES, SURFACES, FeedConfig
from ranker.world import COUNTRY_MIX, DEVICE_MIX, World, build_world

SURFACE_MIX = np.array([0.7, 0.2, 0.1])
SURFACE_SLOTS = ((15, 26), (8, 13), (5, 11))  # [low, high) list length per surface
SURFACE_EFFECT = np.array([0.0, 0.4, -0.2])
DEVICE_EFFECT = np.array([0.05, 0.0, -0.15])
MAX_SLOTS = 25
US_PER_HOUR = 3_600_000_000

IMPRESSION_COLUMNS = [
    "event_id",
    "event_time",
    "request_id",
    "user_id",
    "item_id",
    "position",
    "surface",
    "country",
    "device",
    "hour",
    "score",
    "item_category",
    "creator_id",
    "item_created_at",
    "item_length_s",
    "user_age_bucket",
    "user_signup_days",
]
LABEL_COLUMNS = ["event_id", "label_time", "clicked", "dwell_ms"]


@dataclass(frozen=True)
class FeedBatch:
    """One batch as a producer would post it: the contract, the rows, and when it arrives."""

    contract_id: str
    hour: int  # first hour of events it covers (hours after origin)
    delivered_at: datetime
    frame: pl.DataFrame


def as_utc(moment: datetime) -> datetime:
    """The same instant with `datetime.UTC` as its zone (naive times are taken as UTC).

    polars refuses to compare datetimes of different zone names, even `Etc/UTC` (how
    PostgreSQL's `timestamptz` reads back) with `UTC`, so every moment entering the feed's
    frames goes through here.
    """
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hours_between(origin: datetime, moment: datetime) -> int:
    return int((moment - origin) // timedelta(hours=1))


def _mask(seed: int, salt: str) -> int:
    digest = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex_ids(prefix: str, values: np.ndarray) -> pl.Series:
    """`prefix` + 16 lower-case hex digits per value, built column-wise."""
    digits = (values.astype(np.uint64)[:, None] >> np.arange(60, -1, -4, dtype=np.uint64)) & 0xF
    text = _HEX[digits.astype(np.intp)].view("S16").ravel().astype("U16")
    return prefix + pl.Series(text, dtype=pl.String)


def _padded(prefix: str, values: np.ndarray, width: int) -> pl.Series:
    return prefix + pl.Series(values).cast(pl.String).str.zfill(width)


def _drift(config: FeedConfig, hours: np.ndarray) -> np.ndarray:
    d = config.concept_drift
    if d is None:
        return np.zeros(len(hours))
    return np.where(hours >= d.at_hours, d.strength, 0.0)


def _user_weights(world: World, live: np.ndarray, hour: int) -> np.ndarray:
    users, shift = world.users, world.config.covariate_shift
    w = users.activity[live].copy()
    if shift is not None and hour >= shift.at_hours:
        if shift.country_mix:
            target = np.array([shift.country_mix.get(c, 0.0) for c in COUNTRIES])
            w *= (target / target.sum() / COUNTRY_MIX)[users.country[live]]
        if shift.device_mix:
            target = np.array([shift.device_mix.get(d, 0.0) for d in DEVICES])
            w *= (target / target.sum() / DEVICE_MIX)[users.device[live]]
    return w / w.sum()


def click_probability(
    world: World,
    user: np.ndarray,
    item: np.ndarray,
    position: np.ndarray,
    event_h: np.ndarray,
    surface: np.ndarray,
    device: np.ndarray,
    hour_of_day: np.ndarray,
) -> np.ndarray:
    """The ground truth: taste + quality - position bias - staleness + context, as odds."""
    cfg, items = world.config, world.items
    age_days = np.maximum(event_h - items.created_h[item], 0) / 24
    logit = (
        cfg.base_logit
        + cfg.affinity_weight * world.affinity(user, items.category[item], _drift(cfg, event_h))
        + items.quality[item]
        - cfg.position_weight * np.log1p(position)
        - cfg.freshness_weight * np.log1p(age_days)
        + SURFACE_EFFECT[surface]
        + DEVICE_EFFECT[device]
        + 0.15 * np.sin(2 * np.pi * (hour_of_day - 20) / 24)
    )
    return 1 / (1 + np.exp(-logit))


def outcomes(
    world: World, rng: np.random.Generator, p: np.ndarray, item: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clicks, their delay in minutes (log-normal, capped) and dwell time in ms."""
    cfg, n = world.config, len(p)
    clicked = rng.random(n) < p
    delay_min = np.minimum(
        np.exp(np.log(cfg.label_delay_median_minutes) + cfg.label_delay_sigma * rng.normal(size=n)),
        cfg.label_delay_cap_hours * 60,
    )
    length = np.minimum(world.items.length_s[item], 600)
    dwell = np.clip(rng.lognormal(np.log(length * 400), 0.6, n), 1000, 3.6e6)
    return clicked, delay_min, np.round(dwell)


def _hour(world: World, origin: datetime, h: int) -> dict[str, np.ndarray]:
    """One hour of requests, each with its ranked candidates, true click odds and outcomes."""
    cfg, users, items = world.config, world.users, world.items
    rng = np.random.default_rng([cfg.seed, 1, h])
    hod = (origin + timedelta(hours=h)).hour
    rate = cfg.requests_per_hour * (1 + cfg.diurnal_amplitude * np.sin(2 * np.pi * (hod - 9) / 24))
    n_req = int(rng.poisson(rate))
    live_users = np.flatnonzero(users.created_h <= h)
    lifetime_h = cfg.item_lifetime_days * 24
    live_items = np.flatnonzero((items.created_h <= h) & (items.created_h > h + 1 - lifetime_h))
    if n_req == 0 or len(live_users) == 0 or len(live_items) < MAX_SLOTS:
        return {}
    t_us = np.sort(rng.integers(0, US_PER_HOUR, n_req))
    user = live_users[rng.choice(len(live_users), n_req, p=_user_weights(world, live_users, h))]
    surface = rng.choice(3, n_req, p=SURFACE_MIX)
    lows = np.array([s[0] for s in SURFACE_SLOTS])[surface]
    highs = np.array([s[1] for s in SURFACE_SLOTS])[surface]
    slots = rng.integers(lows, highs)
    device = np.where(rng.random(n_req) < 0.9, users.device[user], rng.integers(0, 3, n_req))
    # The logging policy: fresh items from popular creators first, plus noise (Gumbel top-k
    # samples without replacement, and its order is the position).
    age_days = (h + 0.5 - items.created_h[live_items]) / 24
    log_w = -age_days / 2 + np.log(world.creator_popularity[items.creator[live_items]])
    keys = log_w[None, :] + rng.gumbel(size=(n_req, len(live_items)))
    top = np.argpartition(-keys, MAX_SLOTS - 1, axis=1)[:, :MAX_SLOTS]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    ranked = np.take_along_axis(top, order, axis=1)
    position = np.broadcast_to(np.arange(MAX_SLOTS), (n_req, MAX_SLOTS))
    shown = position < slots[:, None]
    req = np.broadcast_to(np.arange(n_req)[:, None], (n_req, MAX_SLOTS))[shown]
    item = live_items[ranked[shown]]
    pos = position[shown]
    n = len(item)
    event_h = h + t_us[req] / US_PER_HOUR
    p = click_probability(
        world, user[req], item, pos, event_h, surface[req], device[req], np.full(n, hod)
    )
    clicked, delay_min, dwell = outcomes(world, rng, p, item)
    score = 1 / (1 + np.exp(-(cfg.base_logit + 0.5 * items.quality[item] + rng.normal(0, 0.5, n))))
    return {
        "h": np.full(n, h),
        "k": np.arange(n),
        "req_k": req,
        "t_us": t_us[req],
        "user": user[req],
        "item": item,
        "position": pos,
        "surface": surface[req],
        "device": device[req],
        "hod": np.full(n, hod),
        "score": score,
        "p_click": p,
        "clicked": clicked,
        "delay_us": (delay_min * 60_000_000).astype(np.int64),
        "dwell_ms": dwell,
    }


def generate(config: FeedConfig, origin: datetime, start_hour: int, end_hour: int) -> pl.DataFrame:
    """The clean feed for hours [start_hour, end_hour): impressions with truth and outcomes."""
    if start_hour < 0 or end_hour > config.horizon_days * 24:
        raise ValueError(
            f"hours {start_hour}..{end_hour} fall outside the feed's horizon "
            f"0..{int(config.horizon_days * 24)}"
        )
    origin = as_utc(origin)
    world = build_world(config)
    parts = [_hour(world, origin, h) for h in range(start_hour, end_hour)]
    parts = [p for p in parts if p]
    if not parts:
        return _frame(world, origin, {k: np.array([], dtype=np.int64) for k in _EMPTY_KEYS})
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return _frame(world, origin, cols)


_EMPTY_KEYS = [
    "h",
    "k",
    "req_k",
    "t_us",
    "user",
    "item",
    "position",
    "surface",
    "device",
    "hod",
    "score",
    "p_click",
    "clicked",
    "delay_us",
    "dwell_ms",
]


def _frame(world: World, origin: datetime, c: dict[str, np.ndarray]) -> pl.DataFrame:
    cfg, users, items = world.config, world.users, world.items
    origin_us = np.datetime64(origin.replace(tzinfo=None), "us")
    h = c["h"].astype(np.int64)
    event_us = h * US_PER_HOUR + c["t_us"].astype(np.int64)
    event_time = origin_us + event_us.astype("timedelta64[us]")
    item = c["item"].astype(np.int64)
    user = c["user"].astype(np.int64)
    item_created = origin_us + (items.created_h[item] * US_PER_HOUR).astype("timedelta64[us]")
    signup_days = (event_us / US_PER_HOUR - users.created_h[user]) // 24
    ev_ids = ((h & 0xFFFFFF) << 32 | c["k"].astype(np.int64)) ^ _mask(cfg.seed, "event")
    req_ids = ((h & 0xFFFFFF) << 32 | c["req_k"].astype(np.int64)) ^ _mask(cfg.seed, "request")
    label_time = event_time + c["delay_us"].astype(np.int64).astype("timedelta64[us]")
    frame = pl.DataFrame(
        {
            "event_id": _hex_ids("evt_", ev_ids),
            "event_time": pl.Series(event_time, dtype=pl.Datetime("us")),
            "request_id": _hex_ids("req_", req_ids),
            "user_id": _padded("u", user, 6),
            "item_id": _padded("i", item, 7),
            "position": c["position"].astype(np.int64),
            "surface": np.array(SURFACES)[c["surface"].astype(np.int64)],
            "country": np.array(COUNTRIES)[users.country[user]],
            "device": np.array(DEVICES)[c["device"].astype(np.int64)],
            "hour": c["hod"].astype(np.int64),
            "score": c["score"].astype(np.float64),
            "item_category": np.array(world.categories)[items.category[item]],
            "creator_id": _padded("c", items.creator[item], 4),
            "item_created_at": pl.Series(item_created, dtype=pl.Datetime("us")),
            "item_length_s": items.length_s[item],
            "user_age_bucket": np.array(AGE_BUCKETS)[users.age_bucket[user]],
            "user_signup_days": signup_days.astype(np.int64),
            "p_click": c["p_click"].astype(np.float64),
            "clicked": c["clicked"].astype(bool),
            "label_time": pl.Series(label_time, dtype=pl.Datetime("us")),
            "dwell_ms": c["dwell_ms"].astype(np.float64),
        }
    )
    return frame.with_columns(
        pl.col("event_time", "item_created_at", "label_time").dt.replace_time_zone("UTC")
    )


def click_within(config: FeedConfig, window: timedelta) -> float:
    """P(delay <= window) under the log-normal delay: scales p_click to the attributed odds."""
    from math import erf, log, sqrt

    minutes = window.total_seconds() / 60
    if minutes >= config.label_delay_cap_hours * 60:
        return 1.0
    z = (log(minutes) - log(config.label_delay_median_minutes)) / config.label_delay_sigma
    return 0.5 * (1 + erf(z / sqrt(2)))


def deliver(
    config: FeedConfig, origin: datetime, start_hour: int, end_hour: int
) -> list[FeedBatch]:
    """The batches a producer posts for hours [start_hour, end_hour), knobs applied.

    Impressions of each batch window arrive when it closes (later if the feed is stale);
    clicks arrive in the batch of the hour they happen, so older impressions (up to the delay
    cap) are regenerated to find the clicks that land in the window.
    """
    origin = as_utc(origin)
    lookback = int(np.ceil(config.label_delay_cap_hours))
    truth = generate(config, origin, max(0, start_hour - lookback), end_hour)
    start = origin + timedelta(hours=start_hour)
    end = origin + timedelta(hours=end_hour)
    batches: list[FeedBatch] = []
    step = config.batch_hours
    for h in range(start_hour, end_hour, step):
        lo, hi = origin + timedelta(hours=h), origin + timedelta(hours=min(h + step, end_hour))
        rows = truth.filter(pl.col("event_time").is_between(lo, hi, closed="left"))
        if rows.height:
            batches.append(_impression_batch(config, origin, h, hi, rows))
    clicks = truth.filter(
        pl.col("clicked"), pl.col("label_time").is_between(start, end, closed="left")
    )
    batches += _label_batches(config, origin, start_hour, end_hour, clicks)
    return sorted(batches, key=lambda b: (b.delivered_at, b.contract_id))


def _impression_batch(
    config: FeedConfig, origin: datetime, h: int, closes: datetime, rows: pl.DataFrame
) -> FeedBatch:
    delivered = closes
    frame = rows.select(IMPRESSION_COLUMNS)
    rng = np.random.default_rng([config.seed, 4, h])
    if (s := config.stale_feed) and h >= s.at_hours:
        delivered = closes + timedelta(hours=s.lag_hours)
    if (u := config.unit_change) and u.field == "item_length_s" and h >= u.at_hours:
        frame = frame.with_columns(pl.col("item_length_s") * 1000)
    if (n := config.null_spike) and n.at_hours <= h < n.at_hours + n.hours:
        hit = pl.Series(rng.random(frame.height) < n.fraction)
        frame = frame.with_columns(
            pl.when(hit).then(None).otherwise(pl.col(n.field)).alias(n.field)
        )
    if (sc := config.schema_change) and h >= sc.at_hours:
        if sc.kind == "rename_item_id":
            frame = frame.rename({"item_id": "itemId"})
        elif sc.kind == "drop_country":
            frame = frame.drop("country")
        else:
            frame = frame.with_columns(pl.col("position").cast(pl.String))
    return FeedBatch("impressions", h, delivered, frame)


def _label_batches(
    config: FeedConfig, origin: datetime, start_hour: int, end_hour: int, clicks: pl.DataFrame
) -> list[FeedBatch]:
    clicks = clicks.with_columns(
        ((pl.col("label_time") - pl.lit(origin)).dt.total_microseconds() // US_PER_HOUR)
        .cast(pl.Int64)
        .alias("_h")
    )
    if (o := config.label_outage) is not None:
        lo, hi = o.at_hours, o.at_hours + o.hours
        in_outage = (pl.col("_h") >= lo) & (pl.col("_h") < hi)
        if o.drop:
            clicks = clicks.filter(~in_outage)
        else:  # the backlog arrives with the first batch after the outage
            clicks = clicks.with_columns(
                pl.when(in_outage).then(pl.lit(int(np.ceil(hi)))).otherwise("_h").alias("_h")
            )
    step = config.batch_hours
    clicks = clicks.with_columns(
        (start_hour + (pl.col("_h") - start_hour) // step * step).alias("_b")
    ).filter(pl.col("_b") < end_hour)
    out = []
    for key, rows in clicks.sort("label_time").group_by(["_b"], maintain_order=True):
        b = int(str(key[0]))
        frame = rows.select("event_id", "label_time", pl.lit(True).alias("clicked"), "dwell_ms")
        u = config.unit_change
        if u and u.field == "dwell_ms" and b >= u.at_hours:
            frame = frame.with_columns(pl.col("dwell_ms") / 1000)
        closes = origin + timedelta(hours=min(b + step, end_hour))
        out.append(FeedBatch("labels", b, closes, frame))
    return out
