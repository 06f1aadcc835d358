"""Statistics against scipy/statsmodels on fixed data, and honest handling of small n."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from fairforget.analysis.stats import bootstrap_ci, correlation, holm, ols_band

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


def test_ols_band_is_the_least_squares_line_with_a_band_around_it():
    grid = np.linspace(0.1, 0.9, 5)
    mean, low, high = ols_band(X, Y, grid)
    line = scipy_stats.linregress(X, Y)
    assert np.allclose(mean, line.intercept + line.slope * grid, rtol=1e-10)
    assert np.all(low < mean) and np.all(mean < high)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_small_n_is_undefined_with_reason(n):
    for kind in ("pearson", "spearman"):
        result = correlation(X[:n], Y[:n], kind)
        assert result.value is None and result.p_value is None and result.ci_low is None
        assert f"n={n}" in result.reason
    assert ols_band(X[:n], Y[:n], [0.5]) is None


def test_constant_variable_is_undefined():
    result = correlation([1, 1, 1, 1], [1, 2, 3, 4])
    assert not result.defined and "constant" in result.reason
    assert ols_band([1, 1, 1], [1, 2, 3], [0.5]) is None


def test_missing_values_are_dropped_pairwise():
    result = correlation(X + [float("nan")], Y + [0.0], bootstrap_samples=50)
    assert result.n == len(X)
    assert result.value == pytest.approx(scipy_stats.pearsonr(X, Y).statistic)


def test_holm_hand_computed():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(0.06, 1 * 0.04) = 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_fisher_z_ci_matches_formula():
    r = correlation(X, Y, "pearson", bootstrap_samples=10)
    z, half = math.atanh(r.value), 1.959963984540054 / math.sqrt(len(X) - 3)
    low, high = r.extra["fisher_z_ci"]
    assert low == pytest.approx(math.tanh(z - half)) and high == pytest.approx(math.tanh(z + half))
    assert correlation(X[:3], Y[:3], "pearson", bootstrap_samples=10).extra["fisher_z_ci"] is None


def test_t_quantile_is_scipys_and_memoised() -> None:
    from scipy import stats as scipy_stats

    from fairforget.analysis.stats import t_quantile

    t_quantile.cache_clear()
    value = t_quantile(0.975, 4)
    assert value == float(scipy_stats.t.ppf(0.975, 4)) and abs(value - 2.7764) < 1e-4  # the t table's 2.776
    assert t_quantile(0.975, 4) == value and t_quantile.cache_info().hits == 1
