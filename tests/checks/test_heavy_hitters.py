"""Category counts stay exact up to the capacity and keep the Misra-Gries bound past it,
through any order of merges (Agarwal et al. 2012)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import heavy_hitters as hh
from checks.heavy_hitters import CategoryCounts

SETTINGS = settings(max_examples=200, deadline=None)

# skewed streams: a few frequent categories and a long tail
categories = st.integers(0, 60).map(lambda i: f"k{min(i, i * i % 61)}")
streams = st.lists(st.lists(categories, max_size=120), min_size=1, max_size=8)


def _summaries(parts: list[list[str]], capacity: int) -> list[CategoryCounts]:
    return [hh.from_exact(Counter(p), capacity) for p in parts]


def _tree_merge(items: list[CategoryCounts], shape: list[int]) -> CategoryCounts:
    """Merge in an arbitrary tree: `shape` picks which neighbours are merged next."""
    items = list(items)
    for pick in shape:
        if len(items) < 2:
            break
        i = pick % (len(items) - 1)
        items[i : i + 2] = [hh.merge(items[i : i + 2])]
    return hh.merge(items)


def _assert_bounds(summary: CategoryCounts, truth: Counter[str], capacity: int) -> None:
    assert summary.total == sum(truth.values())
    assert len(summary.counts) <= capacity
    assert all(v > 0 for v in summary.counts.values())
    for category in set(truth) | set(summary.counts):
        listed = summary.counts.get(category, 0)
        assert listed <= truth[category] <= listed + summary.error
    assert summary.error * (capacity + 1) <= summary.other  # error <= other / (k + 1)


@SETTINGS
@given(parts=streams, capacity=st.integers(1, 30), shape=st.lists(st.integers(0, 100)))
def test_every_count_is_within_the_error_bound_after_any_merge_tree(
    parts: list[list[str]], capacity: int, shape: list[int]
) -> None:
    truth = Counter(v for p in parts for v in p)
    merged = _tree_merge(_summaries(parts, capacity), shape)

    _assert_bounds(merged, truth, capacity)
    assert merged.exact == (len(truth) <= capacity)


@SETTINGS
@given(parts=streams, shape=st.lists(st.integers(0, 100)))
def test_within_the_capacity_merging_is_exact_addition(
    parts: list[list[str]], shape: list[int]
) -> None:
    merged = _tree_merge(_summaries(parts, 100), shape)

    assert merged.exact and merged.other == 0
    assert dict(merged.counts) == Counter(v for p in parts for v in p)


@SETTINGS
@given(parts=streams, capacity=st.integers(1, 30))
def test_a_summary_survives_its_json_document_and_its_profile_document(
    parts: list[list[str]], capacity: int
) -> None:
    merged = hh.merge(_summaries(parts, capacity))
    truth = Counter(v for p in parts for v in p)

    assert CategoryCounts.from_json(merged.to_json()) == merged
    assert hh.from_profile(hh.to_profile(merged, len(truth))) == merged


def test_misra_gries_subtracts_the_next_largest_count() -> None:
    # k = 2: the third largest count (2) is subtracted from all, c and d drop out
    summary = hh.from_exact({"a": 5, "b": 3, "c": 2, "d": 1}, 2)

    assert dict(summary.counts) == {"a": 3, "b": 1}
    assert (summary.other, summary.error, summary.exact) == (7, 2, False)
    assert summary.total == 11


def test_merging_adds_the_parts_errors_and_the_new_cut() -> None:
    left = hh.from_exact({"a": 5, "b": 3, "c": 2}, 2)  # a:3 b:1, error 2
    right = hh.from_exact({"c": 4, "d": 1}, 2)  # exact
    merged = hh.merge([left, right])

    # sums a:3 b:1 c:4 d:1 → cut 1 (third largest) → a:2 c:3, error 2 + 1
    assert dict(merged.counts) == {"a": 2, "c": 3}
    assert merged.error == 3 and merged.total == 15


def test_legacy_top_k_profiles_are_approximate_with_their_last_count_as_bound() -> None:
    truth = Counter({f"k{i}": 50 - i for i in range(30)})
    ordered = truth.most_common()
    legacy = {
        "distinct": 30,
        "values": [k for k, _ in ordered[:20]],
        "counts": [n for _, n in ordered[:20]],
        "other": sum(n for _, n in ordered[20:]),
    }
    summary = hh.from_profile(legacy)

    assert not summary.exact and summary.error == 31  # the 20th count
    for category, n in truth.items():
        assert summary.counts.get(category, 0) <= n <= summary.counts.get(category, 0) + 31
    complete = hh.from_profile({"distinct": 2, "values": ["a", "b"], "counts": [3, 1], "other": 0})
    assert complete.exact  # a top-k that left nothing out was exact all along


def test_legacy_window_maps_bound_every_count_by_their_whole_tail() -> None:
    summary = CategoryCounts.from_json({"a": 10, "b": 4, hh.LEGACY_OTHER: 6})

    assert dict(summary.counts) == {"a": 10, "b": 4}
    assert (summary.other, summary.error, summary.exact) == (6, 6, False)
    assert CategoryCounts.from_json({"a": 10, "b": 4}).exact


def test_merging_legacy_and_exact_parts_keeps_every_bound() -> None:
    legacy = hh.from_profile({"values": ["a"], "counts": [5], "other": 3})  # error 3
    fresh = hh.from_exact({"a": 2, "z": 1}, 10)
    merged = hh.merge([legacy, fresh])

    assert merged.capacity == 10 and merged.error == 3 and not merged.exact
    assert dict(merged.counts) == {"a": 7, "z": 1}


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        hh.from_exact({"a": 1, "b": 1}, 0)
