"""The names and parameters of the incident-simulation scenarios, as data.

They live here, below the API, so `POST /simulations` can refuse an unknown scenario or a bad
parameter before anything is queued; the runner that plays them is the top-level
`simulations` package (it drives the whole app, so it sits above `api`). Pure data.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Every scenario of the catalog, in the order the report lists them; `catalog` runs them all.
SCENARIO_NAMES = (
    "schema_break",
    "null_spike",
    "unit_change",
    "new_categories",
    "covariate_drift",
    "concept_drift",
    "label_outage",
    "stale_feed",
    "duplicate_replay",
    "bad_promotion",
    "clean_control",
)
CATALOG = "catalog"
MAX_SEEDS = 20


class ScenarioParams(BaseModel):
    """Overrides of a scenario's declared parameters (unset keeps the catalog's value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline_hours: float | None = Field(
        default=None, ge=1, le=24 * 14, description="Clean traffic before the fault (hours)."
    )
    duration_hours: float | None = Field(
        default=None, gt=0, le=72, description="How long the fault lasts (hours)."
    )
    magnitude: float | None = Field(
        default=None, gt=0, le=1000, description="Fault size (the scenario says what it means)."
    )
    recovery_hours: float | None = Field(
        default=None, ge=0, le=72, description="Clean traffic after the fault (hours)."
    )
    requests_per_hour: float | None = Field(
        default=None, gt=0, le=2000, description="Synthetic feed traffic (baseline volume)."
    )
