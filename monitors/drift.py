"""Drift of one window against a reference, per field and for the whole dataset.

Pure, no I/O. Methods and thresholds come from the contract's `monitoring` section
(`FieldMonitor`); unmonitored contracts get PSI on every numeric and categorical field with
the defaults 0.1 warn / 0.25 alert. Thresholds mean "at or above is worse" for the distance
methods (psi, js, ks statistic) and "at or below is worse" for chi2, whose thresholds are
p-value levels. p-values (ks, chi2) are Benjamini-Hochberg adjusted across the window's
fields before they count, so 22 fields do not give 22 chances of a false alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

from contracts.spec import ContractSpec, FieldMonitor
from monitors import stats
from monitors.profiles import CATEGORICAL, NUMERIC, FieldProfile, is_monitorable

Severity = Literal["ok", "warn", "alert", "no_data"]
SEVERITY_ORDER = {"no_data": -1, "ok": 0, "warn": 1, "alert": 2}
CHI2_DEFAULT_WARN, CHI2_DEFAULT_ALERT = 0.05, 0.01


@dataclass(frozen=True)
class DriftPolicy:
    """Knobs that are not per field: too-small windows, dataset verdict, significance."""

    min_rows: int = 100
    drift_share: float = 0.5
    significance: float = 0.05
    prediction_fields: tuple[str, ...] = ("score", "prediction")


@dataclass(frozen=True)
class MonitoredField:
    name: str
    type: str
    method: str
    warn: float
    alert: float
    bins: int


@dataclass
class FieldDrift:
    field: str
    method: str
    severity: Severity
    statistic: float | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    reference_count: int = 0
    current_count: int = 0
    warn: float | None = None
    alert: float | None = None
    prediction: bool = False
    details: dict[str, Any] = dataclass_field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "method": self.method,
            "severity": self.severity,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "adjusted_p_value": self.adjusted_p_value,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "warn": self.warn,
            "alert": self.alert,
            "prediction": self.prediction,
            **self.details,
        }


@dataclass
class WindowDrift:
    verdict: Severity
    rows: int
    drifted_share: float | None
    fields: dict[str, FieldDrift]
    reason: str

    @property
    def prediction(self) -> FieldDrift | None:
        return next((f for f in self.fields.values() if f.prediction), None)


def monitored_fields(spec: ContractSpec) -> list[MonitoredField]:
    """The fields to watch and how: the contract's `monitoring.fields`, else every number
    and category with PSI and default thresholds."""
    configured = spec.monitoring.fields
    out: list[MonitoredField] = []
    for f in spec.fields:
        if configured and f.name not in configured:
            continue
        if not is_monitorable(f.type.value):
            continue
        m = configured.get(f.name) or FieldMonitor()
        warn, alert = m.warn, m.alert
        if m.method == "chi2" and m.alert > m.warn:
            # p-value levels need alert <= warn; the distance-style defaults (0.1 / 0.25,
            # which a stored contract spells out) mean "not set": use 0.05 / 0.01.
            warn, alert = CHI2_DEFAULT_WARN, CHI2_DEFAULT_ALERT
        out.append(MonitoredField(f.name, f.type.value, m.method, warn, alert, m.bins))
    return out


def compare_window(
    reference: Mapping[str, FieldProfile],
    current: Mapping[str, FieldProfile],
    fields: Sequence[MonitoredField],
    policy: DriftPolicy,
    *,
    rows: int,
) -> WindowDrift:
    """Compare a window's merged profiles with the reference's."""
    if not reference:
        return _no_data(fields, rows, "no reference profile yet")
    if rows < policy.min_rows:
        return _no_data(fields, rows, f"{rows} rows in the window (< {policy.min_rows})")
    results = {
        f.name: _compare_field(reference.get(f.name), current.get(f.name), f, policy)
        for f in fields
    }
    _adjust_p_values(results, policy)
    return _verdict(results, rows, policy)


def _compare_field(
    ref: FieldProfile | None, cur: FieldProfile | None, f: MonitoredField, policy: DriftPolicy
) -> FieldDrift:
    out = FieldDrift(f.name, f.method, "no_data", warn=f.warn, alert=f.alert)
    out.prediction = f.name in policy.prediction_fields
    if ref is None or cur is None:
        out.details["reason"] = "field missing from the reference or the window"
        return out
    out.reference_count, out.current_count = ref.values, cur.values
    if ref.values < policy.min_rows or cur.values < policy.min_rows:
        out.details["reason"] = f"too few non-null values (< {policy.min_rows})"
        return out
    comparison = _statistic(ref, cur, f)
    out.statistic, out.p_value = comparison.statistic, comparison.p_value
    out.details.update(_public_details(comparison.details))
    out.severity = _severity(f.method, comparison.statistic, None, f)
    return out


def _statistic(ref: FieldProfile, cur: FieldProfile, f: MonitoredField) -> stats.Comparison:
    if f.type in NUMERIC and ref.sketch is not None and cur.sketch is not None:
        if f.method == "ks":
            return stats.ks(ref.sketch, cur.sketch)
        return stats.psi(ref.sketch, cur.sketch, f.bins)
    if f.type in CATEGORICAL and ref.categories is not None and cur.categories is not None:
        return stats.categorical(ref.categories, cur.categories, f.method)
    raise ValueError(f"field {f.name} has no distribution summary for {f.method}")


def _public_details(details: dict[str, Any]) -> dict[str, Any]:
    keep = (
        *("unseen", "unseen_share", "edges", "reference_share", "current_share", "categories"),
        *("approximate", "error_bound", "pooled_categories", "chi2_cells"),
    )
    return {k: v for k, v in details.items() if k in keep}


def _severity(method: str, statistic: float, p_value: float | None, f: MonitoredField) -> Severity:
    if method == "chi2":
        p = 1.0 if p_value is None else p_value
        return "alert" if p <= f.alert else "warn" if p <= f.warn else "ok"
    return "alert" if statistic >= f.alert else "warn" if statistic >= f.warn else "ok"


def _adjust_p_values(results: dict[str, FieldDrift], policy: DriftPolicy) -> None:
    """BH-adjust the window's p-values; chi2 is judged on them, ks needs significance."""
    tested = [r for r in results.values() if r.severity != "no_data" and r.p_value is not None]
    adjusted = stats.adjusted_p_values([float(r.p_value) for r in tested])  # type: ignore[arg-type]
    for r, p in zip(tested, adjusted, strict=True):
        r.adjusted_p_value = p
        if r.method == "chi2":
            f = MonitoredField(r.field, "", "chi2", r.warn or 0.0, r.alert or 0.0, 0)
            r.severity = _severity("chi2", r.statistic or 0.0, p, f)
        elif r.method == "ks" and p >= policy.significance and r.severity != "ok":
            r.details["reason"] = f"not significant (adjusted p {p:.3g})"
            r.severity = "ok"


def _verdict(results: dict[str, FieldDrift], rows: int, policy: DriftPolicy) -> WindowDrift:
    judged = [r for r in results.values() if r.severity != "no_data"]
    if not judged:
        return WindowDrift("no_data", rows, None, results, "no field had enough values")
    drifted = [r.field for r in judged if r.severity == "alert"]
    share = len(drifted) / len(judged)
    if share >= policy.drift_share:
        verdict: Severity = "alert"
    elif drifted or any(r.severity == "warn" for r in judged):
        verdict = "warn"
    else:
        verdict = "ok"
    reason = (
        f"{len(drifted)} of {len(judged)} fields drifted ({share:.0%}; "
        f"dataset alert at {policy.drift_share:.0%})"
    )
    if drifted:
        reason += ": " + ", ".join(sorted(drifted))
    return WindowDrift(verdict, rows, share, results, reason)


def _no_data(fields: Sequence[MonitoredField], rows: int, reason: str) -> WindowDrift:
    results = {
        f.name: FieldDrift(f.name, f.method, "no_data", warn=f.warn, alert=f.alert) for f in fields
    }
    return WindowDrift("no_data", rows, None, results, reason)
