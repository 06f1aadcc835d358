"""Calibration of the paired bias-change statistics (fairforget.metrics.paired) under the null.

A checkpoint that is its base "redrawn": each item's preference is drawn twice from the same item-level
probability (base and tuned exchangeable, so no change in the share preferring the stereotype). At level 0.05
the exact McNemar test must reject at most 5% of the time (it is conservative) and the 95% paired bootstrap
interval must exclude 0 about 5% of the time. Tolerances: 3 binomial standard errors of the simulated rate.
"""

from __future__ import annotations

import numpy as np

from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.paired import paired_preference_change

ALPHA = 0.05
SIMULATIONS = 300
ITEMS = 262  # CrowS-Pairs' gender pairs


def test_no_change_is_rejected_at_most_at_the_stated_rate():
    rng = np.random.default_rng(20261207)
    mcnemar_rejects = 0
    interval_excludes_zero = 0
    for simulation in range(SIMULATIONS):
        p_item = rng.beta(2.0, 1.5, size=ITEMS)  # items differ in how strongly they prefer the stereotype
        base = rng.random(ITEMS) < p_item
        tuned = rng.random(ITEMS) < p_item
        out = paired_preference_change(base, tuned, BootstrapSettings(samples=400, seed=simulation))
        mcnemar_rejects += out["mcnemar_p"].value < ALPHA
        change = out["paired_change"]
        interval_excludes_zero += not (change.ci_low <= 0.0 <= change.ci_high)
    tolerance = 3 * np.sqrt(ALPHA * (1 - ALPHA) / SIMULATIONS)
    assert mcnemar_rejects / SIMULATIONS <= ALPHA + tolerance, mcnemar_rejects
    assert abs(interval_excludes_zero / SIMULATIONS - ALPHA) <= tolerance, interval_excludes_zero


def test_a_real_change_is_detected():
    """The same tests do reject when the tuned model prefers the stereotype less (power, not only size)."""
    rng = np.random.default_rng(7)
    p_item = rng.beta(2.0, 1.5, size=ITEMS)
    base = rng.random(ITEMS) < p_item
    tuned = rng.random(ITEMS) < np.clip(p_item - 0.2, 0.0, 1.0)
    out = paired_preference_change(base, tuned, BootstrapSettings(samples=400, seed=0))
    assert out["mcnemar_p"].value < ALPHA and out["paired_change"].ci_high < 0
