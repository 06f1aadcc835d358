"""The power formulas (fairforget.analysis.power): hand-computed MDEs and sample sizes, and the rule's power
against the t test's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fairforget.analysis.permutation import (
    Nuisance,
    stratified_permutations,
)
from fairforget.analysis.power import (
    CoefficientTestSpec,
    SignCondition,
    n_for_equivalence,
    paired_mde,
    rule_power,
    scale_to_detect,
    sign_flip_mde,
)


def test_paired_mde_and_equivalence_sample_size_hand_computed():
    # (t_.975,9 + t_.8,9) / sqrt(10) = (2.2622 + 0.8834) / 3.1623
    assert paired_mde(1.0, 10, 0.05) == pytest.approx((2.262157 + 0.883408) / math.sqrt(10), rel=1e-5)
    # ((z_.95 + z_.8) * se / (margin - |effect|))^2 = ((1.6449 + 0.8416) / 1.5)^2
    assert n_for_equivalence(1.0, 0.5, 2.0, 0.05) == pytest.approx(((1.644854 + 0.841621) / 1.5) ** 2, rel=1e-5)
    assert n_for_equivalence(1.0, 2.5, 2.0, 0.05) is None
    assert scale_to_detect(0.2, -0.1) == pytest.approx(4.0)


def test_sign_flip_mde_hand_computed():
    # z = z_.9975 = 2.80703 (z^2 = 7.87944); critical mean z sqrt(17 / (18 (18 - z^2))) = 0.857499; + t_.8,17 /
    # sqrt(18) = 0.863279 / 4.242641
    assert sign_flip_mde(1.0, 18, 0.005) == pytest.approx(0.857499 + 0.863279 / math.sqrt(18), rel=1e-5)
    assert sign_flip_mde(2.0, 18, 0.005) == pytest.approx(2 * sign_flip_mde(1.0, 18, 0.005))
    # larger than the t test's MDE: the flips' variance grows with the effect
    assert sign_flip_mde(1.0, 18, 0.005) > paired_mde(1.0, 18, 0.005)
    assert sign_flip_mde(1.0, 7, 0.005) is None  # n <= z^2: no effect reaches the level


def test_rule_power_matches_the_t_test_power():
    """One test, one stratum, normal noise: the power function's MDE is the t-test's
    (t_{1-a/2} + t_{0.8}) sigma / sqrt(Sxx) up to the permutation and Monte Carlo approximations."""
    rng = np.random.default_rng(4)
    n = 30
    x = np.linspace(-1, 1, n)
    noise = rng.normal(0, 1, (400, n))
    perms = stratified_permutations(np.zeros(n, dtype=int), 399, rng)
    spec = CoefficientTestSpec(Nuisance(np.zeros(n)), x, x, +1)
    power = rule_power([spec], noise, perms, False, [], 0.05)
    sxx = float(((x - x.mean()) ** 2).sum())
    expected = (stats.t.ppf(0.975, n - 2) + stats.t.ppf(0.8, n - 2)) / math.sqrt(sxx)
    assert power(0.0) < 0.06
    assert power.minimum_detectable_effect(1 / math.sqrt(sxx)) == pytest.approx(expected, rel=0.12)
    # a per-model condition that fails for every noise realisation makes the rule powerless
    never = SignCondition(0.0, -np.ones(400))
    assert rule_power([spec], noise, perms, False, [never], 0.05)(10 * expected) == 0.0
