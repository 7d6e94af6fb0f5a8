"""The drift verdict: significant *and* at least the minimal effect, Holm over the window's tests.

Pure (profiles built in memory): small windows of noise do not alert, negligible shifts in huge
windows do not alert, real shifts do at both sizes; null rates drift on their own; one drifted
field of seven makes the dataset alert; clean windows alert in at most 1% of seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, fisher_exact, ks_2samp
from statsmodels.stats.multitest import multipletests

from checks.sketch import build
from contracts.spec import ContractSpec
from monitors.drift import significance
from monitors.drift.compare import (
    ALPHA,
    DriftPolicy,
    MonitoredField,
    WindowDrift,
    compare_window,
    contract_policy,
    monitored_fields,
)
from monitors.drift.profiles import FieldProfile
from tests.monitors.factory import events_contract

CATS = np.array(["a", "b", "c", "d", "e"])
MIX = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
NUMBERS = ("x", "y", "n", "score")
CATEGORIES = ("cat", "cat2", "flag")
REFERENCE_ROWS = 50_000


def _categories(counts: dict[str, int]) -> Any:
    """Category counts in the shape `FieldProfile.categories` holds."""
    try:
        from checks.heavy_hitters import CategoryCounts
    except ImportError:  # category counts as a plain map
        return counts
    return CategoryCounts(counts)


def rows(
    rng: np.random.Generator,
    n: int,
    *,
    shift: float = 0.0,
    mix: np.ndarray = MIX,
    null_x: float = 0.0,
) -> dict[str, np.ndarray]:
    """Seven fields: four numbers, two categories, a boolean; `shift` moves x by sds."""
    return {
        "x": rng.normal(10 + 2 * shift, 2, n),
        "y": rng.lognormal(1, 0.5, n),
        "n": rng.poisson(5, n).astype(np.float64),
        "score": rng.beta(2, 5, n),
        "cat": rng.choice(CATS[: mix.size], n, p=mix / mix.sum()),
        "cat2": rng.choice(CATS, n, p=MIX[::-1]),
        "flag": np.where(rng.random(n) < 0.3, "true", "false"),
        "x_null": rng.random(n) < 0.02 + null_x,
    }


def profiles(data: dict[str, np.ndarray]) -> dict[str, FieldProfile]:
    out = {}
    for name in NUMBERS:
        values = data[name]
        nulls = data["x_null"] if name == "x" else np.zeros(values.size, dtype=bool)
        out[name] = FieldProfile("float", values.size, int(nulls.sum()), build(values[~nulls]))
    for name in CATEGORIES:
        labels, counts = np.unique(data[name], return_counts=True)
        counted = dict(zip(labels.tolist(), counts.tolist(), strict=True))
        out[name] = FieldProfile("category", data[name].size, 0, categories=_categories(counted))
    return out


def fields(method: str = "psi", **overrides: Any) -> list[MonitoredField]:
    """The seven fields watched with `method` where it applies (else psi), overrides per field."""
    applies = {name: ("psi", "ks") for name in NUMBERS} | {
        name: ("psi", "chi2", "js") for name in CATEGORIES
    }
    watched = {
        name: {"method": method if method in kinds else "psi"} | overrides.get(name, {})
        for name, kinds in applies.items()
    }
    return monitored_fields(ContractSpec.model_validate(seven_fields({"fields": watched})))


def seven_fields(monitoring: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "seven",
        "version": "1.0.0",
        "owner": "ml-platform",
        "dataset": "seven",
        "fields": [{"name": n, "type": "float"} for n in NUMBERS]
        + [{"name": n, "type": "category"} for n in CATEGORIES],
        "monitoring": monitoring,
    }


@pytest.fixture(scope="module")
def reference() -> dict[str, FieldProfile]:
    return profiles(rows(np.random.default_rng(12345), REFERENCE_ROWS))


def judge(
    reference: dict[str, FieldProfile],
    data: dict[str, np.ndarray],
    watched: list[MonitoredField] | None = None,
    policy: DriftPolicy | None = None,
) -> WindowDrift:
    n = data["x"].size
    return compare_window(
        reference, profiles(data), watched or fields(), policy or DriftPolicy(), rows=n
    )


# --- the rule at small and large sizes ------------------------------------------------------


@pytest.mark.parametrize(("size", "seeds"), [(200, 400), (5_000, 100)])
def test_clean_windows_alert_in_at_most_one_percent_of_seeds(
    reference: dict[str, FieldProfile], size: int, seeds: int
) -> None:
    watched = fields()
    verdicts = [
        judge(reference, rows(np.random.default_rng(seed), size), watched).verdict
        for seed in range(seeds)
    ]
    assert verdicts.count("alert") / seeds <= ALPHA
    assert verdicts.count("warn") / seeds <= 0.05 + 0.02  # warn is a family-wise 5% level


def test_noise_in_a_small_window_is_large_but_not_credible(
    reference: dict[str, FieldProfile],
) -> None:
    """PSI of 200 clean rows often passes the minimal effect; the test keeps it quiet."""
    seen_large = 0
    for seed in range(40):
        drift = judge(reference, rows(np.random.default_rng(seed), 200))
        x = drift.fields["x"]
        seen_large += x.statistic is not None and x.statistic >= x.min_effect  # type: ignore[operator]
        assert x.severity != "alert"
    assert seen_large >= 10  # the distance alone would have alerted on these


def test_a_negligible_shift_in_a_huge_window_is_significant_but_does_not_alert(
    reference: dict[str, FieldProfile],
) -> None:
    big = profiles(rows(np.random.default_rng(7), 400_000))
    tiny = rows(np.random.default_rng(8), 200_000, shift=0.05)
    drift = compare_window(big, profiles(tiny), fields("ks"), DriftPolicy(), rows=200_000)
    x = drift.fields["x"]
    assert x.adjusted_p_value is not None and x.adjusted_p_value < 1e-6
    assert x.statistic is not None and x.statistic < x.min_effect  # type: ignore[operator]
    assert x.severity == "ok" and drift.verdict == "ok"


@pytest.mark.parametrize("size", [200, 100_000])
def test_a_real_shift_alerts_at_small_and_large_sizes(
    reference: dict[str, FieldProfile], size: int
) -> None:
    drift = judge(reference, rows(np.random.default_rng(3), size, shift=0.5))
    assert drift.fields["x"].severity == "alert"
    assert drift.verdict == "alert"
    assert {f for f, r in drift.fields.items() if r.severity == "alert"} == {"x"}


def test_a_swap_of_two_category_frequencies_alerts_with_chi2_and_js(
    reference: dict[str, FieldProfile],
) -> None:
    swapped = MIX[[1, 0, 2, 3, 4]]
    for method in ("chi2", "js", "psi"):
        drift = judge(reference, rows(np.random.default_rng(4), 1_000, mix=swapped), fields(method))
        cat = drift.fields["cat"]
        assert cat.test == "chi2" and cat.severity == "alert", method


def test_a_new_category_alerts_and_is_reported_as_unseen(
    reference: dict[str, FieldProfile],
) -> None:
    mix = np.append(MIX * 0.95, 0.05)
    data = rows(np.random.default_rng(5), 5_000)
    data["cat"] = np.random.default_rng(6).choice(np.append(CATS, "f"), 5_000, p=mix)
    cat = judge(reference, data, fields("chi2")).fields["cat"]
    assert cat.severity == "alert" and cat.details["unseen"] == ["f"]


def test_every_field_is_tested_whatever_its_effect_metric(
    reference: dict[str, FieldProfile],
) -> None:
    drift = judge(reference, rows(np.random.default_rng(9), 1_000))
    assert {r.test for r in drift.fields.values()} == {"ks", "chi2"}
    assert all(r.p_value is not None for r in drift.fields.values())
    assert drift.fields["x"].method == "psi" and drift.fields["x"].test == "ks"


# --- null rates --------------------------------------------------------------------------------


def test_a_null_spike_alerts_the_field_and_reports_both_rates(
    reference: dict[str, FieldProfile],
) -> None:
    drift = judge(reference, rows(np.random.default_rng(10), 2_000, null_x=0.1))
    x = drift.fields["x"]
    assert x.null is not None and x.null.severity == "alert"
    assert x.null.rate == pytest.approx(0.12, abs=0.02)
    assert x.null.reference_rate == pytest.approx(0.02, abs=0.003)
    assert x.severity == "alert" and x.distribution == "ok"
    assert drift.verdict == "alert"
    doc = x.to_json()
    assert doc["null_severity"] == "alert" and doc["null_adjusted_p_value"] < ALPHA


def test_a_tiny_null_rate_change_in_a_huge_window_does_not_alert(
    reference: dict[str, FieldProfile],
) -> None:
    drift = judge(reference, rows(np.random.default_rng(11), 200_000, null_x=0.005))
    x = drift.fields["x"]
    assert x.null is not None and x.null.adjusted_p_value is not None
    assert x.null.adjusted_p_value < 1e-6 and x.null.severity == "ok"


def test_an_all_null_window_is_a_null_rate_alert_not_no_data(
    reference: dict[str, FieldProfile],
) -> None:
    data = rows(np.random.default_rng(12), 1_000)
    data["x_null"] = np.ones(1_000, dtype=bool)
    x = judge(reference, data).fields["x"]
    assert x.distribution == "no_data" and x.null is not None and x.null.severity == "alert"
    assert x.severity == "alert"


def test_null_rate_tests_count_in_the_same_correction(
    reference: dict[str, FieldProfile],
) -> None:
    drift = judge(reference, rows(np.random.default_rng(13), 1_000))
    x = drift.fields["x"]
    # x's null test is testable (nulls on both sides), the others' are not (no nulls anywhere)
    assert x.null is not None and x.null.p_value is not None
    assert drift.fields["y"].null is not None and drift.fields["y"].null.p_value is None
    raw = [r.p_value for r in drift.fields.values()] + [x.null.p_value]
    holm = multipletests(raw, method="holm")[1]
    assert x.adjusted_p_value == pytest.approx(holm[0])
    assert x.null.adjusted_p_value == pytest.approx(holm[-1])


def test_null_rate_monitoring_can_be_switched_off(reference: dict[str, FieldProfile]) -> None:
    drift = judge(
        reference,
        rows(np.random.default_rng(10), 2_000, null_x=0.1),
        policy=DriftPolicy(null_rate=False),
    )
    assert drift.fields["x"].null is None and drift.fields["x"].severity == "ok"


# --- dataset verdict ---------------------------------------------------------------------------


def test_one_drifted_field_of_seven_makes_the_dataset_alert(
    reference: dict[str, FieldProfile],
) -> None:
    data = rows(np.random.default_rng(14), 5_000, shift=0.4)
    drift = judge(reference, data)
    assert drift.verdict == "alert" and drift.drifted_share == pytest.approx(1 / 7)
    assert "any alerting field" in drift.reason and drift.reason.endswith(": x")
    shared = judge(reference, data, policy=DriftPolicy(drift_share=0.5))
    assert shared.verdict == "warn"  # the share rule, when a contract asks for it


def test_too_small_windows_and_fields_are_no_data_never_no_drift(
    reference: dict[str, FieldProfile],
) -> None:
    small = judge(reference, rows(np.random.default_rng(15), 60))
    assert small.verdict == "no_data" and "60 rows" in small.reason
    assert {r.severity for r in small.fields.values()} == {"no_data"}
    assert compare_window({}, {}, fields(), DriftPolicy(), rows=10_000).verdict == "no_data"


# --- clustered rows ------------------------------------------------------------------------------


def clustered(rng: np.random.Generator, clusters: int, size: int) -> dict[str, np.ndarray]:
    """Rows in clusters of `size` sharing their category (impressions of one request)."""
    data = rows(rng, clusters * size)
    data["cat"] = np.repeat(rng.choice(CATS, clusters, p=MIX), size)
    return data


def test_declaring_the_design_effect_of_clustered_rows_keeps_them_quiet() -> None:
    ref = profiles(clustered(np.random.default_rng(100), 5_000, 20))
    watched = fields("chi2", cat={"min_effect": 0.02})
    naive = quiet = 0
    for seed in range(30):
        cur = profiles(clustered(np.random.default_rng(seed), 250, 20))
        naive += compare_window(ref, cur, watched, DriftPolicy(), rows=5_000).verdict == "alert"
        fixed = compare_window(ref, cur, watched, DriftPolicy(design_effect=20.0), rows=5_000)
        quiet += fixed.verdict != "alert"
    assert naive >= 10  # row-level tests take 20 copies of one category for 20 observations
    assert quiet >= 29


# --- the statistics against reference implementations ------------------------------------------


def test_holm_matches_statsmodels() -> None:
    rng = np.random.default_rng(0)
    for m in (1, 2, 7, 30):
        p = rng.random(m) ** 3
        assert significance.holm(list(p)) == pytest.approx(multipletests(p, method="holm")[1])
    assert significance.holm([]) == []


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(20, 1_000, 45, 1_000), (3, 50_000, 0, 200), (500, 10_000, 560, 9_000), (1, 30, 4, 25)],
)
def test_two_proportions_matches_scipy(x1: int, n1: int, x2: int, n2: int) -> None:
    ours = significance.two_proportions(x1, n1, x2, n2)
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    expected = np.outer([n1, n2], [x1 + x2, n1 + n2 - x1 - x2]) / (n1 + n2)
    if expected.min() < significance.FISHER_BELOW:
        truth = fisher_exact(table).pvalue
    else:
        truth = chi2_contingency(table, correction=False).pvalue  # = the pooled z-test
    assert ours == pytest.approx(truth, rel=1e-9)


def test_two_proportions_without_room_to_reject_is_left_out() -> None:
    assert significance.two_proportions(0, 1_000, 0, 500) is None
    assert significance.two_proportions(1_000, 1_000, 500, 500) is None


def test_ks_p_value_matches_scipy_asymptotic() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 3_000), rng.normal(0.08, 1, 700)
    truth = ks_2samp(a, b, method="asymp")
    ours = significance.ks_p_value(truth.statistic, a.size, b.size)
    assert ours == pytest.approx(truth.pvalue, rel=0.05)


def test_chi2_homogeneity_matches_scipy_and_survives_empty_cells() -> None:
    table = np.array([[30.0, 12, 0, 7], [22, 25, 0, 3]])
    truth = chi2_contingency(table[:, [0, 1, 3]], correction=False)
    assert significance.chi2_homogeneity(table) == pytest.approx((truth.statistic, truth.pvalue))
    assert significance.chi2_homogeneity(np.array([[5.0, 0], [0, 0]])) == (0.0, 1.0)


def test_rao_scott_divides_the_statistic_by_the_design_effect() -> None:
    from scipy.stats import chi2

    assert significance.rao_scott(30.0, 4, 1.0) == pytest.approx(chi2.sf(30.0, 4))
    assert significance.rao_scott(30.0, 4, 10.0) == pytest.approx(chi2.sf(3.0, 4))


# --- what a contract sets ---------------------------------------------------------------------


def test_contract_keys_reach_the_fields_and_the_policy() -> None:
    doc = events_contract(
        fields={
            "x": {"method": "ks", "warn": 0.1, "alert": 0.2},
            "cat": {"method": "chi2", "warn": 0.05, "alert": 0.001, "min_effect": 0.1},
            "y": {"method": "psi", "min_effect": 0.2, "alpha": 0.001, "design_effect": 4},
        },
        alpha=0.005,
        warn_alpha=0.02,
        drift_share=0.5,
        design_effect=2,
        null_rate={"min_change": 0.05, "warn_change": 0.02},
    )
    spec = ContractSpec.model_validate(doc)
    by_name = {f.name: f for f in monitored_fields(spec)}
    assert (by_name["x"].warn, by_name["x"].alert, by_name["x"].alpha) == (0.1, 0.2, None)
    assert (by_name["cat"].alert, by_name["cat"].alpha, by_name["cat"].warn_alpha) == (
        0.1,
        0.001,
        0.05,
    )
    assert (by_name["y"].alert, by_name["y"].alpha, by_name["y"].design_effect) == (0.2, 0.001, 4)
    policy = contract_policy(spec, DriftPolicy())
    assert (policy.alpha, policy.warn_alpha, policy.drift_share) == (0.005, 0.02, 0.5)
    assert (policy.design_effect, policy.null_change) == (2, (0.02, 0.05))


def test_legacy_thresholds_keep_their_meaning() -> None:
    """Distance methods' warn/alert are minimal effects, chi2's are p-value levels, and the
    0.1 / 0.25 a stored chi2 monitor spells out means "not set"."""
    doc = events_contract(
        fields={
            "x": {"method": "ks", "warn": 0.1, "alert": 0.2},
            "cat": {"method": "chi2", "warn": 0.05, "alert": 0.01},
            "flag": {"method": "chi2", "warn": 0.1, "alert": 0.25},
        }
    )
    by_name = {f.name: f for f in monitored_fields(ContractSpec.model_validate(doc))}
    assert (by_name["x"].warn, by_name["x"].alert) == (0.1, 0.2)
    assert (by_name["cat"].alpha, by_name["cat"].warn_alpha) == (0.01, 0.05)
    assert (by_name["flag"].alpha, by_name["flag"].warn_alpha) == (None, None)


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(p=st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=40))
def test_holm_is_statsmodels_for_any_p_values(p: list[float]) -> None:
    ours = significance.holm(p)
    assert ours == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-12)
    assert all(a >= b for a, b in zip(ours, p, strict=True))


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.sampled_from([150, 1_000, 5_000]),
    shift=st.sampled_from([0.0, 0.05, 0.15, 0.3, 1.0]),
    null_x=st.sampled_from([0.0, 0.01, 0.05]),
)
def test_every_alert_is_significant_and_at_least_the_minimal_effect(
    reference: dict[str, FieldProfile], seed: int, size: int, shift: float, null_x: float
) -> None:
    drift = judge(reference, rows(np.random.default_rng(seed), size, shift=shift, null_x=null_x))
    for r in drift.fields.values():
        if r.distribution == "alert":
            assert r.adjusted_p_value is not None and r.alpha is not None
            assert r.adjusted_p_value <= r.alpha and r.statistic >= r.min_effect  # type: ignore[operator]
        if r.null is not None and r.null.severity == "alert":
            assert r.null.adjusted_p_value <= r.alpha  # type: ignore[operator]
            assert r.null.change >= DriftPolicy().null_change[1]
        if r.adjusted_p_value is not None:
            assert r.p_value is not None and r.adjusted_p_value >= r.p_value
    assert (drift.verdict == "alert") == any(r.severity == "alert" for r in drift.fields.values())


# --- the effect less its sampling bias -----------------------------------------------------------


def _levels(rng: np.random.Generator, n: int, weights: np.ndarray) -> FieldProfile:
    codes = rng.choice(weights.size, n, p=weights)
    counts = np.bincount(codes, minlength=weights.size)
    counted = {f"v{i}": int(c) for i, c in enumerate(counts) if c}
    return FieldProfile("category", n, 0, categories=_categories(counted))


def test_psi_and_js_null_bias_matches_monte_carlo() -> None:
    from monitors.drift import stats

    rng = np.random.default_rng(21)
    weights = np.full(40, 1 / 40)
    ref = _levels(rng, 20_000, weights)
    for method in ("psi", "js"):
        values = []
        for _ in range(200):
            cur = _levels(rng, 2_000, weights)
            s = stats.categorical(ref.categories, cur.categories, method).statistic  # type: ignore[arg-type]
            values.append(s if method == "psi" else s**2)
        expected = significance.null_bias(method, 40, 20_000, 2_000)
        assert np.mean(values) == pytest.approx(expected, rel=0.1), method


def test_one_minimal_effect_means_the_same_at_5000_and_at_500000_rows() -> None:
    """200 even levels, the first 40 a little more frequent: true PSI ~0.02, under the 0.04
    minimal effect. At 5,000 rows sampling alone adds ~0.04 to the PSI; the rule removes it."""
    weights = np.ones(200)
    shifted = weights.copy()
    shifted[:40] *= 1.4
    weights, shifted = weights / weights.sum(), shifted / shifted.sum()
    true_psi = float(np.sum((shifted - weights) * np.log(shifted / weights)))
    assert 0.015 < true_psi < 0.025
    spec = ContractSpec.model_validate(
        {
            "id": "wide",
            "version": "1.0.0",
            "owner": "ml",
            "dataset": "wide",
            "fields": [{"name": "c", "type": "category"}],
        }
    )
    watched = monitored_fields(spec)
    rng = np.random.default_rng(22)
    ref = {"c": _levels(rng, 1_000_000, weights)}
    for size in (5_000, 500_000):
        c = compare_window(
            ref, {"c": _levels(rng, size, shifted)}, watched, DriftPolicy(), rows=size
        ).fields["c"]
        assert c.adjusted_p_value is not None and c.adjusted_p_value < 1e-4
        assert c.effect == pytest.approx(true_psi, abs=0.012)
        assert c.severity == "warn", size
    # the raw PSI at 5,000 rows would have passed the minimal effect
    raw = compare_window(
        ref, {"c": _levels(rng, 5_000, shifted)}, watched, DriftPolicy(), rows=5_000
    ).fields["c"]
    assert raw.statistic is not None and raw.statistic >= raw.min_effect  # type: ignore[operator]


@pytest.mark.parametrize("levels", [2, 5, 60, 400])
def test_the_verdicts_categorical_comparisons_equal_stats_categorical(levels: int) -> None:
    """drift aligns the two sides once for effect and test; stats.categorical (and scipy's
    chi2_contingency under it) is the reference."""
    from monitors.drift import stats
    from monitors.drift.compare import _categorical

    rng = np.random.default_rng(levels)
    for size in (150, 3_000):
        w = rng.dirichlet(np.ones(levels))
        ref = _levels(rng, 20_000, w)
        cur_w = np.append(w * 0.97, 0.03)  # one category the reference never saw
        cur = _levels(rng, size, cur_w / cur_w.sum())
        for method in ("psi", "js"):
            effect, test, cells = _categorical(ref, cur, method, 1.0)
            truth = stats.categorical(ref.categories, cur.categories, method)  # type: ignore[arg-type]
            assert effect.statistic == pytest.approx(truth.statistic, rel=1e-12)
            assert effect.details == truth.details
        chi2 = stats.categorical(ref.categories, cur.categories, "chi2")  # type: ignore[arg-type]
        assert test.statistic == pytest.approx(chi2.statistic, rel=1e-9)
        assert test.p_value == pytest.approx(chi2.p_value, rel=1e-6, abs=1e-300)
        assert test.details["chi2_cells"] == chi2.details["chi2_cells"]
        assert cells == len(stats.category_cells(ref.categories, cur.categories).labels)  # type: ignore[arg-type]
