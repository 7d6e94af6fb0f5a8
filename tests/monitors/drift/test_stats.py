"""Drift statistics from sketches agree with scipy and a reference PSI on raw values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, ks_2samp

from checks import sketch
from checks.heavy_hitters import CategoryCounts
from monitors.drift import stats

# Sketch buckets are ~0.8% wide, so statistics from sketches differ from raw-value ones only
# by what moves across a bucket boundary; these are the documented tolerances.
KS_TOLERANCE = 0.01
PSI_TOLERANCE = 0.02


def reference_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """The textbook PSI: bins from the reference's quantiles, raw values, eps-clipped shares."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return stats.psi_from_counts(r.astype(float), c.astype(float))


def sk(values: np.ndarray) -> sketch.Sketch:
    return sketch.build(values.astype(np.float64))


@pytest.mark.parametrize(
    ("shift", "scale"), [(0.0, 1.0), (0.1, 1.0), (0.5, 1.0), (0.0, 1.5), (2.0, 0.5)]
)
def test_ks_from_sketches_matches_scipy_ks_2samp(shift: float, scale: float) -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(10, 2, 20_000)
    cur = rng.normal(10 + shift * 2, 2 * scale, 15_000)
    ours = stats.ks(sk(ref), sk(cur))
    truth = ks_2samp(ref, cur)
    assert ours.statistic == pytest.approx(truth.statistic, abs=KS_TOLERANCE)
    if truth.pvalue > 1e-6:
        assert ours.p_value == pytest.approx(truth.pvalue, rel=0.5, abs=0.02)
    else:
        assert ours.p_value is not None and ours.p_value < 1e-4


def test_exact_ks_is_scipys() -> None:
    rng = np.random.default_rng(2)
    ref, cur = rng.exponential(1, 500), rng.exponential(1.3, 400)
    truth = ks_2samp(ref, cur)
    exact = stats.ks_exact(ref, cur)
    assert (exact.statistic, exact.p_value) == (truth.statistic, truth.pvalue)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_psi_from_sketches_matches_reference_psi_on_raw_values(shift: float) -> None:
    rng = np.random.default_rng(3)
    ref = rng.lognormal(3, 0.5, 50_000)
    cur = rng.lognormal(3 + shift, 0.5, 50_000)
    ours = stats.psi(sk(ref), sk(cur), bins=10)
    assert ours.statistic == pytest.approx(reference_psi(ref, cur), abs=PSI_TOLERANCE)


def test_psi_bins_come_from_the_reference_not_the_current_window() -> None:
    rng = np.random.default_rng(4)
    ref = rng.uniform(0, 100, 10_000)
    cur = rng.uniform(50, 150, 10_000)
    result = stats.psi(sk(ref), sk(cur), bins=4)
    edges = result.details["edges"]
    assert edges == pytest.approx([25, 50, 75], rel=0.02)
    # Half of the current window lies beyond the reference's top edge.
    assert result.details["current_share"][-1] == pytest.approx(0.75, abs=0.02)
    assert result.statistic > 0.25


def test_identical_distributions_have_no_drift() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(0, 1, 10_000)
    assert stats.psi(sk(values), sk(values)).statistic == pytest.approx(0.0, abs=1e-12)
    same = stats.ks(sk(values), sk(values))
    assert same.statistic == 0.0 and same.p_value == pytest.approx(1.0)


def test_empty_bins_are_smoothed_so_psi_stays_finite() -> None:
    ref = np.concatenate([np.zeros(1000), np.ones(1000)])
    cur = np.ones(2000)
    assert np.isfinite(stats.psi(sk(ref + 1), sk(cur + 1), bins=2).statistic)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=5, max_size=300),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=5, max_size=300),
)
def test_psi_is_non_negative_and_ks_within_zero_one(a: list[float], b: list[float]) -> None:
    ref, cur = sk(np.array(a)), sk(np.array(b))
    assert stats.psi(ref, cur).statistic >= -1e-12
    k = stats.ks(ref, cur)
    assert 0.0 <= k.statistic <= 1.0 and 0.0 <= (k.p_value or 0.0) <= 1.0


def test_merged_window_sketch_equals_the_sketch_of_all_rows() -> None:
    rng = np.random.default_rng(6)
    parts = [rng.normal(0, 1, 1000) for _ in range(5)]
    merged = stats.merge_sketches([sk(p).to_json() for p in parts])
    whole = sk(np.concatenate(parts))
    assert merged.to_json() == whole.to_json()


def test_categorical_chi2_matches_scipy_and_counts_unseen_categories() -> None:
    ref = {"US": 500, "GB": 300, "DE": 200}
    cur = {"US": 450, "GB": 250, "DE": 200, "BR": 100}
    result = stats.categorical(ref, cur, "chi2")
    table = np.array([[500, 300, 200, 0], [450, 250, 200, 100]])
    truth = chi2_contingency(table, correction=False)
    assert result.statistic == pytest.approx(truth.statistic)
    assert result.p_value == pytest.approx(truth.pvalue)
    assert result.details["unseen"] == ["BR"]
    assert result.details["unseen_share"] == pytest.approx(0.1)


def test_categorical_psi_and_js() -> None:
    same = stats.categorical({"a": 10, "b": 10}, {"a": 20, "b": 20}, "psi")
    assert same.statistic == pytest.approx(0.0)
    js = stats.categorical({"a": 10}, {"b": 10}, "js")
    assert js.statistic == pytest.approx(1.0)  # disjoint supports: maximal distance (base 2)
    with pytest.raises(ValueError, match="unknown"):
        stats.categorical({"a": 1}, {"a": 1}, "wasserstein")


def test_exact_sides_compare_every_category_and_say_so() -> None:
    result = stats.categorical({"a": 10, "b": 5}, {"a": 8, "b": 7, "c": 1}, "psi")

    assert result.details["categories"] == ["a", "b", "c"]  # no other cell: nothing pooled
    assert result.details["approximate"] is False
    assert result.details["pooled_categories"] == 0


def test_approximate_sides_pool_categories_with_unknown_counts_into_one_other_cell() -> None:
    # the reference may undercount any category by up to 5: only a and b are known there
    ref = CategoryCounts({"a": 100, "b": 50, "c": 3}, other=20, error=5, capacity=3)
    cur = {"a": 90, "b": 60, "c": 4, "d": 2}
    for method in ("psi", "js", "chi2"):
        result = stats.categorical(ref, cur, method)
        assert result.details["categories"] == ["a", "b", stats.OTHER]
        assert result.details["approximate"] is True
        assert result.details["error_bound"] == {"reference": 5, "current": 0}
        assert result.details["pooled_categories"] == 2
        assert result.details["unseen"] == ["d"]
        assert result.details["unseen_share"] == pytest.approx(2 / 156)
        assert (result.reference_count, result.current_count) == (173, 156)
    cells = stats.category_cells(ref, cur)
    assert cells.reference.tolist() == [100, 50, 23] and cells.current.tolist() == [90, 60, 6]
    chi2 = stats.categorical(ref, cur, "chi2")
    truth = chi2_contingency(np.array([[100, 50, 23], [90, 60, 6]]), correction=False)
    assert chi2.p_value == pytest.approx(truth.pvalue)


def test_wide_fields_list_at_most_100_categories_largest_first_and_share_all_unseen() -> None:
    ref = {f"r{i}": 10 for i in range(500)}
    cur = {**{f"r{i}": 10 for i in range(500)}, **{f"u{i}": i + 1 for i in range(300)}}
    result = stats.categorical(ref, cur, "psi")

    assert len(result.details["categories"]) == stats.LISTED == 100
    assert result.details["categories"][:3] == ["u299", "u298", "u297"]
    assert result.details["unseen"] == [f"u{i}" for i in range(299, 199, -1)]
    unseen_rows = sum(range(1, 301))
    assert result.details["unseen_share"] == pytest.approx(unseen_rows / (5000 + unseen_rows))


def _textbook_pooled(table: np.ndarray) -> np.ndarray:
    """Categories expected under 5 in either row go to one "other" column, which takes the
    smallest remaining categories until it is expected at 5 or more."""
    n, smaller = table.sum(), table.sum(axis=1).min()
    columns = [table[:, j] for j in range(table.shape[1]) if table[:, j].sum() > 0]
    small = [c for c in columns if c.sum() * smaller / n < 5]
    big = sorted((c for c in columns if c.sum() * smaller / n >= 5), key=lambda c: c.sum())
    if not small:
        return np.column_stack(big)
    other = np.sum(small, axis=0)
    while big and other.sum() * smaller / n < 5:
        other = other + big.pop(0)
    return np.column_stack([*big, other])


def test_chi2_pools_sparse_cells_like_the_textbook_and_then_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    levels = np.array([f"k{i}" for i in range(5000)])
    p = rng.dirichlet(np.full(5000, 0.5))
    ref_rows = rng.choice(levels, 200_000, p=p)
    cur_rows = rng.choice(levels, 200, p=p)
    ref = dict(zip(*np.unique(ref_rows, return_counts=True), strict=True))
    cur = dict(zip(*np.unique(cur_rows, return_counts=True), strict=True))
    result = stats.categorical(ref, cur, "chi2")

    labels = sorted(set(ref) | set(cur))
    table = np.array([[ref.get(k, 0) for k in labels], [cur.get(k, 0) for k in labels]])
    pooled = _textbook_pooled(table.astype(float))
    truth = chi2_contingency(pooled, correction=False)
    assert result.details["chi2_cells"] == pooled.shape[1] < 100
    assert result.statistic == pytest.approx(truth.statistic)
    assert result.p_value == pytest.approx(truth.pvalue)


def test_chi2_on_a_5000_level_field_in_200_row_batches_keeps_its_false_alarm_rate() -> None:
    """Clean batches from the reference's own (Zipf) distribution: p-values are roughly
    uniform, so about 5% fall under 0.05. Unpooled, the sparse table alarms on ~40%."""
    rng = np.random.default_rng(11)
    p = np.arange(1, 5001) ** -1.1
    p /= p.sum()
    ref_counts = rng.multinomial(500_000, p)
    ref = {f"k{i}": int(n) for i, n in enumerate(ref_counts)}
    ours, unpooled = [], []
    for _ in range(200):
        cur_counts = rng.multinomial(200, p)
        cur = {f"k{i}": int(n) for i, n in enumerate(cur_counts) if n}
        ours.append(stats.categorical(ref, cur, "chi2").p_value or 1.0)
        table = np.vstack([ref_counts, cur_counts])
        unpooled.append(chi2_contingency(table[:, table.sum(axis=0) > 0]).pvalue)
    assert 2 <= sum(p < 0.05 for p in ours) <= 20  # binomial(200, 0.05): mean 10, sd ~3
    assert sum(p < 0.05 for p in unpooled) >= 50


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 300), min_size=1, max_size=40),
    st.lists(st.integers(0, 40), min_size=1, max_size=40),
)
def test_pooled_chi2_tables_keep_every_row_and_expect_five_per_cell(
    ref_counts: list[int], cur_counts: list[int]
) -> None:
    size = max(len(ref_counts), len(cur_counts))
    table = np.zeros((2, size))
    table[0, : len(ref_counts)], table[1, : len(cur_counts)] = ref_counts, cur_counts
    pooled = stats.pool_sparse(table)

    assert pooled.sum(axis=1).tolist() == table.sum(axis=1).tolist()
    if pooled.shape[1] >= 2 and table.sum(axis=1).min() > 0:
        expected = np.outer(pooled.sum(axis=1), pooled.sum(axis=0)) / pooled.sum()
        # every cell but possibly the pooled one (last) is expected at 5 or more
        assert expected[:, :-1].min() >= 5 - 1e-9
        ref = {str(i): n for i, n in enumerate(ref_counts)}
        cur = {str(i): n for i, n in enumerate(cur_counts)}
        result = stats.categorical(ref, cur, "chi2")
        assert 0.0 <= (result.p_value or 0.0) <= 1.0


def test_benjamini_hochberg_adjustment() -> None:
    adjusted = stats.adjusted_p_values([0.01, 0.04, 0.03, 0.2])
    # BH: p_(i) * m / i, made monotone from the top.
    assert adjusted == pytest.approx([0.04, 0.0533333, 0.0533333, 0.2], rel=1e-5)
    assert stats.adjusted_p_values([]) == []
