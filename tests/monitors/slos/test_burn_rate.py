"""Burn-rate math reproduces the Google SRE Workbook's multiwindow alerting table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.slos.burn_rate import (
    SRE_RULES,
    WindowCounts,
    budget_remaining,
    burn_rate,
    error_budget,
    evaluate_rule,
)


def test_thresholds_match_the_sre_workbook_table() -> None:
    table = [(r.severity, r.long, r.short, round(r.threshold(), 4)) for r in SRE_RULES]
    assert table == [
        ("page", timedelta(hours=1), timedelta(minutes=5), 14.4),
        ("page", timedelta(hours=6), timedelta(minutes=30), 6.0),
        ("ticket", timedelta(days=3), timedelta(hours=6), 1.0),
    ]


def test_burn_rate_is_error_rate_over_budget() -> None:
    assert error_budget(0.999) == pytest.approx(0.001)
    assert burn_rate(WindowCounts(good=990, total=1000), 0.999) == pytest.approx(10.0)
    assert burn_rate(WindowCounts(good=0, total=0), 0.99) is None
    assert budget_remaining(WindowCounts(good=995, total=1000), 0.99) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        error_budget(1.0)


def test_page_fires_only_when_long_and_short_windows_both_burn() -> None:
    rule = SRE_RULES[0]  # 14.4x over 1 h and 5 min
    hot = WindowCounts(good=850, total=1000)  # 15% errors vs a 1% budget: 15x
    cool = WindowCounts(good=995, total=1000)  # 0.5x
    assert evaluate_rule(rule, long=hot, short=hot, objective=0.99).firing
    # The problem stopped: the short window recovers first and the page resets.
    assert not evaluate_rule(rule, long=hot, short=cool, objective=0.99).firing
    # A brief spike: the long window has not burnt enough budget yet.
    assert not evaluate_rule(rule, long=cool, short=hot, objective=0.99).firing


def test_min_events_guard_keeps_low_traffic_quiet() -> None:
    rule = SRE_RULES[0]
    few = WindowCounts(good=0, total=3)  # 100% errors, but only three events
    verdict = evaluate_rule(rule, long=few, short=few, objective=0.99, min_events=10)
    assert not verdict.firing and "too few events" in verdict.reason
    assert evaluate_rule(rule, long=few, short=few, objective=0.99, min_events=3).firing


def test_scaled_windows_keep_thresholds_when_the_period_scales_too() -> None:
    factor = 60.0  # one simulated hour per real minute
    for rule in SRE_RULES:
        fast = rule.scaled(factor)
        assert fast.long == rule.long / factor and fast.short == rule.short / factor
        assert fast.threshold(timedelta(days=30) / factor) == pytest.approx(rule.threshold())


@given(
    bad=st.integers(0, 10_000),
    good=st.integers(0, 10_000),
    objective=st.floats(0.5, 0.9999),
)
def test_burn_rate_times_budget_is_the_error_rate_and_remaining_budget_complements_it(
    bad: int, good: int, objective: float
) -> None:
    counts = WindowCounts(good=good, total=good + bad)
    rate = burn_rate(counts, objective)
    if counts.total == 0:
        assert rate is None and budget_remaining(counts, objective) is None
        return
    assert rate is not None
    assert rate * error_budget(objective) == pytest.approx(bad / counts.total)
    assert budget_remaining(counts, objective) == pytest.approx(1.0 - rate)


def test_burning_at_the_threshold_for_the_long_window_spends_exactly_its_share() -> None:
    for rule in SRE_RULES:
        spent = rule.threshold() * (rule.long / timedelta(days=30))
        assert spent == pytest.approx(rule.budget_share)
