"""Significance for drift verdicts: p-values that count the sample sizes, and one correction.

Pure, no I/O. A distance (PSI, KS D, JS) alone cannot tell noise from change: at 200 rows
noise reaches any small threshold, at 10⁶ rows a trivial shift passes it. So each field's
change is also tested, and the window's tests are corrected together with Holm's step-down
method, which bounds the chance that *any* field of a clean window is called significant
(the family-wise error rate) at the level; Benjamini-Hochberg would only bound the share of
false discoveries among the discoveries, which is 100% whenever a clean window alerts.

Rows are often clustered (every impression of one request shares its surface and country), so
a row-level test overstates the evidence. A contract can declare the design effect of its rows
(Kish's deff, ≈ 1 + (rows per cluster - 1) · intra-cluster correlation); tests then count
rows / deff effective observations, which is Rao and Scott's first-order correction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

FISHER_BELOW = 5.0  # expected count under which the two-proportion test is Fisher's exact


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: reject those <= alpha for a family-wise level alpha."""
    m = len(p_values)
    if m == 0:
        return []
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return [float(v) for v in adjusted]


def ks_p_value(statistic: float, n: int, m: int, design_effect: float = 1.0) -> float:
    """Asymptotic two-sample KS p-value for D with sizes n and m, each divided by the deff."""
    if n <= 0 or m <= 0:
        return 1.0
    n_eff, m_eff = n / design_effect, m / design_effect
    return ks_sf(statistic, max(round(n_eff * m_eff / (n_eff + m_eff)), 1))


KS_EXACT_UP_TO = 2_000  # effective size up to which scipy's kstwo is used as it is


def ks_sf(statistic: float, en: int) -> float:
    """P(D >= statistic) for a KS statistic of effective size `en`.

    scipy's `kstwo.sf` computes the finite-n distribution, which takes 10-120 ms per call at
    en of 10^4-10^5 and ~1 s at 10^6 — every numeric field of every window pays it, since each
    gets a KS test. Past `KS_EXACT_UP_TO` the limiting Kolmogorov distribution with Stephens'
    small-sample correction, Q(D (sqrt(en) + 0.12 + 0.11 / sqrt(en))), is within a few percent
    of it (relative, down to p ~ 1e-200; tests/monitors/drift/test_significance_ks.py) in
    microseconds.
    """
    from scipy.stats import kstwo, kstwobign

    if en <= KS_EXACT_UP_TO:
        return float(kstwo.sf(statistic, en))
    root = math.sqrt(en)
    return float(kstwobign.sf(statistic * (root + 0.12 + 0.11 / root)))


def rao_scott(statistic: float, df: int, design_effect: float) -> float:
    """Chi-square p-value of a statistic computed on rows, with rows / deff observations."""
    from scipy.stats import chi2

    if df < 1:
        return 1.0
    return float(chi2.sf(statistic / design_effect, df))


def two_proportions(
    x1: float, n1: float, x2: float, n2: float, design_effect: float = 1.0
) -> float | None:
    """Two-sided p-value that two rates x1/n1 and x2/n2 are equal; None when untestable.

    Untestable means the margins leave no room to reject (no events, or only events, on both
    sides): such a test is left out of the correction instead of spending its share of alpha.
    Counts are divided by the design effect first. Fisher's exact test when an expected cell
    is small, else the pooled z-test.
    """
    x1, n1, x2, n2 = (v / design_effect for v in (x1, n1, x2, n2))
    total = x1 + x2
    if n1 <= 0 or n2 <= 0 or total <= 0 or total >= n1 + n2:
        return None
    pooled = total / (n1 + n2)
    expected = min(n1 * pooled, n2 * pooled, n1 * (1 - pooled), n2 * (1 - pooled))
    if expected < FISHER_BELOW:
        from scipy.stats import fisher_exact

        table = np.rint([[x1, n1 - x1], [x2, n2 - x2]]).astype(np.int64)
        return float(fisher_exact(table).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = abs(x1 / n1 - x2 / n2) / se
    return float(math.erfc(z / math.sqrt(2)))


def null_bias(method: str, cells: int, n: float, m: float) -> float:
    """What PSI or JS divergence average between two samples of one distribution.

    Both are about sum((p - q)^2 / p) (PSI) or an eighth of it (JS divergence, nats) for small
    differences, and sampling alone makes that (cells - 1)(1/n + 1/m) on average: 49/1,000 for
    a 50-level field in a 1,000-row window, more than a small effect. KS D has no such term
    growing with cells and is left as is.
    """
    if n <= 0 or m <= 0 or cells < 2:
        return 0.0
    spread = (cells - 1) * (1 / n + 1 / m)
    if method == "psi":
        return spread
    if method == "js":
        return spread / (8 * math.log(2))  # JS divergence in bits
    return 0.0


def debiased_effect(method: str, statistic: float, cells: int, n: float, m: float) -> float:
    """The effect less what sampling alone adds (never below 0): PSI minus its null mean, the
    JS distance from the JS divergence minus its null mean; KS D unchanged."""
    bias = null_bias(method, cells, n, m)
    if method == "psi":
        return max(0.0, statistic - bias)
    if method == "js":
        return math.sqrt(max(0.0, statistic**2 - bias))
    return statistic


def chi2_homogeneity(table: np.ndarray, design_effect: float = 1.0) -> tuple[float, float]:
    """Pearson's chi-square of homogeneity of a 2-by-k count table and its p-value, with the
    statistic divided by the design effect for the p-value (what `chi2_contingency` without
    correction computes, without its per-call overhead: it runs for every categorical field
    of every window)."""
    from scipy.special import chdtrc

    table = table[:, table.sum(axis=0) > 0]
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    total = table.sum()
    if table.shape[1] < 2 or total == 0 or (rows == 0).any():
        return 0.0, 1.0
    expected = np.outer(rows, cols) / total
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(chdtrc(table.shape[1] - 1, statistic / design_effect))


def new_categories(
    unseen: float, n: float, singletons: float, m: float, design_effect: float = 1.0
) -> tuple[float, float | None]:
    """(expected share, one-sided p) of a window holding `unseen` values of categories an
    exact reference of `m` values never saw.

    Clean data shows unseen categories too when the reference has a tail: Good and Turing's
    estimate of the mass a sample missed is its singletons over its size, so the test asks
    whether the window's unseen count exceeds Binomial(n, max(singletons, 1) / m) — at least
    one in m, since a finite reference cannot rule out rarer categories. None when nothing is
    unseen (nothing to reject). Counts are divided by the design effect first.
    """
    expected = max(singletons, 1.0) / max(m, 1.0)
    if unseen <= 0 or n <= 0:
        return expected, None
    from scipy.stats import binom

    trials = max(round(n / design_effect), 1)
    hits = min(max(math.ceil(unseen / design_effect), 1), trials)
    return expected, float(binom.sf(hits - 1, trials, min(expected, 1.0)))
