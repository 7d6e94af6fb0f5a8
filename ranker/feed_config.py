"""Every knob of the synthetic feed, documented: the world, the click model and the incidents.

Times of incident knobs are hours after the feed's origin, so one config describes a whole
scenario (e.g. "concept drift 36 h in"). Pure data, no I/O.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "JP")
DEVICES = ("ios", "android", "web")
SURFACES = ("feed", "search", "profile")
AGE_BUCKETS = ("18-24", "25-34", "35-44", "45-54", "55+")


class _Knob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CovariateShift(_Knob):
    """From `at_hours` on, active users come from another mix and new categories appear."""

    at_hours: float = Field(ge=0, description="When the shift starts (hours after origin).")
    country_mix: dict[str, float] | None = Field(
        default=None, description="Relative weight per country of users active after the shift."
    )
    device_mix: dict[str, float] | None = Field(
        default=None, description="Relative weight per device of users active after the shift."
    )
    new_categories: int = Field(
        default=0, ge=0, le=20, description="Categories that exist only after the shift."
    )
    new_category_share: float = Field(
        default=0.3, ge=0, le=1, description="Share of items created after the shift in them."
    )

    @model_validator(mode="after")
    def _known_values(self) -> CovariateShift:
        for name, mix, known in (
            ("country_mix", self.country_mix, COUNTRIES),
            ("device_mix", self.device_mix, DEVICES),
        ):
            if mix is not None:
                unknown = sorted(set(mix) - set(known))
                if unknown or any(w < 0 for w in mix.values()) or not any(mix.values()):
                    raise ValueError(f"{name} needs non-negative weights over {list(known)}")
        return self


class UnitChange(_Knob):
    """From `at_hours` on, a producer sends a field in the wrong unit."""

    at_hours: float = Field(ge=0, description="When the wrong unit starts.")
    field: Literal["item_length_s", "dwell_ms"] = Field(
        description="`item_length_s` sent in milliseconds, or `dwell_ms` sent in seconds."
    )


class NullSpike(_Knob):
    """For `hours` from `at_hours`, a fraction of a field's values arrive null."""

    at_hours: float = Field(ge=0, description="When the spike starts.")
    hours: float = Field(gt=0, description="How long it lasts.")
    field: Literal["country", "device", "item_category", "user_age_bucket", "hour"] = Field(
        description="Impression field that goes null."
    )
    fraction: float = Field(gt=0, le=1, description="Share of rows whose value is nulled.")


class SchemaChange(_Knob):
    """From `at_hours` on, the impressions producer changes its schema."""

    at_hours: float = Field(ge=0, description="When the new schema starts.")
    kind: Literal["rename_item_id", "drop_country", "position_as_text"] = Field(
        description="`item_id` renamed to `itemId`; `country` dropped; `position` sent as text."
    )


class ConceptDrift(_Knob):
    """From `at_hours` on, users' category preferences move towards new ones."""

    at_hours: float = Field(ge=0, description="When preferences change.")
    strength: float = Field(
        gt=0, le=1, description="0 keeps old preferences, 1 replaces them entirely."
    )


class LabelOutage(_Knob):
    """For `hours` from `at_hours`, no label batches arrive."""

    at_hours: float = Field(ge=0, description="When the outage starts.")
    hours: float = Field(gt=0, description="How long it lasts.")
    drop: bool = Field(
        default=False,
        description="Lose the labels for good; otherwise they arrive as a backlog at the end.",
    )


class StaleFeed(_Knob):
    """From `at_hours` on, impression batches arrive `lag_hours` late."""

    at_hours: float = Field(ge=0, description="When the feed goes stale.")
    lag_hours: float = Field(gt=0, le=72, description="Delivery delay of each batch.")


class FeedConfig(BaseModel):
    """The world, the click model and the incident knobs of one synthetic feed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(default=7, ge=0, description="Seed of every random draw.")
    horizon_days: float = Field(
        default=60, gt=0, le=366, description="How long after the origin the world is defined."
    )
    # world
    n_users: int = Field(default=1500, ge=10, description="Users signed up before the origin.")
    new_users_per_day: float = Field(default=60, ge=0, description="Sign-ups per day.")
    n_items: int = Field(default=500, ge=10, description="Live items at the origin.")
    new_items_per_hour: float = Field(default=3.0, ge=0, description="Items created per hour.")
    item_lifetime_days: float = Field(
        default=7, gt=0, description="Items older than this are no longer shown."
    )
    n_categories: int = Field(default=12, ge=2, le=50, description="Item categories.")
    n_creators: int = Field(default=150, ge=1, description="Creators publishing items.")
    latent_dim: int = Field(default=4, ge=1, le=32, description="Rank of userxcategory taste.")
    # traffic
    requests_per_hour: float = Field(
        default=200, gt=0, description="Mean feed requests per hour (diurnal pattern on top)."
    )
    diurnal_amplitude: float = Field(
        default=0.5, ge=0, lt=1, description="Relative day/night swing of traffic."
    )
    # click model: logit p = base + affinity + quality - position - staleness + context
    base_logit: float = Field(default=-2.3, description="Intercept of the click logit.")
    affinity_weight: float = Field(default=1.0, ge=0, description="Weight of userxcategory taste.")
    segment_taste: float = Field(
        default=1.0, ge=0, description="Taste shared by users of one country and age bucket."
    )
    individual_taste: float = Field(
        default=0.25, ge=0, description="Taste particular to each user (harder to learn)."
    )
    creator_quality: float = Field(default=0.6, ge=0, description="Spread of creator quality.")
    item_quality: float = Field(default=0.2, ge=0, description="Spread of item quality.")
    position_weight: float = Field(
        default=0.55, ge=0, description="Position bias: minus this times ln(1 + position)."
    )
    freshness_weight: float = Field(
        default=0.35, ge=0, description="Staleness: minus this times ln(1 + age in days)."
    )
    # delayed labels
    label_delay_median_minutes: float = Field(
        default=30, gt=0, description="Median delay between impression and click (log-normal)."
    )
    label_delay_sigma: float = Field(
        default=1.5, gt=0, le=4, description="Log-normal sigma of click delay (the long tail)."
    )
    label_delay_cap_hours: float = Field(
        default=72, gt=0, le=240, description="Clicks later than this are never reported."
    )
    batch_hours: int = Field(
        default=1, ge=1, le=24, description="Hours of events in one delivered batch."
    )
    # incident knobs
    covariate_shift: CovariateShift | None = Field(default=None, description="User mix shift.")
    unit_change: UnitChange | None = Field(default=None, description="A field in a wrong unit.")
    null_spike: NullSpike | None = Field(default=None, description="A field goes null.")
    schema_change: SchemaChange | None = Field(default=None, description="Producer schema change.")
    concept_drift: ConceptDrift | None = Field(default=None, description="Preferences change.")
    label_outage: LabelOutage | None = Field(default=None, description="Labels stop arriving.")
    stale_feed: StaleFeed | None = Field(default=None, description="Batches arrive late.")

    def world_key(self) -> dict[str, object]:
        """The fields that define users and items (knobs that alter the world included)."""
        keep = {
            "seed",
            "horizon_days",
            "n_users",
            "new_users_per_day",
            "n_items",
            "new_items_per_hour",
            "item_lifetime_days",
            "n_categories",
            "n_creators",
            "latent_dim",
            "segment_taste",
            "individual_taste",
            "creator_quality",
            "item_quality",
            "covariate_shift",
        }
        return self.model_dump(mode="json", include=keep)
