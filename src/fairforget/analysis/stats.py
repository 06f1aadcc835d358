"""Basic statistics: correlations with bootstrap CIs and the OLS band (for the figures), and Holm's correction;
the findings' tests are in permutation.py and within.py. An undefined statistic (too few points, constant input)
comes back with its `reason` set and its numbers None, never a made-up number. Bootstrap CIs are percentile
intervals over resampled pairs (seeded), approximate with small n (the findings do not use them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import numpy as np
from scipy import stats as scipy_stats


@cache
def t_quantile(q: float, df: int) -> float:
    """Student t quantile, memoised: the findings and the calibration suite ask for the same few (level, df) pairs
    tens of thousands of times, and each scipy.stats call costs a quarter of a millisecond of argument checks."""
    return float(scipy_stats.t.ppf(q, df))


MIN_N = 3


@dataclass(frozen=True)
class Estimate:
    """One statistic with a 95% (or 1-alpha) CI and p-value; all None with a reason when undefined."""

    name: str
    n: int
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def defined(self) -> bool:
        return self.value is not None

    def ci_excludes_zero(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None and (self.ci_low > 0 or self.ci_high < 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _undefined(name: str, n: int, reason: str) -> Estimate:
    return Estimate(name=name, n=n, reason=reason)


def _clean_pairs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Drop pairs where either value is missing or non-finite."""
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y differ in length ({xa.size} vs {ya.size})")
    keep = np.isfinite(xa) & np.isfinite(ya)
    return xa[keep], ya[keep]


def _constant(a: np.ndarray) -> bool:
    return bool(np.all(a == a[0]))


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float | None],
    n: int,
    samples: int,
    seed: int,
    alpha: float = 0.05,
) -> tuple[float | None, float | None, int]:
    """Percentile CI of `statistic(indices)` over `samples` resamples of range(n) with replacement.

    Returns (low, high, usable) where `usable` counts resamples with a finite statistic; (None, None, usable)
    when fewer than half of them are usable.
    """
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        idx = rng.integers(0, n, size=n)
        value = statistic(idx)
        if value is not None and math.isfinite(value):
            values.append(value)
    if len(values) < max(1, samples // 2):
        return None, None, len(values)
    low, high = np.quantile(np.asarray(values), [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), len(values)


def _safe_corr(kind: str, xa: np.ndarray, ya: np.ndarray) -> float | None:
    if xa.size < 2 or _constant(xa) or _constant(ya):
        return None
    if kind == "pearson":
        return float(scipy_stats.pearsonr(xa, ya).statistic)
    return float(scipy_stats.spearmanr(xa, ya).statistic)


def correlation(
    x: Sequence[float],
    y: Sequence[float],
    kind: str = "pearson",
    bootstrap_samples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Estimate:
    """Pearson or Spearman correlation with a two-sided analytic p-value and a pair-bootstrap CI."""
    if kind not in ("pearson", "spearman"):
        raise ValueError(f"unknown correlation kind {kind!r}")
    xa, ya = _clean_pairs(x, y)
    n = int(xa.size)
    if n < MIN_N:
        return _undefined(kind, n, f"n={n} < {MIN_N} paired values")
    if _constant(xa) or _constant(ya):
        return _undefined(kind, n, "one variable is constant across runs")
    if kind == "pearson":
        result = scipy_stats.pearsonr(xa, ya)
    else:
        result = scipy_stats.spearmanr(xa, ya)
    low, high, usable = bootstrap_ci(lambda idx: _safe_corr(kind, xa[idx], ya[idx]), n, bootstrap_samples, seed, alpha)
    extra: dict[str, Any] = {"bootstrap_usable": usable, "bootstrap_samples": bootstrap_samples}
    if kind == "pearson":
        extra["fisher_z_ci"] = fisher_z_ci(float(result.statistic), n, alpha)
    return Estimate(
        name=kind,
        n=n,
        value=float(result.statistic),
        ci_low=low,
        ci_high=high,
        p_value=float(result.pvalue),
        extra=extra,
    )


def fisher_z_ci(r: float, n: int, alpha: float = 0.05) -> tuple[float, float] | None:
    """Analytic CI of Pearson r via Fisher's z (assumes bivariate normality); None for n <= 3.

    Reported next to the bootstrap CI because the percentile bootstrap degenerates at very small n
    (resamples with two distinct points give r = +-1).
    """
    if n <= 3:
        return None
    z = math.atanh(max(-1 + 1e-15, min(1 - 1e-15, r)))
    half = scipy_stats.norm.ppf(1 - alpha / 2) / math.sqrt(n - 3)
    return (math.tanh(z - half), math.tanh(z + half))


def ols_band(
    x: Sequence[float], y: Sequence[float], grid: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Fitted mean and its (1-alpha) confidence band on `grid`; None when the fit is undefined."""
    import statsmodels.api as sm

    xa, ya = _clean_pairs(x, y)
    if xa.size < MIN_N or _constant(xa):
        return None
    model = sm.OLS(ya, sm.add_constant(xa)).fit()
    frame = model.get_prediction(sm.add_constant(np.asarray(grid, dtype=float), has_constant="add")).summary_frame(
        alpha=alpha
    )
    return (frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(), frame["mean_ci_upper"].to_numpy())


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values: sort ascending, p_(i) * (m - i + 1) (i = 1..m), running maximum,
    capped at 1; returned in the input order. Controls the family-wise error rate under any dependence."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
