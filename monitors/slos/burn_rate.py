"""Error budgets and multiwindow, multi-burn-rate alert rules (Google SRE Workbook, ch. 5).

Pure arithmetic, no I/O. A rule fires when the error budget burns faster than its threshold
over both a long window (enough evidence) and a short window (still happening, so alerts
reset quickly once the problem stops). Thresholds are derived from the share of the period's
budget a window may consume, so the SRE table is reproduced, not copied:
1 h x 14.4 = 2% of 30 days, 6 h x 6 = 5%, 3 d x 1 = 10%.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

SLO_PERIOD = timedelta(days=30)


@dataclass(frozen=True)
class BurnRateRule:
    """Fire `severity` when `budget_share` of the period's budget burns within `long`."""

    severity: str
    long: timedelta
    short: timedelta
    budget_share: float

    def threshold(self, period: timedelta = SLO_PERIOD) -> float:
        """The burn rate that consumes `budget_share` of the budget in `long`."""
        return self.budget_share * (period / self.long)

    def scaled(self, factor: float) -> BurnRateRule:
        """Windows shrunk by `factor` (simulations); the threshold is unchanged when the
        period is scaled by the same factor."""
        return BurnRateRule(
            self.severity, self.long / factor, self.short / factor, self.budget_share
        )


SRE_RULES: tuple[BurnRateRule, ...] = (
    BurnRateRule("page", timedelta(hours=1), timedelta(minutes=5), 0.02),
    BurnRateRule("page", timedelta(hours=6), timedelta(minutes=30), 0.05),
    BurnRateRule("ticket", timedelta(days=3), timedelta(hours=6), 0.10),
)


@dataclass(frozen=True)
class WindowCounts:
    good: int
    total: int

    @property
    def bad(self) -> int:
        return self.total - self.good


def error_budget(objective: float) -> float:
    if not 0.0 < objective < 1.0:
        raise ValueError("an SLO objective is a fraction strictly between 0 and 1")
    return 1.0 - objective


def burn_rate(counts: WindowCounts, objective: float) -> float | None:
    """Observed error rate over the budgeted error rate; None without events."""
    if counts.total <= 0:
        return None
    return (counts.bad / counts.total) / error_budget(objective)


def budget_remaining(counts: WindowCounts, objective: float) -> float | None:
    """Share of the period's budget left (negative once overspent); None without events."""
    rate = burn_rate(counts, objective)
    return None if rate is None else 1.0 - rate


@dataclass(frozen=True)
class RuleVerdict:
    rule: BurnRateRule
    threshold: float
    long_burn_rate: float | None
    short_burn_rate: float | None
    firing: bool
    reason: str
    # the spans counted when a sparse SLO's windows were widened to hold its newest events
    # (`monitors.slos.events`); None when they are the rule's own windows
    long_span: timedelta | None = None
    short_span: timedelta | None = None


def evaluate_rule(
    rule: BurnRateRule,
    *,
    long: WindowCounts,
    short: WindowCounts,
    objective: float,
    period: timedelta = SLO_PERIOD,
    min_events: int = 0,
) -> RuleVerdict:
    """Both windows must burn at or above the threshold, with enough events in the long one."""
    threshold = rule.threshold(period)
    long_rate, short_rate = burn_rate(long, objective), burn_rate(short, objective)
    if long.total < max(min_events, 1):
        return RuleVerdict(
            rule, threshold, long_rate, short_rate, False,
            f"too few events ({long.total} < {max(min_events, 1)}) in the long window",
        )  # fmt: skip
    if long_rate is None or short_rate is None:
        return RuleVerdict(rule, threshold, long_rate, short_rate, False, "no events")
    firing = long_rate >= threshold and short_rate >= threshold
    reason = (
        f"burn rate {long_rate:.2f} (long) and {short_rate:.2f} (short) "
        f"{'>=' if firing else 'vs'} threshold {threshold:.2f}"
    )
    return RuleVerdict(rule, threshold, long_rate, short_rate, firing, reason)
