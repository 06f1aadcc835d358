"""Bootstrap estimates (fairforget.metrics.bootstrap): point, interval and determinism on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fairforget.metrics.bootstrap import (
    BootstrapSettings,
    MetricValue,
    estimate,
    estimate_each,
    mean_estimate,
    ratio_estimate,
)

BOOT = BootstrapSettings(samples=200, seed=0)


def test_mean_estimate_point_ci_and_determinism():
    first = mean_estimate(np.array([1.0, 2.0, 3.0, 4.0]), BOOT)
    assert first.value == 2.5 and first.n == 4
    assert 1.0 <= first.ci_low < 2.5 < first.ci_high <= 4.0
    assert mean_estimate(np.array([1.0, 2.0, 3.0, 4.0]), BOOT) == first
    other_seed = mean_estimate(np.array([1.0, 2.0, 3.0, 4.0]), BootstrapSettings(samples=200, seed=1))
    assert other_seed.value == 2.5 and (other_seed.ci_low, other_seed.ci_high) != (first.ci_low, first.ci_high)
    constant = mean_estimate(np.full(5, 7.0), BOOT)
    assert (constant.ci_low, constant.ci_high) == (7.0, 7.0)
    empty = mean_estimate(np.array([]), BOOT)
    assert empty.n == 0 and empty.to_json() == {"value": None, "ci_low": None, "ci_high": None, "n": 0}


def test_ratio_estimate_is_ratio_of_sums():
    result = ratio_estimate(np.array([1.0, 3.0]), np.array([2.0, 2.0]), BOOT)
    assert result.value == pytest.approx(1.0)
    assert 0.5 <= result.ci_low <= result.ci_high <= 1.5
    assert math.isnan(ratio_estimate(np.array([0.0]), np.array([0.0]), BOOT).value)


def test_an_exact_value_is_its_own_interval():
    value = MetricValue.exact(3, 10)
    assert (value.value, value.ci_low, value.ci_high, value.n) == (3.0, 3.0, 3.0, 10)
    assert value.to_json() == {"value": 3.0, "ci_low": 3.0, "ci_high": 3.0, "n": 10}


def test_estimate_each_is_estimate_per_statistic_on_the_same_resamples():
    """One call per replicate for k statistics gives what k separate non-vectorised estimates give (same seed,
    same resamples), to the bit; an empty sample gives k empty values."""
    values = np.random.default_rng(1).normal(size=37)
    settings = BootstrapSettings(samples=300, seed=5)

    def both(idx):
        return float(values[idx].mean()), float(np.median(values[idx]))

    together = estimate_each(both, 2, len(values), settings)
    for position in range(2):
        alone = estimate(lambda idx, p=position: both(idx)[p], len(values), settings, vectorized=False)
        assert together[position] == alone
    assert together[0].ci_low < together[0].value < together[0].ci_high
    assert all(math.isnan(v.value) and v.n == 0 for v in estimate_each(both, 2, 0, settings))
