"""The KS p-value: scipy's finite-n distribution where it is cheap, Stephens' form past it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kstwo

from monitors.drift.significance import KS_EXACT_UP_TO, ks_p_value, ks_sf


@settings(max_examples=60, deadline=None)
@given(
    en=st.integers(min_value=KS_EXACT_UP_TO + 1, max_value=200_000),
    z=st.floats(min_value=0.3, max_value=12.0),
)
def test_past_the_exact_range_it_agrees_with_scipys_finite_n_distribution(
    en: int, z: float
) -> None:
    d = z / math.sqrt(en)
    exact, fast = float(kstwo.sf(d, en)), ks_sf(d, en)
    if exact > 1e-300:
        assert fast == pytest.approx(exact, rel=0.08, abs=1e-12)


def test_up_to_the_exact_range_it_is_scipys_kstwo() -> None:
    for en in (1, 50, 500, KS_EXACT_UP_TO):
        for d in (0.01, 0.05, 0.2):
            assert ks_sf(d, en) == float(kstwo.sf(d, en))


@pytest.mark.slow
def test_verdicts_at_the_usual_levels_do_not_change() -> None:
    rng = np.random.default_rng(5)
    for en in rng.integers(KS_EXACT_UP_TO + 1, 100_000, 200):
        d = float(rng.uniform(0.5, 3.0) / math.sqrt(en))
        exact = float(kstwo.sf(d, int(en)))
        if abs(math.log10(exact) + 2) > 0.05:  # not on the edge of 0.01 itself
            assert (ks_sf(d, int(en)) <= 0.01) == (exact <= 0.01)


def test_the_design_effect_divides_both_sizes() -> None:
    assert ks_p_value(0.05, 10_000, 10_000, design_effect=10) == ks_sf(0.05, 500)
