"""Statistics for the findings: correlations with bootstrap CIs, OLS, partial correlation, paired tests.

Every function returns a result object whose `reason` is set (and whose numbers are None) when the statistic
is undefined for the data given (too few points, constant input): the caller reports the reason, never a
made-up number.

Bootstrap CIs are percentile intervals over resampled *pairs* (or differences) with a seeded numpy Generator;
resamples on which the statistic is undefined (e.g. all-equal x after resampling) are dropped, and the number
of usable resamples is reported. With small n percentile intervals are known to be too narrow, so they are
approximate; the p-values come from the analytic tests (scipy), not from the bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

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
        return (
            self.ci_low is not None and self.ci_high is not None
            and (self.ci_low > 0 or self.ci_high < 0)
        )

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
    statistic: Callable[[np.ndarray], float],
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
    low, high, usable = bootstrap_ci(
        lambda idx: _safe_corr(kind, xa[idx], ya[idx]), n, bootstrap_samples, seed, alpha
    )
    extra: dict[str, Any] = {"bootstrap_usable": usable, "bootstrap_samples": bootstrap_samples}
    if kind == "pearson":
        extra["fisher_z_ci"] = fisher_z_ci(float(result.statistic), n, alpha)
    return Estimate(
        name=kind, n=n, value=float(result.statistic), ci_low=low, ci_high=high,
        p_value=float(result.pvalue), extra=extra,
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


@dataclass(frozen=True)
class OlsFit:
    """y = intercept + slope * x, fitted by statsmodels OLS."""

    n: int
    slope: float | None = None
    intercept: float | None = None
    slope_ci: tuple[float, float] | None = None
    slope_p: float | None = None
    r_squared: float | None = None
    reason: str | None = None

    @property
    def defined(self) -> bool:
        return self.slope is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ols_fit(x: Sequence[float], y: Sequence[float], alpha: float = 0.05) -> OlsFit:
    import statsmodels.api as sm

    xa, ya = _clean_pairs(x, y)
    n = int(xa.size)
    if n < MIN_N:
        return OlsFit(n=n, reason=f"n={n} < {MIN_N} points, too few for a fit")
    if _constant(xa):
        return OlsFit(n=n, reason="x is constant across runs")
    if _constant(ya):
        return OlsFit(n=n, reason="y is constant across runs (R² undefined)")
    model = sm.OLS(ya, sm.add_constant(xa)).fit()
    ci = model.conf_int(alpha=alpha)
    return OlsFit(
        n=n, slope=float(model.params[1]), intercept=float(model.params[0]),
        slope_ci=(float(ci[1][0]), float(ci[1][1])), slope_p=float(model.pvalues[1]),
        r_squared=float(model.rsquared),
    )


def ols_band(
    x: Sequence[float], y: Sequence[float], grid: Sequence[float], alpha: float = 0.05
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
    return (
        frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(), frame["mean_ci_upper"].to_numpy()
    )


def _dummies(covariates: Sequence[Sequence[str]], n: int) -> np.ndarray:
    """Intercept plus treatment-coded dummies (first level dropped) for each categorical covariate."""
    columns = [np.ones(n)]
    for values in covariates:
        levels = sorted(set(values))
        for level in levels[1:]:
            columns.append(np.array([1.0 if v == level else 0.0 for v in values]))
    return np.column_stack(columns)


def partial_correlation(
    x: Sequence[float],
    y: Sequence[float],
    covariates: Sequence[Sequence[str]],
    bootstrap_samples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Estimate:
    """Pearson correlation of x and y after regressing both on categorical covariates (e.g. model, objective).

    Residualisation uses least squares on an intercept plus dummy columns; the p-value is the t-test of the
    partial correlation with n - 2 - k degrees of freedom (k = number of dummy columns). The bootstrap CI
    resamples rows and re-residualises each time.
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    covs = [[str(v) for v, k in zip(values, keep) if k] for values in covariates]
    n = int(xa.size)
    design = _dummies(covs, n)
    k = design.shape[1] - 1
    dof = n - 2 - k
    name = "partial_pearson"
    if n < MIN_N or dof < 1:
        return _undefined(name, n, f"n={n} leaves {dof} degrees of freedom after {k} covariate dummies")

    scale_x = float(np.std(xa)) or 1.0
    scale_y = float(np.std(ya)) or 1.0

    def residual_corr(rows: np.ndarray) -> float | None:
        # Same dummy columns as the full fit (levels absent from a resample give zero columns; lstsq copes).
        d = design[rows]
        rx = xa[rows] - d @ np.linalg.lstsq(d, xa[rows], rcond=None)[0]
        ry = ya[rows] - d @ np.linalg.lstsq(d, ya[rows], rcond=None)[0]
        if np.std(rx) <= 1e-12 * scale_x or np.std(ry) <= 1e-12 * scale_y:
            return None
        return float(np.corrcoef(rx, ry)[0, 1])

    r = residual_corr(np.arange(n))
    if r is None:
        return _undefined(name, n, "x or y is fully explained by the covariates")
    t = r * math.sqrt(dof / max(1e-300, 1 - r * r))
    p = float(2 * scipy_stats.t.sf(abs(t), dof))
    low, high, usable = bootstrap_ci(residual_corr, n, bootstrap_samples, seed, alpha)
    return Estimate(
        name=name, n=n, value=r, ci_low=low, ci_high=high, p_value=p,
        extra={"dof": dof, "covariate_dummies": k, "bootstrap_usable": usable},
    )


def paired_difference(
    differences: Sequence[float],
    bootstrap_samples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Estimate:
    """Mean of paired differences with a bootstrap CI, the Wilcoxon signed-rank p (value) and paired t p (extra)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n = int(d.size)
    name = "mean_paired_difference"
    if n < MIN_N:
        return _undefined(name, n, f"n={n} < {MIN_N} matched pairs")
    low, high, usable = bootstrap_ci(lambda idx: float(d[idx].mean()), n, bootstrap_samples, seed, alpha)
    extra: dict[str, Any] = {"bootstrap_usable": usable}
    if np.all(d == 0):
        wilcoxon_p = 1.0
        t_p = 1.0
    else:
        wilcoxon_p = float(scipy_stats.wilcoxon(d).pvalue)
        t_p = float(scipy_stats.ttest_1samp(d, 0.0).pvalue) if not _constant(d) else None
    extra["t_test_p"] = t_p
    extra["test"] = "wilcoxon signed-rank (two-sided)"
    return Estimate(name=name, n=n, value=float(d.mean()), ci_low=low, ci_high=high, p_value=wilcoxon_p, extra=extra)
