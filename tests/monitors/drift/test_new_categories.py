"""New categories: values the reference never saw alert beyond what its tail predicts."""

from __future__ import annotations

from collections import Counter

import numpy as np

from checks.heavy_hitters import CategoryCounts
from monitors.drift import significance
from monitors.drift.compare import DriftPolicy, MonitoredField, compare_window
from monitors.drift.profiles import FieldProfile

FIELD = MonitoredField("country", "category", "chi2", 0.04, 0.08)


def profile(values: np.ndarray, *, exact: bool = True) -> FieldProfile:
    counts = {str(k): int(v) for k, v in Counter(values.tolist()).items()}
    cats = CategoryCounts(counts, 0, 0 if exact else 5, None)
    return FieldProfile("category", len(values), 0, categories=cats)


def zipf(levels: int, n: int, rng: np.random.Generator) -> np.ndarray:
    w = 1.0 / np.arange(1, levels + 1) ** 0.8
    return rng.choice(levels, n, p=w / w.sum())


def judge(ref: FieldProfile, cur: FieldProfile):  # type: ignore[no-untyped-def]
    return compare_window(
        {"country": ref}, {"country": cur}, [FIELD], DriftPolicy(), rows=cur.count
    )


def test_one_percent_of_rows_in_a_never_seen_category_alerts_at_every_size() -> None:
    rng = np.random.default_rng(1)
    ref = profile(zipf(10, 50_000, rng))
    for n in (200, 1_000, 100_000):
        values = zipf(10, n, rng)
        values[: n // 100] = 99  # a country code the reference never saw
        result = judge(ref, profile(values)).fields["country"]
        assert result.new is not None and result.new.share == 0.01
        assert result.new.severity == "alert", (n, result.to_json())
        assert result.severity == "alert"


def test_clean_windows_of_a_long_tailed_field_do_not_alert_on_its_unseen_tail() -> None:
    """5,000 levels: every window holds some categories the reference missed by chance."""
    rng = np.random.default_rng(2)
    ref = profile(zipf(5_000, 100_000, rng))
    alerts = 0
    for n in (200, 5_000):
        for _ in range(100):
            result = judge(ref, profile(zipf(5_000, n, rng))).fields["country"]
            assert result.new is not None
            alerts += result.new.severity == "alert"
    assert alerts <= 2


def test_an_approximate_reference_cannot_tell_new_categories_from_its_tail() -> None:
    rng = np.random.default_rng(3)
    ref = profile(zipf(10, 50_000, rng), exact=False)
    values = zipf(10, 1_000, rng)
    values[:100] = 99
    result = judge(ref, profile(values)).fields["country"]
    assert result.new is None
    assert result.to_json()["new_category_severity"] == "no_data"


def test_the_expected_share_is_the_references_singletons_over_its_size() -> None:
    expected, p = significance.new_categories(0, 1_000, 40, 10_000)
    assert expected == 0.004 and p is None
    expected, p = significance.new_categories(4, 1_000, 40, 10_000)
    assert p is not None and p > 0.3  # about what 40 singletons in 10,000 predict
    _, p_many = significance.new_categories(40, 1_000, 40, 10_000)
    assert p_many is not None and p_many < 1e-10
    _, p_clustered = significance.new_categories(40, 1_000, 40, 10_000, design_effect=10)
    assert p_clustered is not None and p_clustered > p_many
