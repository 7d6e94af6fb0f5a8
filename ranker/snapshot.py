"""The online feature snapshot: what serving knows about users, items and creators.

Built at training time from the same accepted data, as of the end of the training window,
with the same definitions as the training features (counts strictly before the moment,
click counts by label arrival). Serving looks rows up by id and computes the time-dependent
features (recency, item age, sign-up age) at request time. Unknown users and items fall back
to the cold-start row: no history, priors for every rate, a brand-new item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from ranker.encoding import FeatureSpec
from ranker.features import CATEGORY, CREATOR, ITEM, NUMERIC_FEATURES, SEGMENT, USER

US_PER_HOUR = 3_600_000_000
_COLUMN = {name: j for j, name in enumerate(NUMERIC_FEATURES)}


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _totals(
    impressions: pl.DataFrame,
    clicks: pl.DataFrame,
    keys: list[str],
    as_of: datetime,
    window: timedelta,
) -> pl.DataFrame:
    """Per key: impressions and clicks before `as_of`, and within the trailing window."""
    recent = pl.col("t") >= as_of - window
    return (
        pl.concat(
            [
                impressions.select(*keys, pl.col("event_time").alias("t"), imp=1, clk=0),
                clicks.select(*keys, pl.col("label_time").alias("t"), imp=0, clk=1),
            ]
        )
        .filter(pl.col("t") < as_of, *[pl.col(k).is_not_null() for k in keys])
        .group_by(keys)
        .agg(
            pl.col("imp").sum().alias("imps"),
            pl.col("clk").sum().alias("clicks"),
            pl.col("imp").filter(recent).sum().alias("imps_24h"),
            pl.col("clk").filter(recent).sum().alias("clicks_24h"),
        )
        .sort(keys)
    )


@dataclass
class Snapshot:
    as_of_us: int
    user_ids: list[str]
    users: dict[str, np.ndarray]
    item_ids: list[str]
    items: dict[str, np.ndarray]
    creator_ids: list[str]
    creators: dict[str, np.ndarray]
    uc: np.ndarray  # (users, categories, 2): impressions, clicks
    segments: np.ndarray  # (countries, age buckets, categories, 2)

    def to_payload(self) -> dict[str, Any]:
        """Plain types and tensors only, so the artifact loads with `weights_only=True`."""
        import torch

        def tensors(d: dict[str, np.ndarray]) -> dict[str, Any]:
            return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in d.items()}

        return {
            "as_of_us": self.as_of_us,
            "user_ids": self.user_ids,
            "users": tensors(self.users),
            "item_ids": self.item_ids,
            "items": tensors(self.items),
            "creator_ids": self.creator_ids,
            "creators": tensors(self.creators),
            "uc": torch.from_numpy(np.array(self.uc, copy=True)),
            "segments": torch.from_numpy(np.array(self.segments, copy=True)),
        }

    @classmethod
    def from_payload(cls, doc: dict[str, Any]) -> Snapshot:
        def arrays(d: dict[str, Any]) -> dict[str, np.ndarray]:
            return {k: v.numpy() for k, v in d.items()}

        return cls(
            as_of_us=int(doc["as_of_us"]),
            user_ids=list(doc["user_ids"]),
            users=arrays(doc["users"]),
            item_ids=list(doc["item_ids"]),
            items=arrays(doc["items"]),
            creator_ids=list(doc["creator_ids"]),
            creators=arrays(doc["creators"]),
            uc=doc["uc"].numpy(),
            segments=doc["segments"].numpy(),
        )


def _dense(flat: np.ndarray, totals: pl.DataFrame, shape: tuple[int, ...]) -> np.ndarray:
    """Counts scattered into a dense (..., 2) table of impressions and clicks."""
    size = int(np.prod(shape))
    parts = [
        np.bincount(flat, weights=totals[c].to_numpy().astype(np.float64), minlength=size)
        for c in ("imps", "clicks")
    ]
    return np.stack(parts, axis=-1).reshape(*shape, 2).astype(np.float32)


def build_snapshot(
    impressions: pl.DataFrame, clicks: pl.DataFrame, *, as_of: datetime, spec: FeatureSpec
) -> Snapshot:
    """Feature tables as of `as_of` from the window's accepted impressions and clicks."""
    as_of = as_of.astimezone(UTC)  # polars compares with the `UTC` columns only in that spelling
    window = timedelta(hours=spec.params.window_hours)
    seen = impressions.filter(pl.col("event_time") < as_of).sort("event_time")
    clicks = clicks.filter(pl.col("label_time") < as_of)
    last = seen.group_by(USER).agg(pl.all().last()).sort(USER)
    users = (
        last.select(USER)
        .join(_totals(seen, clicks, [USER], as_of, window), on=USER, how="left")
        .fill_null(0)
    )
    last_click = clicks.group_by(USER).agg(pl.col("label_time").max().alias("last_click"))
    last = last.join(last_click, on=USER, how="left", maintain_order="left")
    signup_us = (
        last["event_time"].dt.epoch("us") - last["user_signup_days"].fill_null(0) * 24 * US_PER_HOUR
    )
    user_index = {u: i for i, u in enumerate(last[USER].to_list())}
    items = seen.group_by(ITEM).agg(pl.all().last()).sort(ITEM)
    item_totals = (
        items.select(ITEM)
        .join(_totals(seen, clicks, [ITEM], as_of, window), on=ITEM, how="left")
        .fill_null(0)
    )
    creators = _totals(seen, clicks, [CREATOR], as_of, window)
    creator_index = {c: i for i, c in enumerate(creators[CREATOR].to_list())}
    n_cat = len(spec.vocabularies[CATEGORY])
    uc_t = _totals(seen, clicks, [USER, CATEGORY], as_of, window)
    u_idx = uc_t[USER].replace_strict(user_index, default=-1).to_numpy()
    ok = u_idx >= 0
    uc = _dense(
        u_idx[ok] * n_cat + spec.codes(CATEGORY, uc_t[CATEGORY])[ok],
        uc_t.filter(pl.Series(ok)),
        (len(user_index), n_cat),
    )
    shape = tuple(len(spec.vocabularies[k]) for k in SEGMENT)
    seg_t = _totals(seen, clicks, SEGMENT, as_of, window)
    flat = np.ravel_multi_index(tuple(spec.codes(k, seg_t[k]) for k in SEGMENT), shape)
    segments = _dense(np.asarray(flat), seg_t, shape)
    return Snapshot(
        as_of_us=_us(as_of),
        user_ids=last[USER].to_list(),
        users={
            "imps": users["imps"].to_numpy().astype(np.float32),
            "clicks": users["clicks"].to_numpy().astype(np.float32),
            "imps_24h": users["imps_24h"].to_numpy().astype(np.float32),
            "clicks_24h": users["clicks_24h"].to_numpy().astype(np.float32),
            "last_click_us": last["last_click"].dt.epoch("us").fill_null(-1).to_numpy(),
            "signup_us": signup_us.to_numpy(),
            "country": spec.codes("country", last["country"]),
            "device": spec.codes("device", last["device"]),
            "age": spec.codes("user_age_bucket", last["user_age_bucket"]),
        },
        item_ids=items[ITEM].to_list(),
        items={
            "imps": item_totals["imps"].to_numpy().astype(np.float32),
            "clicks": item_totals["clicks"].to_numpy().astype(np.float32),
            "imps_24h": item_totals["imps_24h"].to_numpy().astype(np.float32),
            "clicks_24h": item_totals["clicks_24h"].to_numpy().astype(np.float32),
            "created_us": items["item_created_at"].dt.epoch("us").to_numpy(),
            "length_s": items["item_length_s"].fill_null(0).to_numpy().astype(np.float32),
            "category": spec.codes(CATEGORY, items[CATEGORY]),
            "creator": items[CREATOR].replace_strict(creator_index, default=-1).to_numpy(),
        },
        creator_ids=creators[CREATOR].to_list(),
        creators={
            "imps": creators["imps"].to_numpy().astype(np.float32),
            "clicks": creators["clicks"].to_numpy().astype(np.float32),
        },
        uc=uc,
        segments=segments,
    )
