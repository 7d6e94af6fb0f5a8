"""Drift of one window against a reference, per field and for the whole dataset.

Pure, no I/O. A field alerts when its change is both credible for the sample sizes involved and
large enough to matter: its test (two-sample KS for numbers, chi-square homogeneity for
categories and booleans, whatever the effect metric) is significant after a Holm correction
over all of the window's tests, *and* its effect (PSI, KS D or Jensen-Shannon distance, per the
contract's `method`) reaches the contract's minimal effect. Distance alone alerts on noise in
small windows; significance alone alerts on trivia in large ones. The null rate of every field
is tested the same way (two proportions, a minimal absolute change), in the same correction.
The defaults (`ALPHA`, `WARN_ALPHA`, `MIN_EFFECT`, `NULL_CHANGE`) were chosen by measurement
(docs/monitors.md, "Drift").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from typing import Any, Literal

import numpy as np

from contracts.spec import ContractSpec, FieldMonitor, NullRateMonitor
from monitors.drift import significance, stats
from monitors.drift.profiles import CATEGORICAL, NUMERIC, FieldProfile, is_monitorable

Severity = Literal["ok", "warn", "alert", "no_data"]
SEVERITY_ORDER = {"no_data": -1, "ok": 0, "warn": 1, "alert": 2}

ALPHA, WARN_ALPHA = 0.01, 0.05  # family-wise levels of a window's tests (alert, warn)
# (warn, alert) minimal effects per method: about a 0.1 sd and a 0.2 sd mean shift of a normal
# (Cohen's "small" d is 0.2 sd); chi2's effect is the JS distance, so it shares js's
MIN_EFFECT = {
    "ks": (0.04, 0.08),
    "psi": (0.01, 0.04),
    "js": (0.04, 0.08),
    "chi2": (0.04, 0.08),
}
NULL_CHANGE = (0.01, 0.02)  # (warn, alert) absolute change of a field's null rate
# (warn, alert) share of a window's values in categories the reference never saw, above what
# its tail predicts: a new country code on 0.2% of rows is a data bug worth a page (the test's
# significance, not this share, is what keeps a long tail's chance newcomers quiet)
NEW_CATEGORY_CHANGE = (0.001, 0.002)


@dataclass(frozen=True)
class DriftPolicy:
    """Knobs that are not per field: too-small windows, levels, dataset verdict, null rates."""

    min_rows: int = 100
    alpha: float = ALPHA
    warn_alpha: float = WARN_ALPHA
    drift_share: float | None = None  # None: any alerting field makes the dataset alert
    design_effect: float = 1.0
    null_rate: bool = True
    null_change: tuple[float, float] = NULL_CHANGE
    new_category_change: tuple[float, float] = NEW_CATEGORY_CHANGE
    prediction_fields: tuple[str, ...] = ("score", "prediction")


@dataclass(frozen=True)
class MonitoredField:
    """A field to watch; `warn`/`alert` are minimal effects, alpha levels apply to Holm p."""

    name: str
    type: str
    method: str
    warn: float
    alert: float
    bins: int = 10
    alpha: float | None = None  # None: the policy's
    warn_alpha: float | None = None
    design_effect: float | None = None


@dataclass
class FieldDrift:
    field: str
    method: str
    severity: Severity
    statistic: float | None = None  # the method's statistic as computed
    effect: float | None = None  # the statistic less its sampling bias: what the rule judges
    test: str | None = None  # ks or chi2
    test_statistic: float | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    reference_count: int = 0
    current_count: int = 0
    min_effect: float | None = None
    warn_effect: float | None = None
    alpha: float | None = None
    warn_alpha: float | None = None
    design_effect: float = 1.0
    distribution: Severity = "no_data"
    null: NullDrift | None = None
    new: NewCategoryDrift | None = None
    prediction: bool = False
    details: dict[str, Any] = dataclass_field(default_factory=dict)

    @property
    def warn(self) -> float | None:
        """The warn threshold as the contract spells it (chi2: a p-value level)."""
        return self.warn_alpha if self.method == "chi2" else self.warn_effect

    @property
    def alert(self) -> float | None:
        return self.alpha if self.method == "chi2" else self.min_effect

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "method": self.method,
            "severity": self.severity,
            "distribution_severity": self.distribution,
            "statistic": self.statistic,
            "effect": self.effect,
            "test": self.test,
            "test_statistic": self.test_statistic,
            "p_value": self.p_value,
            "adjusted_p_value": self.adjusted_p_value,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "warn": self.warn,
            "alert": self.alert,
            "min_effect": self.min_effect,
            "warn_effect": self.warn_effect,
            "alpha": self.alpha,
            "warn_alpha": self.warn_alpha,
            "design_effect": self.design_effect,
            **(self.null.to_json() if self.null else {"null_severity": "no_data"}),
            **(self.new.to_json() if self.new else {"new_category_severity": "no_data"}),
            "prediction": self.prediction,
            **self.details,
        }


@dataclass
class NullDrift:
    """The null-rate half of a field's result."""

    rate: float
    reference_rate: float
    p_value: float | None
    adjusted_p_value: float | None = None
    severity: Severity = "ok"

    @property
    def change(self) -> float:
        return abs(self.rate - self.reference_rate)

    def to_json(self) -> dict[str, Any]:
        return {
            "null_rate": self.rate,
            "reference_null_rate": self.reference_rate,
            "null_p_value": self.p_value,
            "null_adjusted_p_value": self.adjusted_p_value,
            "null_severity": self.severity,
        }


@dataclass
class NewCategoryDrift:
    """The new-categories part of a categorical field's result (exact references only)."""

    share: float  # of the window's values, in categories the reference never saw
    expected_share: float  # what the reference's tail predicts (Good-Turing)
    p_value: float | None
    adjusted_p_value: float | None = None
    severity: Severity = "ok"

    @property
    def excess(self) -> float:
        return max(self.share - self.expected_share, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "new_category_share": self.share,
            "expected_new_category_share": self.expected_share,
            "new_category_p_value": self.p_value,
            "new_category_adjusted_p_value": self.adjusted_p_value,
            "new_category_severity": self.severity,
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
    and category with PSI; unset thresholds take the method's defaults."""
    configured = spec.monitoring.fields
    out: list[MonitoredField] = []
    for f in spec.fields:
        if configured and f.name not in configured:
            continue
        if not is_monitorable(f.type.value):
            continue
        out.append(_monitored(f.name, f.type.value, configured.get(f.name) or FieldMonitor()))
    return out


def _monitored(name: str, field_type: str, m: FieldMonitor) -> MonitoredField:
    warn_default, alert_default = MIN_EFFECT[m.method]
    alert = m.alert_effect if m.alert_effect is not None else alert_default
    # chi2's `warn` is a p-level, so its warn effect is always the default
    explicit = m.warn if m.method != "chi2" else None
    warn = explicit if explicit is not None else min(warn_default, alert)
    return MonitoredField(
        name,
        field_type,
        m.method,
        warn,
        alert,
        m.bins,
        alpha=m.alert_alpha,
        warn_alpha=m.warn_alpha,
        design_effect=m.design_effect,
    )


def contract_policy(spec: ContractSpec, base: DriftPolicy) -> DriftPolicy:
    """The service's policy with what the contract's `monitoring` section overrides."""
    mon = spec.monitoring
    alpha = mon.alpha if mon.alpha is not None else base.alpha
    warn_alpha = mon.warn_alpha if mon.warn_alpha is not None else max(base.warn_alpha, alpha)
    warn_change, alert_change = base.null_change
    nulls = mon.null_rate or NullRateMonitor()
    alert_change = nulls.min_change if nulls.min_change is not None else alert_change
    warn_change = nulls.warn_change if nulls.warn_change is not None else warn_change
    return replace(
        base,
        alpha=alpha,
        warn_alpha=warn_alpha,
        drift_share=mon.drift_share if mon.drift_share is not None else base.drift_share,
        design_effect=mon.design_effect or base.design_effect,
        null_rate=nulls.enabled,
        null_change=(min(warn_change, alert_change), alert_change),
    )


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
        return _no_data(fields, rows, policy, "no reference profile yet")
    if rows < policy.min_rows:
        return _no_data(fields, rows, policy, f"{rows} rows in the window (< {policy.min_rows})")
    results = {
        f.name: _measure(reference.get(f.name), current.get(f.name), f, policy) for f in fields
    }
    _correct(list(results.values()))
    for r in results.values():
        _judge(r, policy)
    return _verdict(results, rows, policy)


def _blank(f: MonitoredField, policy: DriftPolicy) -> FieldDrift:
    alpha = f.alpha if f.alpha is not None else policy.alpha
    warn_alpha = max(f.warn_alpha if f.warn_alpha is not None else policy.warn_alpha, alpha)
    return FieldDrift(
        f.name,
        f.method,
        "no_data",
        min_effect=f.alert,
        warn_effect=f.warn,
        alpha=alpha,
        warn_alpha=warn_alpha,
        design_effect=f.design_effect or policy.design_effect,
        prediction=f.name in policy.prediction_fields,
    )


def _measure(
    ref: FieldProfile | None, cur: FieldProfile | None, f: MonitoredField, policy: DriftPolicy
) -> FieldDrift:
    """The field's effect and raw p-values (distribution and null rate), not yet judged."""
    out = _blank(f, policy)
    if ref is None or cur is None:
        out.details["reason"] = "field missing from the reference or the window"
        return out
    if policy.null_rate and min(ref.count, cur.count) >= policy.min_rows:
        out.null = _null_rate(ref, cur, out.design_effect)
    out.reference_count, out.current_count = ref.values, cur.values
    if ref.values < policy.min_rows or cur.values < policy.min_rows:
        out.details["reason"] = f"too few non-null values (< {policy.min_rows})"
        return out
    effect, test, cells = _compare(ref, cur, f, out.design_effect)
    out.statistic, out.test = effect.statistic, test.method
    out.test_statistic, out.p_value = test.statistic, test.p_value
    n, m = ref.values / out.design_effect, cur.values / out.design_effect
    out.effect = significance.debiased_effect(effect.method, effect.statistic, cells, n, m)
    out.details.update(_public_details(effect.details))
    out.distribution = "ok"
    if f.type in CATEGORICAL:
        out.new = _new_categories(ref, cur, out.design_effect)
    return out


def _new_categories(
    ref: FieldProfile, cur: FieldProfile, design_effect: float
) -> NewCategoryDrift | None:
    """Values of categories an exact reference never saw, against what its tail predicts."""
    r, c = ref.categories, cur.categories
    if r is None or c is None or not r.exact or r.other or not c.total:
        return None  # an approximate reference cannot tell a new category from its tail
    unseen = sum(v for k, v in c.counts.items() if k not in r.counts)
    singletons = sum(1 for v in r.counts.values() if v == 1)
    expected, p = significance.new_categories(unseen, c.total, singletons, r.total, design_effect)
    return NewCategoryDrift(unseen / c.total, expected, p)


def _null_rate(ref: FieldProfile, cur: FieldProfile, design_effect: float) -> NullDrift:
    p = significance.two_proportions(ref.nulls, ref.count, cur.nulls, cur.count, design_effect)
    return NullDrift(cur.nulls / cur.count, ref.nulls / ref.count, p)


def _compare(
    ref: FieldProfile, cur: FieldProfile, f: MonitoredField, design_effect: float
) -> tuple[stats.Comparison, stats.Comparison, int]:
    """The field's effect (its method), its test (KS or chi-square) and its number of cells."""
    if f.type in NUMERIC and ref.sketch is not None and cur.sketch is not None:
        ks = stats.ks(ref.sketch, cur.sketch)
        if design_effect != 1.0:
            p = significance.ks_p_value(ks.statistic, ref.values, cur.values, design_effect)
            ks = replace(ks, p_value=p)
        if f.method == "ks":
            return ks, ks, 0
        effect = stats.psi(ref.sketch, cur.sketch, f.bins)
        return effect, ks, len(effect.details["edges"]) + 1
    if f.type in CATEGORICAL and ref.categories is not None and cur.categories is not None:
        return _categorical(ref, cur, "js" if f.method == "chi2" else f.method, design_effect)
    raise ValueError(f"field {f.name} has no distribution summary for {f.method}")


def _categorical(
    ref: FieldProfile, cur: FieldProfile, method: str, design_effect: float
) -> tuple[stats.Comparison, stats.Comparison, int]:
    """`stats.categorical`'s effect and chi-square from one alignment of the two sides
    (tests/monitors/drift/test_verdict.py holds them equal)."""
    cells = stats.category_cells(ref.categories, cur.categories)  # type: ignore[arg-type]
    r, c, details = cells.reference, cells.current, cells.details
    n, m = int(r.sum()), int(c.sum())
    if method == "psi":
        value = stats.psi_from_counts(r, c)
    else:
        from scipy.spatial.distance import jensenshannon

        value = float(jensenshannon(r / max(n, 1), c / max(m, 1), base=2))
    table = stats.pool_sparse(np.vstack([r, c]))
    statistic, p = significance.chi2_homogeneity(table, design_effect)
    test = stats.Comparison("chi2", statistic, p, n, m, {"chi2_cells": int(table.shape[1])})
    return stats.Comparison(method, value, None, n, m, details), test, len(cells.labels)


def _public_details(details: dict[str, Any]) -> dict[str, Any]:
    keep = (
        *("unseen", "unseen_share", "edges", "reference_share", "current_share", "categories"),
        *("approximate", "error_bound", "pooled_categories", "chi2_cells"),
    )
    return {k: v for k, v in details.items() if k in keep}


def _correct(results: list[FieldDrift]) -> None:
    """Holm over every test of the window: distributions, null rates and new categories."""
    slots: list[tuple[FieldDrift, str, float]] = []
    for r in results:
        if r.distribution != "no_data" and r.p_value is not None:
            slots.append((r, "distribution", r.p_value))
        if r.null is not None and r.null.p_value is not None:
            slots.append((r, "null", r.null.p_value))
        if r.new is not None and r.new.p_value is not None:
            slots.append((r, "new", r.new.p_value))
    adjusted = significance.holm([p for _, _, p in slots])
    for (r, part, _), p in zip(slots, adjusted, strict=True):
        if part == "null":
            assert r.null is not None
            r.null.adjusted_p_value = p
        elif part == "new":
            assert r.new is not None
            r.new.adjusted_p_value = p
        else:
            r.adjusted_p_value = p


def _judge(r: FieldDrift, policy: DriftPolicy) -> None:
    """Alert: significant at alpha and at least the minimal effect; warn: both at warn level."""
    assert r.alpha is not None and r.warn_alpha is not None
    if r.distribution != "no_data":
        r.distribution = _level(
            r.adjusted_p_value, r.effect, (r.alpha, r.warn_alpha), (r.min_effect, r.warn_effect)
        )
    if r.null is not None:
        warn_change, alert_change = policy.null_change
        r.null.severity = _level(
            r.null.adjusted_p_value,
            r.null.change,
            (r.alpha, r.warn_alpha),
            (alert_change, warn_change),
        )
    if r.new is not None:
        warn_share, alert_share = policy.new_category_change
        r.new.severity = _level(
            r.new.adjusted_p_value,
            r.new.excess,
            (r.alpha, r.warn_alpha),
            (alert_share, warn_share),
        )
    null = r.null.severity if r.null is not None else "no_data"
    new = r.new.severity if r.new is not None else "no_data"
    worst = max(r.distribution, null, new, key=SEVERITY_ORDER.__getitem__)
    # a null rate that is fine says nothing about a distribution that could not be judged
    r.severity = "no_data" if r.distribution == "no_data" and worst == "ok" else worst
    if r.severity == "ok" and r.adjusted_p_value is not None and r.effect is not None:
        r.details["reason"] = _why_ok(r)


def _level(
    p: float | None,
    effect: float | None,
    alphas: tuple[float, float],
    effects: tuple[float | None, float | None],
) -> Severity:
    if p is None or effect is None:
        return "ok"
    (alpha, warn_alpha), (alert_effect, warn_effect) = alphas, effects
    if p <= alpha and effect >= (alert_effect or 0.0):
        return "alert"
    if p <= warn_alpha and effect >= (warn_effect or 0.0):
        return "warn"
    return "ok"


def _why_ok(r: FieldDrift) -> str:
    if r.adjusted_p_value is not None and r.adjusted_p_value > r.warn_alpha:  # type: ignore[operator]
        return f"not significant (Holm-adjusted p {r.adjusted_p_value:.3g})"
    return f"effect {r.effect:.3g} below the minimal effect {r.warn_effect:.3g}"


def _verdict(results: dict[str, FieldDrift], rows: int, policy: DriftPolicy) -> WindowDrift:
    judged = [r for r in results.values() if r.severity != "no_data"]
    if not judged:
        return WindowDrift("no_data", rows, None, results, "no field had enough values")
    drifted = [r.field for r in judged if r.severity == "alert"]
    share = len(drifted) / len(judged)
    if drifted and (policy.drift_share is None or share >= policy.drift_share):
        verdict: Severity = "alert"
    elif drifted or any(r.severity == "warn" for r in judged):
        verdict = "warn"
    else:
        verdict = "ok"
    rule = (
        "dataset alert on any alerting field"
        if policy.drift_share is None
        else f"dataset alert at {policy.drift_share:.0%}"
    )
    reason = f"{len(drifted)} of {len(judged)} fields drifted ({share:.0%}; {rule})"
    if drifted:
        reason += ": " + ", ".join(sorted(drifted))
    return WindowDrift(verdict, rows, share, results, reason)


def _no_data(
    fields: Sequence[MonitoredField], rows: int, policy: DriftPolicy, reason: str
) -> WindowDrift:
    results = {f.name: _blank(f, policy) for f in fields}
    return WindowDrift("no_data", rows, None, results, reason)
