"""Request-time features from the snapshot: the same definitions as training, vectorized.

Serving scores every candidate at position 0 (the model learned position bias from the log;
ranking removes it), so two lists that differ only in order get the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranker.encoding import FeatureSpec
from ranker.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from ranker.snapshot import US_PER_HOUR, Snapshot

COL = {name: j for j, name in enumerate(NUMERIC_FEATURES)}
CAT = {name: j for j, name in enumerate(CATEGORICAL_FEATURES)}


def _with_cold_row(values: np.ndarray, cold: float | int) -> np.ndarray:
    return np.concatenate([values, np.array([cold], dtype=values.dtype)])


@dataclass(frozen=True)
class Context:
    """What the client says about the request; unknown fields fall back to the user's own."""

    now_us: int
    surface: str | None = None
    device: str | None = None
    country: str | None = None
    hour: int | None = None


class OnlineFeatures:
    """Index lookups plus arithmetic on arrays; one cold-start row at the end of each table."""

    def __init__(self, snapshot: Snapshot, spec: FeatureSpec) -> None:
        self.spec = spec
        self.user_index = {u: i for i, u in enumerate(snapshot.user_ids)}
        self.item_index = {it: i for i, it in enumerate(snapshot.item_ids)}
        self.cold_item = len(snapshot.item_ids)
        u, it, cr = snapshot.users, snapshot.items, snapshot.creators
        self.users = u
        self.uc = snapshot.uc
        self.segments = snapshot.segments
        median_length = float(np.median(it["length_s"])) if len(it["length_s"]) else 60.0
        self.item_imps = _with_cold_row(it["imps"], 0)
        self.item_clicks = _with_cold_row(it["clicks"], 0)
        self.item_imps_24h = _with_cold_row(it["imps_24h"], 0)
        self.item_clicks_24h = _with_cold_row(it["clicks_24h"], 0)
        self.item_created = _with_cold_row(it["created_us"], -1)
        self.item_length = _with_cold_row(it["length_s"], median_length)
        self.item_category = _with_cold_row(it["category"], 0)
        creator = np.where(it["creator"] >= 0, it["creator"], len(snapshot.creator_ids))
        self.item_creator = _with_cold_row(creator, len(snapshot.creator_ids))
        self.creator_imps = _with_cold_row(cr["imps"], 0)
        self.creator_clicks = _with_cold_row(cr["clicks"], 0)
        self.vocab = {
            name: {v: i for i, v in enumerate(spec.vocabularies[name]) if i}
            for name in CATEGORICAL_FEATURES
        }

    def code(self, name: str, value: str | int | None) -> int:
        return 0 if value is None else self.vocab[name].get(str(value), 0)

    def item_rows(self, item_ids: list[str]) -> np.ndarray:
        get, cold = self.item_index.get, self.cold_item
        return np.fromiter((get(i, cold) for i in item_ids), dtype=np.int64, count=len(item_ids))

    def compute(
        self, user_id: str, item_ids: list[str], ctx: Context
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw numeric features (NUMERIC_FEATURES order) and categorical codes, one row each."""
        p = self.spec.params
        prior, a, b = self.spec.prior_ctr, p.prior_strength, p.category_prior_strength
        rows = self.item_rows(item_ids)
        n = len(rows)
        u = self.user_index.get(user_id, -1)
        users = self.users
        known = u >= 0
        u_imps = float(users["imps"][u]) if known else 0.0
        u_clicks = float(users["clicks"][u]) if known else 0.0
        country = (
            self.code("country", ctx.country)
            if ctx.country
            else (int(users["country"][u]) if known else 0)
        )
        device = (
            self.code("device", ctx.device)
            if ctx.device
            else (int(users["device"][u]) if known else 0)
        )
        age = int(users["age"][u]) if known else 0
        category = self.item_category[rows]
        user_ctr = (u_clicks + a * prior) / (u_imps + a)
        seg = self.segments[country, age, category]
        segment_ctr = (seg[:, 1] + a * prior) / (seg[:, 0] + a)
        uc = self.uc[u, category] if known else np.zeros((n, 2), dtype=np.float32)
        creator = self.item_creator[rows]
        creator_ctr = (self.creator_clicks[creator] + a * prior) / (self.creator_imps[creator] + a)
        i_imps, i_clicks = self.item_imps[rows], self.item_clicks[rows]
        created = self.item_created[rows]
        age_h = np.where(created >= 0, (ctx.now_us - created) / US_PER_HOUR, 0.0)
        last_click = int(users["last_click_us"][u]) if known else -1
        since = (
            min(max((ctx.now_us - last_click) / US_PER_HOUR, 0.0), p.recency_cap_hours)
            if last_click >= 0
            else p.recency_cap_hours
        )
        signup_days = (
            float((ctx.now_us - int(users["signup_us"][u])) // (24 * US_PER_HOUR)) if known else 0.0
        )
        x = np.empty((n, len(NUMERIC_FEATURES)), dtype=np.float32)
        x[:, COL["user_imps"]] = u_imps
        x[:, COL["user_ctr"]] = user_ctr
        x[:, COL["user_imps_24h"]] = users["imps_24h"][u] if known else 0.0
        x[:, COL["user_clicks_24h"]] = users["clicks_24h"][u] if known else 0.0
        x[:, COL["user_hours_since_click"]] = since
        x[:, COL["user_signup_days"]] = max(signup_days, 0.0)
        x[:, COL["uc_imps"]] = uc[:, 0]
        x[:, COL["uc_ctr"]] = (uc[:, 1] + b * segment_ctr) / (uc[:, 0] + b)
        x[:, COL["segment_ctr"]] = segment_ctr
        x[:, COL["item_imps"]] = i_imps
        x[:, COL["item_ctr"]] = (i_clicks + b * creator_ctr) / (i_imps + b)
        x[:, COL["item_imps_24h"]] = self.item_imps_24h[rows]
        x[:, COL["item_clicks_24h"]] = self.item_clicks_24h[rows]
        x[:, COL["item_age_hours"]] = np.maximum(age_h, 0.0)
        x[:, COL["item_length_s"]] = self.item_length[rows]
        x[:, COL["creator_imps"]] = self.creator_imps[creator]
        x[:, COL["creator_ctr"]] = creator_ctr
        x[:, COL["position"]] = 0.0
        hour = ctx.hour if ctx.hour is not None else int(ctx.now_us // US_PER_HOUR % 24)
        cat = np.empty((n, len(CATEGORICAL_FEATURES)), dtype=np.int64)
        cat[:, CAT["country"]] = country
        cat[:, CAT["device"]] = device
        cat[:, CAT["surface"]] = self.code("surface", ctx.surface or "feed")
        cat[:, CAT["hour"]] = self.code("hour", hour)
        cat[:, CAT["user_age_bucket"]] = age
        cat[:, CAT["item_category"]] = category
        return x, cat
