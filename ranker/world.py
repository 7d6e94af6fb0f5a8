"""The synthetic world behind the feed: users with latent tastes, creators and items.

Everything is drawn from the config's seed, so the same config always yields the same world,
and any window of the feed can be generated on its own and still agree with the others.
Times are hours after the feed's origin (floats); pure numpy, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ranker.feed_config import AGE_BUCKETS, COUNTRIES, DEVICES, FeedConfig

COUNTRY_MIX = np.array([0.35, 0.10, 0.09, 0.08, 0.20, 0.12, 0.06])
DEVICE_MIX = np.array([0.40, 0.45, 0.15])
AGE_MIX = np.array([0.20, 0.30, 0.22, 0.15, 0.13])


@dataclass(frozen=True)
class Users:
    country: np.ndarray  # index into COUNTRIES
    device: np.ndarray  # index into DEVICES
    age_bucket: np.ndarray  # index into AGE_BUCKETS
    created_h: np.ndarray  # sign-up time, hours after origin (negative: before it)
    activity: np.ndarray  # relative request rate
    taste: np.ndarray  # (n, latent_dim) before concept drift
    drifted_taste: np.ndarray  # (n, latent_dim) the preferences concept drift moves towards

    @property
    def n(self) -> int:
        return len(self.country)


@dataclass(frozen=True)
class Items:
    category: np.ndarray  # index into World.categories
    creator: np.ndarray
    created_h: np.ndarray
    length_s: np.ndarray
    quality: np.ndarray  # creator quality + item quality

    @property
    def n(self) -> int:
        return len(self.category)


@dataclass(frozen=True)
class World:
    config: FeedConfig
    categories: tuple[str, ...]
    n_base_categories: int
    category_factors: np.ndarray  # (n_categories, latent_dim)
    creator_popularity: np.ndarray
    users: Users
    items: Items

    def affinity(self, user: np.ndarray, category: np.ndarray, drift: np.ndarray) -> np.ndarray:
        """Userxcategory taste; `drift` in [0, 1] blends towards the drifted preferences."""
        taste = self.users.taste[user]
        if np.any(drift > 0):
            taste = taste + drift[:, None] * (self.users.drifted_taste[user] - taste)
        return np.einsum("ij,ij->i", taste, self.category_factors[category])


def category_names(n_base: int, n_new: int) -> tuple[str, ...]:
    return tuple(f"cat{i:02d}" for i in range(n_base)) + tuple(f"new{i:02d}" for i in range(n_new))


def build_world(config: FeedConfig) -> World:
    """Draw users, creators and items for the whole horizon (cached per config)."""
    return _build_world(config.model_dump_json())


@lru_cache(maxsize=8)
def _build_world(doc: str) -> World:
    config = FeedConfig.model_validate_json(doc)
    rng = np.random.default_rng([config.seed, 0])
    shift = config.covariate_shift
    n_new_cat = shift.new_categories if shift else 0
    n_cat = config.n_categories + n_new_cat
    dim = config.latent_dim
    category_factors = rng.normal(0, 1 / np.sqrt(dim), (n_cat, dim))
    users = _users(rng, config)
    creator_quality = rng.normal(0, config.creator_quality, config.n_creators)
    creator_popularity = rng.lognormal(0, 0.7, config.n_creators)
    category_popularity = rng.dirichlet(np.full(config.n_categories, 2.0))
    creator_category = rng.choice(config.n_categories, config.n_creators, p=category_popularity)
    items = _items(
        rng,
        config,
        creator_quality,
        creator_popularity,
        creator_category,
        category_popularity,
        n_new_cat,
    )
    return World(
        config=config,
        categories=category_names(config.n_categories, n_new_cat),
        n_base_categories=config.n_categories,
        category_factors=category_factors,
        creator_popularity=creator_popularity,
        users=users,
        items=items,
    )


def _users(rng: np.random.Generator, config: FeedConfig) -> Users:
    horizon_h = config.horizon_days * 24
    n_new = int(rng.poisson(config.new_users_per_day * config.horizon_days))
    n = config.n_users + n_new
    created = np.concatenate(
        [-rng.uniform(24, 730 * 24, config.n_users), np.sort(rng.uniform(0, horizon_h, n_new))]
    )
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_MIX)
    age = rng.choice(len(AGE_BUCKETS), n, p=AGE_MIX)
    dim = config.latent_dim
    # Taste = what the user's segment (country, age) shares + what is the user's own.
    seg = config.segment_taste / np.sqrt(2)
    by_age, by_country = (
        rng.normal(0, seg, (len(AGE_BUCKETS), dim)),
        rng.normal(0, seg, (len(COUNTRIES), dim)),
    )
    own = rng.normal(0, config.individual_taste, (n, dim))
    # Drawn from a separate stream so turning drift on changes nothing else.
    drift_rng = np.random.default_rng([config.seed, 2])
    drifted = (
        drift_rng.normal(0, seg, (len(AGE_BUCKETS), dim))[age]
        + drift_rng.normal(0, seg, (len(COUNTRIES), dim))[country]
        + drift_rng.normal(0, config.individual_taste, (n, dim))
    )
    return Users(
        country=country,
        device=rng.choice(len(DEVICES), n, p=DEVICE_MIX),
        age_bucket=age,
        created_h=created,
        activity=rng.lognormal(0, 1.0, n),
        taste=by_age[age] + by_country[country] + own,
        drifted_taste=drifted,
    )


def _items(
    rng: np.random.Generator,
    config: FeedConfig,
    creator_quality: np.ndarray,
    creator_popularity: np.ndarray,
    creator_category: np.ndarray,
    category_popularity: np.ndarray,
    n_new_categories: int,
) -> Items:
    lifetime_h = config.item_lifetime_days * 24
    horizon_h = config.horizon_days * 24
    n_new = int(rng.poisson(config.new_items_per_hour * horizon_h))
    n = config.n_items + n_new
    created = np.concatenate(
        [-rng.uniform(0, lifetime_h, config.n_items), np.sort(rng.uniform(0, horizon_h, n_new))]
    )
    creator = rng.choice(config.n_creators, n, p=creator_popularity / creator_popularity.sum())
    own_category = rng.random(n) < 0.7
    category = np.where(
        own_category,
        creator_category[creator],
        rng.choice(config.n_categories, n, p=category_popularity),
    )
    quality = creator_quality[creator] + rng.normal(0, config.item_quality, n)
    length = np.clip(rng.lognormal(np.log(45), 0.9, n), 3, 3600)
    shift = config.covariate_shift
    if shift and n_new_categories:
        shift_rng = np.random.default_rng([config.seed, 3])
        moved = (created >= shift.at_hours) & (shift_rng.random(n) < shift.new_category_share)
        category = np.where(
            moved,
            config.n_categories + shift_rng.integers(0, n_new_categories, n),
            category,
        )
    return Items(
        category=category,
        creator=creator,
        created_h=created,
        length_s=np.round(length, 1),
        quality=quality,
    )
