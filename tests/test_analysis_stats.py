"""Statistics against scipy/statsmodels on fixed data, and honest handling of small n."""

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as scipy_stats

from fairforget.analysis.stats import (
    bootstrap_ci,
    correlation,
    ols_band,
    ols_fit,
    paired_difference,
    partial_correlation,
)

X = [0.1, 0.4, 0.35, 0.8, 0.55, 0.2, 0.9, 0.65]
Y = [-0.15, -0.9, -0.6, -1.7, -1.0, -0.5, -1.75, -1.4]


def test_pearson_and_spearman_match_scipy():
    pearson = correlation(X, Y, "pearson", bootstrap_samples=300, seed=1)
    spearman = correlation(X, Y, "spearman", bootstrap_samples=300, seed=1)
    expected_p = scipy_stats.pearsonr(X, Y)
    expected_s = scipy_stats.spearmanr(X, Y)
    assert pearson.value == pytest.approx(expected_p.statistic, abs=1e-12)
    assert pearson.p_value == pytest.approx(expected_p.pvalue, rel=1e-9)
    assert spearman.value == pytest.approx(expected_s.statistic, abs=1e-12)
    assert spearman.p_value == pytest.approx(expected_s.pvalue, rel=1e-9)
    assert pearson.n == len(X)


def test_bootstrap_ci_covers_estimate_and_is_seeded():
    a = correlation(X, Y, "pearson", bootstrap_samples=500, seed=3)
    b = correlation(X, Y, "pearson", bootstrap_samples=500, seed=3)
    c = correlation(X, Y, "pearson", bootstrap_samples=500, seed=4)
    assert a.ci_low <= a.value <= a.ci_high
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_excludes_zero() and a.value < 0


def test_bootstrap_ci_of_mean_is_close_to_normal_interval():
    rng = np.random.default_rng(0)
    data = rng.normal(2.0, 1.0, size=200)
    low, high, usable = bootstrap_ci(lambda idx: float(data[idx].mean()), data.size, 2000, seed=0)
    half = 1.96 * data.std(ddof=1) / math.sqrt(data.size)
    assert usable == 2000
    assert low == pytest.approx(data.mean() - half, abs=0.04)
    assert high == pytest.approx(data.mean() + half, abs=0.04)


def test_ols_matches_statsmodels_and_linregress():
    fit = ols_fit(X, Y)
    reference = sm.OLS(np.array(Y), sm.add_constant(np.array(X))).fit()
    line = scipy_stats.linregress(X, Y)
    assert fit.slope == pytest.approx(line.slope, rel=1e-10)
    assert fit.intercept == pytest.approx(line.intercept, rel=1e-10)
    assert fit.r_squared == pytest.approx(line.rvalue**2, rel=1e-10)
    assert fit.r_squared == pytest.approx(reference.rsquared, rel=1e-10)
    assert fit.slope_p == pytest.approx(line.pvalue, rel=1e-8)
    assert fit.slope_ci[0] < fit.slope < fit.slope_ci[1]


def test_ols_band_contains_fitted_line():
    grid = np.linspace(0.1, 0.9, 5)
    mean, low, high = ols_band(X, Y, grid)
    fit = ols_fit(X, Y)
    assert np.allclose(mean, fit.intercept + fit.slope * grid)
    assert np.all(low < mean) and np.all(mean < high)


def test_partial_correlation_hand_checked():
    # Two groups; residualising on the group subtracts group means.
    x = [1, 2, 3, 10, 11, 12]
    y = [2, 1, 4, 5, 7, 6]
    group = ["a", "a", "a", "b", "b", "b"]
    # residuals x: -1,0,1,-1,0,1 ; y: -1/3,-4/3,5/3,-1,1,0 -> r = 3 / sqrt(4 * 60/9)
    expected = 3 / math.sqrt(4 * 60 / 9)
    result = partial_correlation(x, y, [group], bootstrap_samples=200, seed=0)
    assert result.value == pytest.approx(expected, abs=1e-12)
    assert result.extra["dof"] == 3
    # Same p-value as the t-test of x's coefficient in y ~ x + group.
    design = np.column_stack([np.ones(6), x, [0, 0, 0, 1, 1, 1]])
    reference = sm.OLS(np.array(y, dtype=float), design).fit()
    assert result.p_value == pytest.approx(reference.pvalues[1], rel=1e-8)


def test_partial_correlation_undefined_without_degrees_of_freedom():
    result = partial_correlation([1, 2, 3, 4], [2, 3, 1, 5], [["a", "b", "a", "b"], ["x", "x", "y", "y"]])
    assert not result.defined and "degrees of freedom" in result.reason


@pytest.mark.parametrize("n", [0, 1, 2])
def test_small_n_is_undefined_with_reason(n):
    for kind in ("pearson", "spearman"):
        result = correlation(X[:n], Y[:n], kind)
        assert result.value is None and result.p_value is None and result.ci_low is None
        assert f"n={n}" in result.reason
    assert not ols_fit(X[:n], Y[:n]).defined
    assert paired_difference(Y[:n]).reason.startswith(f"n={n}")


def test_constant_variable_is_undefined():
    result = correlation([1, 1, 1, 1], [1, 2, 3, 4])
    assert not result.defined and "constant" in result.reason
    assert "constant" in ols_fit([1, 1, 1], [1, 2, 3]).reason


def test_missing_values_are_dropped_pairwise():
    result = correlation(X + [float("nan")], Y + [0.0], bootstrap_samples=50)
    assert result.n == len(X)
    assert result.value == pytest.approx(scipy_stats.pearsonr(X, Y).statistic)


def test_paired_difference_matches_scipy_tests():
    diffs = [0.1, -0.05, 0.2, 0.15, 0.3, 0.05, 0.12]
    result = paired_difference(diffs, bootstrap_samples=1000, seed=0)
    assert result.value == pytest.approx(np.mean(diffs))
    assert result.p_value == pytest.approx(scipy_stats.wilcoxon(diffs).pvalue)
    assert result.extra["t_test_p"] == pytest.approx(scipy_stats.ttest_1samp(diffs, 0).pvalue)
    assert result.ci_low <= result.value <= result.ci_high


def test_paired_difference_all_zero_is_not_significant():
    result = paired_difference([0.0, 0.0, 0.0])
    assert result.value == 0.0 and result.p_value == 1.0


def test_fisher_z_ci_matches_formula():
    r = correlation(X, Y, "pearson", bootstrap_samples=10)
    z, half = math.atanh(r.value), 1.959963984540054 / math.sqrt(len(X) - 3)
    low, high = r.extra["fisher_z_ci"]
    assert low == pytest.approx(math.tanh(z - half)) and high == pytest.approx(math.tanh(z + half))
    assert correlation(X[:3], Y[:3], "pearson", bootstrap_samples=10).extra["fisher_z_ci"] is None
