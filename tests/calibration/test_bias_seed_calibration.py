"""Calibration of the interval over fine-tuning seeds (fairforget.analysis.bias_changes.seed_interval) on simulated
seeds that share their base model and items, as a grid cell's runs do (docs/metrics.md §5.3).

Per simulated cell: item probabilities p_i of preferring the stereotype (262 items, CrowS-Pairs' gender pairs), the
base model's preferences b_i drawn once (shared by every seed), and k seeds whose tuned preferences are drawn with
probability p_i + delta + u_s, u_s a seed effect shared by all items of the seed (its data subsample and
initialisation), mean 0. The stated estimand is the mean change over seeds on these items against this base,
100 x mean_i(p_i + delta - b_i); the 95% t interval must cover it at 95% (within 3 binomial standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.analysis.bias_changes import seed_interval

ITEMS = 262
CELLS = 1500
LEVEL = 0.95


def _coverage(seeds: int, delta: float, seed_sd: float, rng: np.random.Generator) -> float:
    covered = 0
    for _ in range(CELLS):
        p_item = rng.uniform(0.25, 0.75, size=ITEMS)
        base = rng.random(ITEMS) < p_item
        effects = rng.normal(0.0, seed_sd, size=(seeds, 1))
        tuned = rng.random((seeds, ITEMS)) < p_item + delta + effects
        changes = 100.0 * (tuned.astype(float) - base).mean(axis=1)
        truth = 100.0 * float(np.mean(p_item + delta - base))
        interval = seed_interval(list(changes), alpha=1 - LEVEL)
        assert interval.low is not None and interval.high is not None
        covered += interval.low <= truth <= interval.high
    return covered / CELLS


@pytest.mark.parametrize(
    ("seeds", "delta", "seed_sd"),
    [(2, 0.0, 0.0), (5, 0.0, 0.0), (5, -0.1, 0.03), (3, 0.05, 0.05)],
)
def test_the_seed_interval_covers_the_mean_change_over_seeds_at_the_stated_rate(seeds, delta, seed_sd):
    rate = _coverage(seeds, delta, seed_sd, np.random.default_rng(20261207 + seeds))
    tolerance = 3 * np.sqrt(LEVEL * (1 - LEVEL) / CELLS)
    assert abs(rate - LEVEL) <= tolerance, rate
