"""The data contract spec: what a batch must look like, and what to do when it does not.

Pure parsing and validation, no I/O. `ContractSpec.model_validate` raises pydantic errors whose
`type` names the violated rule (e.g. `min_le_max`, `regex_compiles`), which the API turns into a
problem document naming the field and the rule.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.durations import parse_duration
from contracts.semver import SemVer


class FieldType(StrEnum):
    string = "string"
    integer = "integer"
    float = "float"
    boolean = "boolean"
    timestamp = "timestamp"
    date = "date"
    category = "category"


NUMERIC_TYPES = {FieldType.integer, FieldType.float}
TEMPORAL_TYPES = {FieldType.timestamp, FieldType.date}
TEXT_TYPES = {FieldType.string, FieldType.category}
ORDERED_TYPES = NUMERIC_TYPES | TEMPORAL_TYPES


class Action(StrEnum):
    """What a violation does to the batch: note it, set the bad rows aside, or refuse it."""

    warn = "warn"
    quarantine = "quarantine"
    reject = "reject"


class Compatibility(StrEnum):
    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    FULL = "FULL"
    NONE = "NONE"


NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
Bound = int | float | str


def _rule_error(rule: str, message: str, **ctx: Any) -> PydanticCustomError:
    return PydanticCustomError(rule, message, ctx or None)


def _not_boolean(value: Any) -> Any:
    """pydantic's lax mode reads `true` as 1 for a number; a boolean is never a bound."""
    if isinstance(value, bool):
        raise _rule_error(
            "bound_matches_type", f"a bound must be a number, not the boolean {value!r}"
        )
    return value


# Counts and shares used as bounds: refuse booleans instead of reading them as 1 or 0.
CountBound = Annotated[int, BeforeValidator(_not_boolean)]
ShareBound = Annotated[float, BeforeValidator(_not_boolean)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class FieldSpec(_Spec):
    """One column of the dataset and the row-level rules its values must satisfy."""

    name: str = Field(pattern=NAME_PATTERN, description="Column name.")
    type: FieldType = Field(description="Logical type of the column.")
    required: bool = Field(
        default=False,
        description="The column must be present and no value may be null (`nullable: false`).",
    )
    unique: bool = Field(default=False, description="No two rows may share a value.")
    min: Bound | None = Field(default=None, description="Smallest allowed value (inclusive).")
    max: Bound | None = Field(default=None, description="Largest allowed value (inclusive).")
    allowed_values: list[str | int | float | bool] | None = Field(
        default=None, description="The only values allowed."
    )
    pattern: str | None = Field(default=None, description="Regex each value must match.")
    min_length: CountBound | None = Field(
        default=None, ge=0, description="Shortest string allowed."
    )
    max_length: CountBound | None = Field(default=None, ge=0, description="Longest string allowed.")
    description: str = Field(default="", description="What the column means.")
    pii: bool = Field(default=False, description="Holds personal data.")
    severity: Action | None = Field(
        default=None, description="Action for this field's violations; defaults to the policy."
    )

    @model_validator(mode="before")
    @classmethod
    def _nullable_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "nullable" in data:
            data = dict(data)
            nullable = data.pop("nullable")
            if "required" in data and data["required"] == nullable:
                raise _rule_error("required_nullable_agree", "required and nullable contradict")
            data["required"] = not nullable
        return data

    @model_validator(mode="before")
    @classmethod
    def _raw_bounds(cls, data: Any) -> Any:
        """Check min/max before pydantic's lax `int | float | str` union reads `true` as 1.

        YAML reads an unquoted `2024-01-01` as a date (and a timestamp as a datetime): those
        become ISO 8601 text, the form the contract stores.
        """
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for attr in ("min", "max"):
            value = data.get(attr)
            if isinstance(value, bool):
                raise _rule_error(
                    "bound_matches_type",
                    f"{attr} must be {_bound_kind(data.get('type'))}, not the boolean {value!r}",
                )
            if isinstance(value, date):  # datetime is a date too
                data[attr] = value.isoformat()
        return data

    @model_validator(mode="after")
    def _rules_fit_type(self) -> FieldSpec:
        t = self.type
        for attr in ("min", "max"):
            value = getattr(self, attr)
            if value is not None:
                if t not in ORDERED_TYPES:
                    raise _rule_error(
                        "rule_applies_to_type", f"{attr} does not apply to type {t.value}"
                    )
                object.__setattr__(self, attr, _coerce_bound(t, value, attr))
        # Compare values, not text: "12:00+02:00" is before "11:00Z".
        lo, hi = self.bound("min"), self.bound("max")
        if lo is not None and hi is not None and lo > hi:
            raise _rule_error("min_le_max", f"min {self.min!r} is greater than max {self.max!r}")
        for attr in ("pattern", "min_length", "max_length"):
            if getattr(self, attr) is not None and t not in TEXT_TYPES:
                raise _rule_error(
                    "rule_applies_to_type", f"{attr} does not apply to type {t.value}"
                )
        if (
            self.min_length is not None
            and self.max_length is not None
            and self.min_length > self.max_length
        ):
            raise _rule_error("min_length_le_max_length", "min_length is greater than max_length")
        if self.pattern is not None:
            _check_regex(self.pattern)
        if self.allowed_values is not None:
            object.__setattr__(self, "allowed_values", _coerce_allowed(t, self.allowed_values))
        return self

    def bound(self, attr: Literal["min", "max"]) -> Any:
        """The bound as a value of the field's type: a number, a `date`, or an aware UTC
        `datetime` (a timestamp bound without an offset is read as UTC, like naive values)."""
        value = getattr(self, attr)
        if value is None or self.type not in TEMPORAL_TYPES:
            return value
        return _parse_temporal(self.type, str(value))


def _bound_kind(t: Any) -> str:
    if t in (FieldType.integer, FieldType.float):
        return f"a number for {FieldType(t).value}"
    if t in (FieldType.timestamp, FieldType.date):
        return f"an ISO 8601 {FieldType(t).value}"
    return "a number or an ISO 8601 date/timestamp"


def _parse_temporal(t: FieldType, text: str) -> datetime | date:
    """The one place temporal bounds are read: timestamps come out aware and in UTC.

    Every consumer (the engine's polars literals, compat's comparisons, the pandera and GX
    exports) compares them with UTC timestamps, and a naive datetime can be compared with
    neither an aware one (TypeError) nor a `Datetime(UTC)` column (SchemaError).
    """
    if t == FieldType.date:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _coerce_bound(t: FieldType, value: Bound, attr: str) -> Bound:
    if t in NUMERIC_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _rule_error("bound_matches_type", f"{attr} must be a number for {t.value}")
        if not math.isfinite(value):  # NaN compares false with everything; inf is no bound
            raise _rule_error("bound_is_finite", f"{attr} must be a finite number")
        return int(value) if t == FieldType.integer and float(value).is_integer() else value
    try:
        _parse_temporal(t, str(value))
    except (ValueError, OverflowError) as exc:  # OverflowError: out of range once in UTC
        raise _rule_error(
            "bound_matches_type", f"{attr} must be an ISO 8601 {t.value}: {exc}"
        ) from None
    return str(value)


def _coerce_allowed(t: FieldType, values: list[Any]) -> list[Any]:
    if not values:
        raise _rule_error("allowed_values_not_empty", "allowed_values must not be empty")
    out: list[Any] = []
    for v in values:
        is_int = isinstance(v, int) and not isinstance(v, bool)
        if (t in TEXT_TYPES and isinstance(v, str)) or (t == FieldType.integer and is_int):
            out.append(v)
        elif t == FieldType.float and isinstance(v, int | float) and not isinstance(v, bool):
            out.append(float(v))
        elif t == FieldType.boolean and isinstance(v, bool):
            out.append(v)
        else:
            raise _rule_error(
                "allowed_values_match_type", f"allowed value {v!r} is not a {t.value}"
            )
    if len(set(out)) != len(out):
        raise _rule_error("allowed_values_distinct", "allowed_values has duplicates")
    return out


def _check_regex(pattern: str) -> None:
    """Patterns run in polars (Rust regex), so they must compile there, not just in Python."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise _rule_error("regex_compiles", f"pattern does not compile: {exc}") from None
    import polars as pl

    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except Exception as exc:  # polars raises ComputeError with the regex parser's message
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise _rule_error(
            "regex_compiles", f"pattern is not supported by the engine: {first_line}"
        ) from None


class _DatasetRule(_Spec):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:+-]{1,200}$")
    severity: Action | None = Field(default=None, description="Action on violation.")


class RowCountRule(_DatasetRule):
    kind: Literal["row_count"]
    min: CountBound | None = Field(default=None, ge=0)
    max: CountBound | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> RowCountRule:
        if self.min is None and self.max is None:
            raise _rule_error("bound_present", "row_count needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _rule_error("min_le_max", f"min {self.min} is greater than max {self.max}")
        return self


class NullFractionRule(_DatasetRule):
    kind: Literal["null_fraction"]
    field: str
    max: ShareBound = Field(ge=0.0, le=1.0, description="Largest allowed share of nulls.")


class InvalidFractionRule(_DatasetRule):
    """A tolerance for values outside `allowed_values` or not matching `pattern`.

    Field rules allow no bad value at all; ODCS `invalidValues` rules may allow some (e.g.
    at most 5 percent, or fewer than 5 rows). Nulls are not invalid (they are the business of
    `required` and `null_fraction`), and neither are values that failed to convert (`type`).
    """

    kind: Literal["invalid_fraction"]
    field: str
    allowed_values: list[str | int | float | bool] | None = Field(
        default=None, description="Valid values; any other non-null value is invalid."
    )
    pattern: str | None = Field(
        default=None, description="Regex a valid value must contain (unanchored)."
    )
    max: ShareBound | None = Field(
        default=None, ge=0.0, le=1.0, description="Largest allowed share of invalid rows."
    )
    max_rows: CountBound | None = Field(
        default=None, ge=0, description="Largest allowed number of invalid rows."
    )

    @model_validator(mode="after")
    def _check(self) -> InvalidFractionRule:
        if self.allowed_values is None and self.pattern is None:
            raise _rule_error(
                "values_or_pattern", "invalid_fraction needs allowed_values or pattern"
            )
        if (self.max is None) == (self.max_rows is None):
            raise _rule_error("one_limit", "invalid_fraction needs exactly one of max or max_rows")
        if self.pattern is not None:
            _check_regex(self.pattern)
        return self


class UniqueKeyRule(_DatasetRule):
    kind: Literal["unique_key"]
    fields: list[str] = Field(min_length=1)


class ExpressionRule(_DatasetRule):
    """A row-level SQL boolean expression (polars SQL), e.g. `clicks <= impressions`."""

    kind: Literal["expression"]
    name: str = Field(pattern=NAME_PATTERN)
    expr: str = Field(min_length=1, max_length=2000)


DatasetRule = Annotated[
    RowCountRule | NullFractionRule | InvalidFractionRule | UniqueKeyRule | ExpressionRule,
    Field(discriminator="kind"),
]


class Freshness(_Spec):
    field: str = Field(description="Timestamp field whose newest value measures lag.")
    max_lag: str = Field(description="Largest allowed lag of the newest row (e.g. PT2H, 2h).")
    cadence: str | None = Field(
        default=None, description="Expected interval between batches (e.g. PT1H)."
    )
    severity: Action | None = None

    @field_validator("max_lag", "cadence")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_duration(v)
            except ValueError as exc:
                raise _rule_error("duration_parses", str(exc)) from None
        return v

    @property
    def max_lag_delta(self) -> timedelta:
        return parse_duration(self.max_lag)

    @property
    def cadence_delta(self) -> timedelta | None:
        return parse_duration(self.cadence) if self.cadence else None


class Policy(_Spec):
    """Default action per rule class; a rule's own `severity` overrides it."""

    field: Action = Field(default=Action.quarantine, description="Row-level field rules.")
    dataset: Action = Field(default=Action.reject, description="Dataset-level rules.")
    schema_: Action = Field(
        default=Action.reject, alias="schema", description="Missing required columns."
    )
    extra_columns: Action = Field(default=Action.warn, description="Columns not in the contract.")
    freshness: Action = Field(default=Action.warn, description="Freshness SLA breaches.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


DriftMethod = Literal["psi", "ks", "chi2", "js"]
DISTANCE_METHODS = ("psi", "ks", "js")
# a p-value level: 0.5 already means "alert on a coin flip"
# (allow_inf_nan first, so NaN is refused as `finite_number` before any range rule sees it)
Alpha = Annotated[
    float, Field(allow_inf_nan=False), BeforeValidator(_not_boolean), Field(gt=0, le=0.5)
]
DesignEffect = Annotated[
    float, Field(allow_inf_nan=False), BeforeValidator(_not_boolean), Field(ge=1, le=10_000)
]
Effect = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_not_boolean), Field(ge=0)]
Share = Annotated[
    float, Field(allow_inf_nan=False), BeforeValidator(_not_boolean), Field(gt=0, le=1)
]


class FieldMonitor(_Spec):
    """How one field drifts: an effect metric, a minimal effect, and how its test is counted.

    A field alerts when its change is significant (Holm-adjusted p <= alpha) *and* its effect
    reaches `min_effect`. For psi, ks and js, `warn`/`alert` are the warn/alert minimal effects
    (`alert` is another name for `min_effect`); for chi2 they are p-value levels (`alert` is
    another name for `alpha`) and its effect is the Jensen-Shannon distance. Unset values take
    the measured defaults of docs/monitors.md.
    """

    method: DriftMethod = Field(default="psi", description="Effect metric: psi, ks, chi2 or js.")
    warn: Effect | None = Field(
        default=None, description="psi/ks/js: minimal effect to warn; chi2: warn p-value level."
    )
    alert: Effect | None = Field(
        default=None, description="psi/ks/js: minimal effect to alert; chi2: alert p-level."
    )
    min_effect: Effect | None = Field(
        default=None, description="Minimal effect (in the method's metric) for an alert."
    )
    alpha: Alpha | None = Field(
        default=None, description="Alert level for this field's Holm-adjusted p-values."
    )
    design_effect: DesignEffect | None = Field(
        default=None, description="Rows per independent observation (clustered rows)."
    )
    bins: int = Field(default=10, ge=2, le=1000)

    @model_validator(mode="after")
    def _consistent(self) -> FieldMonitor:
        if self.method in DISTANCE_METHODS:
            _one_value("min_effect", self.min_effect, "alert", self.alert)
            top = self.min_effect if self.min_effect is not None else self.alert
            if self.warn is not None and top is not None and self.warn > top:
                raise _rule_error("warn_le_alert", "warn threshold is above alert threshold")
            if self.method in ("ks", "js"):
                for key, v in (("warn", self.warn), ("min_effect", top)):
                    if v is not None and v > 1:
                        raise _rule_error(
                            "effect_in_range", f"{key} {v} is above 1, the largest {self.method}"
                        )
        else:
            if self.min_effect is not None and self.min_effect > 1:
                raise _rule_error("effect_in_range", "chi2's effect is a JS distance, at most 1")
            if not _legacy_chi2_default(self):
                _one_value("alpha", self.alpha, "alert", self.alert)
                for key, v in (("warn", self.warn), ("alert", self.alert)):
                    if v is not None and not 0 < v <= 0.5:
                        raise _rule_error(
                            "alpha_in_range", f"chi2's {key} is a p-value level in (0, 0.5]"
                        )
        return self

    @property
    def alert_effect(self) -> float | None:
        """The minimal effect for an alert, whichever key spells it."""
        if self.min_effect is not None:
            return self.min_effect
        return self.alert if self.method in DISTANCE_METHODS else None

    @property
    def alert_alpha(self) -> float | None:
        """The field's alert p-level, whichever key spells it (chi2's legacy `alert`)."""
        if self.alpha is not None or self.method in DISTANCE_METHODS:
            return self.alpha
        return None if _legacy_chi2_default(self) else self.alert

    @property
    def warn_alpha(self) -> float | None:
        """chi2's `warn` p-level, when set."""
        if self.method in DISTANCE_METHODS or _legacy_chi2_default(self):
            return None
        return self.warn


def _one_value(name: str, value: float | None, alias: str, other: float | None) -> None:
    if value is not None and other is not None and value != other:
        raise _rule_error(
            f"{name}_or_{alias}", f"{name} and {alias} name the same level; give one of them"
        )


def _legacy_chi2_default(m: FieldMonitor) -> bool:
    """Stored chi2 monitors spell the old distance defaults 0.1 / 0.25: they mean "not set"."""
    return m.method == "chi2" and (m.warn, m.alert) == (0.1, 0.25)


class NullRateMonitor(_Spec):
    """Drift of the share of null (and NaN) values, whatever the field's null rules say."""

    enabled: bool = Field(default=True, description="Test every monitored field's null rate.")
    min_change: Effect | None = Field(
        default=None, description="Minimal absolute change of the null rate for an alert."
    )
    warn_change: Effect | None = Field(
        default=None, description="Minimal absolute change of the null rate for a warning."
    )

    @model_validator(mode="after")
    def _ordered(self) -> NullRateMonitor:
        for key, v in (("min_change", self.min_change), ("warn_change", self.warn_change)):
            if v is not None and v > 1:
                raise _rule_error("effect_in_range", f"{key} is a change of a rate, at most 1")
        if (
            self.min_change is not None
            and self.warn_change is not None
            and self.warn_change > self.min_change
        ):
            raise _rule_error("warn_le_alert", "warn_change is above min_change")
        return self


class ReferenceWindow(_Spec):
    window: str | None = Field(default=None, description="Trailing window, e.g. P7D.")
    start: datetime | None = Field(default=None, description="Pinned window start (UTC).")
    end: datetime | None = Field(default=None, description="Pinned window end (UTC).")
    min_batches: int | None = Field(
        default=None, ge=1, description="Batches the reference needs (default: the setting)."
    )
    min_rows: int | None = Field(
        default=None, ge=1, description="Accepted rows the reference needs (default: the setting)."
    )
    seasonality: Literal["hour_of_day", "hour_of_week"] | None = Field(
        default=None,
        description="Compare each window with the reference's batches from the same hour of "
        "day (UTC), or the same hour of the same weekday, instead of the whole reference.",
    )

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        """Like timestamp bounds: no offset means UTC, so start and end always compare."""
        if v is None:
            return None
        try:
            return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
        except OverflowError as exc:
            raise _rule_error("datetime_in_range", f"out of range in UTC: {exc}") from None

    @model_validator(mode="after")
    def _one_kind(self) -> ReferenceWindow:
        if self.window is not None:
            try:
                parse_duration(self.window)
            except ValueError as exc:
                raise _rule_error("duration_parses", str(exc)) from None
        if (self.start is None) != (self.end is None):
            raise _rule_error("pinned_window_complete", "a pinned window needs start and end")
        if self.start and self.end and self.start >= self.end:
            raise _rule_error("start_before_end", "reference start must be before end")
        return self


class Monitoring(_Spec):
    """Drift monitoring: the reference, the watched fields, and the window's verdict rule."""

    reference: ReferenceWindow = Field(default_factory=ReferenceWindow)
    fields: dict[str, FieldMonitor] = Field(default_factory=dict)
    alpha: Alpha | None = Field(
        default=None, description="Family-wise alert level of a window's tests (Holm)."
    )
    warn_alpha: Alpha | None = Field(
        default=None, description="Family-wise warn level of a window's tests (Holm)."
    )
    design_effect: DesignEffect | None = Field(
        default=None, description="Rows per independent observation, for every field."
    )
    null_rate: NullRateMonitor | None = Field(
        default=None, description="Null-rate drift; unset: on, with the default changes."
    )
    drift_share: Share | None = Field(
        default=None,
        description="Share of alerting fields that makes the dataset alert (default: any one).",
    )

    @model_validator(mode="after")
    def _levels(self) -> Monitoring:
        if self.alpha is not None and self.warn_alpha is not None and self.warn_alpha < self.alpha:
            raise _rule_error("alpha_le_warn_alpha", "warn_alpha is below alpha")
        return self


class DatasetRef(_Spec):
    namespace: str = Field(default="driftgate", min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=300)


class ContractSpec(_Spec):
    """A versioned data contract."""

    id: str = Field(pattern=ID_PATTERN, description="Stable contract id (slug).")
    version: str = Field(max_length=100, description="Semantic version of this contract version.")
    owner: str = Field(min_length=1, max_length=200, description="Owning team or person.")
    description: str = Field(default="", max_length=10_000)
    dataset: DatasetRef = Field(description="The dataset this contract governs.")
    compatibility: Compatibility = Field(
        default=Compatibility.BACKWARD, description="How later versions may evolve."
    )
    fields: list[FieldSpec] = Field(min_length=1, max_length=2000)
    dataset_rules: list[DatasetRule] = Field(default_factory=list)
    freshness: Freshness | None = None
    policy: Policy = Field(default_factory=Policy)
    monitoring: Monitoring = Field(default_factory=Monitoring)

    @model_validator(mode="before")
    @classmethod
    def _dataset_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("dataset"), str):
            data = {**data, "dataset": {"name": data["dataset"]}}
        return data

    @field_validator("version")
    @classmethod
    def _semver(cls, v: str) -> str:
        try:
            SemVer.parse(v)
        except ValueError as exc:
            raise _rule_error("semver", str(exc)) from None
        return v

    @model_validator(mode="after")
    def _references_resolve(self) -> ContractSpec:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise _rule_error("field_names_unique", f"duplicate field names: {dupes}")
        by_name = {f.name: f for f in self.fields}
        seen_ids: set[str] = set()
        for rule in self.dataset_rules:
            _check_dataset_rule(rule, by_name)
            rid = dataset_rule_id(rule)
            if rid in seen_ids:
                raise _rule_error("rule_ids_unique", f"duplicate dataset rule id {rid!r}")
            seen_ids.add(rid)
        if self.freshness is not None:
            f = by_name.get(self.freshness.field)
            if f is None or f.type not in TEMPORAL_TYPES:
                raise _rule_error(
                    "freshness_field_is_temporal",
                    f"freshness field {self.freshness.field!r} must be a timestamp or date field",
                )
            if self.freshness.severity == Action.quarantine:
                raise _rule_error("action_applies", "freshness can warn or reject, not quarantine")
        for name, monitor in self.monitoring.fields.items():
            _check_monitor(name, monitor, by_name)
        return self

    @property
    def semver(self) -> SemVer:
        return SemVer.parse(self.version)

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_document(self) -> dict[str, Any]:
        """The canonical JSON form stored in Postgres and returned by the API."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def fingerprint(self) -> str:
        body = json.dumps(self.to_document(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


def dataset_rule_id(
    rule: RowCountRule | NullFractionRule | InvalidFractionRule | UniqueKeyRule | ExpressionRule,
) -> str:
    if rule.id:
        return rule.id
    if isinstance(rule, RowCountRule):
        return "row_count"
    if isinstance(rule, NullFractionRule):
        return f"null_fraction:{rule.field}"
    if isinstance(rule, InvalidFractionRule):
        return f"invalid_fraction:{rule.field}"
    if isinstance(rule, UniqueKeyRule):
        return "unique_key:" + "+".join(rule.fields)
    return f"expression:{rule.name}"


def _check_dataset_rule(rule: Any, by_name: dict[str, FieldSpec]) -> None:
    if isinstance(rule, NullFractionRule) and rule.field not in by_name:
        raise _rule_error("field_exists", f"null_fraction names unknown field {rule.field!r}")
    if isinstance(rule, UniqueKeyRule):
        missing = [f for f in rule.fields if f not in by_name]
        if missing:
            raise _rule_error("field_exists", f"unique_key names unknown fields {missing}")
    if isinstance(rule, InvalidFractionRule):
        _check_invalid_fraction(rule, by_name)
    if (
        isinstance(rule, RowCountRule | NullFractionRule | InvalidFractionRule)
        and rule.severity == Action.quarantine
    ):
        raise _rule_error("action_applies", f"{rule.kind} can warn or reject, not quarantine")
    if isinstance(rule, ExpressionRule):
        from contracts.expressions import referenced_columns

        try:
            cols = referenced_columns(rule.expr)
        except ValueError as exc:
            raise _rule_error("expression_parses", str(exc)) from None
        unknown = sorted(set(cols) - set(by_name))
        if unknown:
            raise _rule_error("field_exists", f"expression names unknown fields {unknown}")


def _check_invalid_fraction(rule: InvalidFractionRule, by_name: dict[str, FieldSpec]) -> None:
    f = by_name.get(rule.field)
    if f is None:
        raise _rule_error("field_exists", f"invalid_fraction names unknown field {rule.field!r}")
    if rule.pattern is not None and f.type not in TEXT_TYPES:
        raise _rule_error("rule_applies_to_type", f"pattern does not apply to type {f.type.value}")
    if rule.allowed_values is not None:
        if f.type in TEMPORAL_TYPES:
            raise _rule_error(
                "rule_applies_to_type", f"allowed_values do not apply to type {f.type.value}"
            )
        object.__setattr__(rule, "allowed_values", _coerce_allowed(f.type, rule.allowed_values))


def _check_monitor(name: str, monitor: FieldMonitor, by_name: dict[str, FieldSpec]) -> None:
    f = by_name.get(name)
    if f is None:
        raise _rule_error("field_exists", f"monitoring names unknown field {name!r}")
    if monitor.method == "ks" and f.type not in ORDERED_TYPES:
        raise _rule_error(
            "method_applies_to_type", f"ks needs an ordered field, {name} is {f.type}"
        )
    if monitor.method == "chi2" and f.type not in (TEXT_TYPES | {FieldType.boolean}):
        raise _rule_error(
            "method_applies_to_type", f"chi2 needs a categorical field, {name} is {f.type}"
        )
