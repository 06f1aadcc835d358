"""Permutation tests (fairforget.analysis.permutation) on cases small enough to check by hand or by brute force:
sign flips, TOST by sign flips, (block) permutations, the nuisance, Freedman–Lane."""

import itertools

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from fairforget.analysis.permutation import (
    Nuisance,
    block_permutations,
    freedman_lane,
    sign_flip_test,
    stratified_permutations,
)


def test_sign_flip_exact_hand_computed():
    # d = 1, 2, 3: the 8 sign vectors give sums 6, 4, 2, 0, 0, -2, -4, -6
    (p,) = sign_flip_test(np.array([1.0, 2.0, 3.0]))
    assert (p.greater, p.less, p.two_sided) == (pytest.approx(1 / 8), pytest.approx(1.0), pytest.approx(2 / 8))
    # shifted by 1: d - 1 = 0, 1, 2 gives sums 3, 1, -1, -3 (each twice): 3 is reached by 2 of 8
    (_, shifted) = sign_flip_test(np.array([1.0, 2.0, 3.0]), [0.0, 1.0])
    assert shifted.greater == pytest.approx(2 / 8)


def test_tost_by_sign_flips_hand_computed():
    # all |d| < margin: d + 1 > 0 and d - 1 < 0 for every pair, reached only by the identity: p = 1/16 each side
    d = np.array([0.1, -0.1, 0.05, -0.05])
    _, lower, upper = sign_flip_test(d, [0.0, -1.0, 1.0])
    assert lower.greater == pytest.approx(1 / 16) and upper.less == pytest.approx(1 / 16)


def test_sign_flip_random_beyond_exact_is_seeded_and_valid():
    d = np.random.default_rng(0).normal(0, 1, 20)
    a, b = sign_flip_test(d, draws=999, seed=3)[0], sign_flip_test(d, draws=999, seed=3)[0]
    assert a == b and 1 / 1000 <= a.two_sided <= 1


def test_stratified_permutations_stay_in_strata():
    strata = np.array([0, 0, 1, 1, 1, 2])
    perms = stratified_permutations(strata, 50, np.random.default_rng(0))
    for row in perms:
        assert sorted(row) == list(range(6)) and np.array_equal(strata[row], strata)
    assert len({tuple(r) for r in perms}) > 1


def test_block_permutations_enumerate_whole_blocks():
    # one stratum, three blocks (a, b, c) of two rows each: 3! = 6 relabellings, identity first
    blocks = np.array([0, 0, 1, 1, 2, 2])
    perms, exact = block_permutations(np.zeros(6, dtype=int), blocks, draws=100, seed=0)
    assert exact and perms.shape == (6, 6) and np.array_equal(perms[0], np.arange(6))
    for row in perms:  # rows of a block move together, keeping their order
        for b in range(3):
            moved = row[blocks == b]
            assert moved[1] == moved[0] + 1 and moved[0] % 2 == 0
    assert len({tuple(r) for r in perms}) == 6
    random, exact = block_permutations(np.zeros(6, dtype=int), blocks, draws=4, seed=0)
    assert not exact and random.shape == (4, 6)


def test_nuisance_residualises_like_least_squares():
    rng = np.random.default_rng(1)
    strata = np.repeat([0, 1, 2], 4)
    extra = rng.normal(size=(12, 2))
    values = rng.normal(size=(12, 3))
    design = np.column_stack([np.eye(3)[strata], extra])
    expected = values - design @ np.linalg.lstsq(design, values, rcond=None)[0]
    nuisance = Nuisance(strata, extra)
    assert nuisance.rank == 5
    assert np.allclose(nuisance.residualise(values), expected)
    assert np.allclose(nuisance.residualise_rows(values.T), expected.T)
    # a control confounded with the strata adds no rank
    assert Nuisance(strata, np.eye(3)[strata][:, :1]).rank == 3


def test_freedman_lane_matches_ols_and_brute_force_permutations():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0.1, 0.9, 2.2, 2.8, 4.5])
    perms = np.array(list(itertools.permutations(range(5))))  # all 120, identity first
    test = freedman_lane(y, x, Nuisance(np.zeros(5)), perms, exact=True)
    reference = sm.OLS(y, sm.add_constant(x)).fit()
    assert test.estimate == pytest.approx(reference.params[1])
    assert test.se == pytest.approx(reference.bse[1])
    assert test.t == pytest.approx(reference.tvalues[1]) and test.df == 3
    # brute force: the OLS t of y[pi] on x for every permutation (nuisance = intercept: F-L permutes y itself)
    t_all = np.array([stats.linregress(x, y[list(p)]).slope / stats.linregress(x, y[list(p)]).stderr for p in perms])
    assert test.p.two_sided == pytest.approx(np.mean(np.abs(t_all) >= abs(test.t) - 1e-9))
    assert test.p.two_sided == pytest.approx(2 / 120)  # only the identity and its reversal are that extreme
    ci = test.ci(0.05)
    assert ci[0] == pytest.approx(reference.conf_int(0.05)[1][0])


def test_freedman_lane_with_strata_and_a_control():
    """Against the definition: refit y* = fitted + residuals[pi] of the reduced model by OLS for every
    permutation and count |t*| >= |t| (Freedman & Lane 1983)."""
    rng = np.random.default_rng(2)
    strata = np.repeat([0, 1, 2, 3], 6)
    control = np.tile([0.0, 1.0], 12)
    x = rng.normal(size=24)
    y = 0.5 * x + strata + 2 * control + rng.normal(size=24)
    reduced = np.column_stack([np.eye(4)[strata], control])
    design = np.column_stack([reduced, x])
    reference = sm.OLS(y, design).fit()
    perms = stratified_permutations(strata, 199, np.random.default_rng(0))
    test = freedman_lane(y, x, Nuisance(strata, control), perms)
    assert test.estimate == pytest.approx(reference.params[-1]) and test.t == pytest.approx(reference.tvalues[-1])
    assert test.df == 24 - 6
    fit = sm.OLS(y, reduced).fit()
    t_star = np.array([sm.OLS(fit.fittedvalues + fit.resid[p], design).fit().tvalues[-1] for p in perms])
    assert test.p.two_sided == pytest.approx((1 + np.sum(np.abs(t_star) >= abs(test.t) - 1e-9)) / 200)
    assert test.p.greater == pytest.approx((1 + np.sum(t_star >= test.t - 1e-9)) / 200)


def test_freedman_lane_undefined_without_within_variation():
    strata = np.array([0, 0, 1, 1])
    test = freedman_lane(
        np.array([1.0, 2.0, 3.0, 5.0]), np.array([1.0, 1.0, 2.0, 2.0]), Nuisance(strata), np.tile(np.arange(4), (3, 1))
    )
    assert not test.defined and "does not vary" in test.reason


def test_exact_block_permutations_are_computed_once_per_layout_and_read_only():
    # the complete set does not depend on the seed: a second call with the layout returns the first call's array,
    # which no caller may change; fewer draws than the set holds still draw at random
    from fairforget.analysis import permutation

    strata, blocks = np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 2])
    permutation._EXACT_CACHE.clear()
    first, exact = block_permutations(strata, blocks, draws=100, seed=0)
    again, exact_again = block_permutations(strata, blocks, draws=36, seed=7)
    assert exact and exact_again and again is first and first.shape == (36, 6)
    assert not first.flags.writeable
    permutation._EXACT_CACHE.clear()
    assert np.array_equal(block_permutations(strata, blocks, draws=100, seed=3)[0], first)
    random, exact = block_permutations(strata, blocks, draws=35, seed=0)
    assert not exact and random.shape == (35, 6)
    assert not block_permutations(strata, blocks, draws=100, seed=0, random_only=True)[1]
    # other layouts of the same rows are other sets: one stratum of three blocks of two rows, in two orders
    one = np.zeros(6, dtype=np.int64)
    layouts = [np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 2, 0, 1, 2])]
    fresh = []
    for layout in layouts:
        permutation._EXACT_CACHE.clear()
        fresh.append(block_permutations(one, layout, draws=100, seed=0)[0])
    assert not np.array_equal(fresh[0], fresh[1])
    for layout, expected in zip(layouts, fresh):
        assert np.array_equal(block_permutations(one, layout, draws=100, seed=0)[0], expected)
