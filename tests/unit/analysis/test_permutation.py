"""The findings' tests on cases small enough to check by hand or by brute force: sign flips, (block)
permutations, Freedman–Lane, fixed effects, unique contributions, TOST and the power formulas."""

import itertools
import math

import numpy as np
import polars as pl
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
from fairforget.analysis.power import (
    CoefficientTestSpec,
    SignCondition,
    n_for_equivalence,
    paired_mde,
    rule_power,
    scale_to_detect,
    sign_flip_mde,
)
from fairforget.analysis.unique import unique_contributions
from fairforget.analysis.within import balanced_by_objective, nuisance_for


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


def _frame(rows):
    return pl.DataFrame(rows, schema=["model", "objective", "remedy", "size", "seed", "x1", "x2", "y"], orient="row")


def test_balanced_by_objective_drops_incomplete_cells():
    rows = [("m", o, "none", "full", s, 0.0, 0.0, 0.0) for o in ("a", "b") for s in (0, 1)]
    rows.append(("m", "a", "none", "full", 2, 0.0, 0.0, 0.0))  # seed 2 only for objective a
    kept, left_out = balanced_by_objective(_frame(rows))
    assert left_out == 1 and kept.height == 4
    assert kept["objective"].to_list() == ["a", "a", "b", "b"]


def test_controls_are_interacted_with_the_model():
    rows = [(m, o, r, "full", 0, 0.0, 0.0, 0.0) for m in ("m1", "m2") for o in ("a", "b") for r in ("none", "l2")]
    nuisance = nuisance_for(_frame(rows), ("model", "size", "seed"), ("remedy",))
    assert nuisance.strata_count == 2 and nuisance.extra.shape[1] == 2  # one remedy indicator per model


def test_unique_contributions_match_nested_r2_and_standardized_comparison():
    rng = np.random.default_rng(3)
    rows = []
    for model in ("m1", "m2"):
        for objective in range(6):
            for seed in (0, 1):
                x1, x2 = rng.normal(), rng.normal()
                rows.append(
                    (model, f"o{objective}", "none", "full", seed, x1, x2, -1.0 * x1 + 0.3 * x2 + 0.2 * rng.normal())
                )
    frame = _frame(rows)
    result = unique_contributions(frame, "y", "x1", "x2", ("model", "size", "seed"), 199, 0, 0.05)
    data, _ = balanced_by_objective(frame)
    nuisance = nuisance_for(data, ("model", "size", "seed"))
    xs = nuisance.residualise(data.select("x1", "x2").to_numpy())
    ys = nuisance.residualise(data["y"].to_numpy())
    # within-model scales: every variable divided by its root mean square within its model (after the strata)
    models = data["model"].to_numpy()
    for model in ("m1", "m2"):
        rows = models == model
        xs[rows] /= np.sqrt((xs[rows] ** 2).mean(axis=0))
        ys[rows] /= np.sqrt((ys[rows] ** 2).mean())
    sst = ys @ ys

    def r2(columns):
        fit = sm.OLS(ys, xs[:, columns]).fit()
        return 1 - fit.ssr / sst

    assert result.unique[0] == pytest.approx(r2([0, 1]) - r2([1]))
    assert result.unique[1] == pytest.approx(r2([0, 1]) - r2([0]))
    b1, b2 = result.standardized()
    assert (abs(b1) > abs(b2)) == (result.unique[0] > result.unique[1])
    assert result.sum_test.estimate == pytest.approx((b1 + b2) / 1.0, rel=1e-6)
    assert result.difference_test.estimate == pytest.approx(b2 - b1, rel=1e-6)
    r12 = float(xs[:, 0] @ xs[:, 1] / np.sqrt((xs[:, 0] @ xs[:, 0]) * (xs[:, 1] @ xs[:, 1])))
    assert result.r12 == pytest.approx(r12) and result.vif_difference == pytest.approx(1 / (1 - r12))
    # a model's loss scale does not weigh: rescaling one model's outcome and predictors changes nothing
    rescaled = frame.with_columns(
        [(pl.col(c) * pl.when(pl.col("model") == "m2").then(50.0).otherwise(1.0)).alias(c) for c in ("x1", "x2", "y")]
    )
    again = unique_contributions(rescaled, "y", "x1", "x2", ("model", "size", "seed"), 199, 0, 0.05)
    assert again.standardized() == pytest.approx(result.standardized())
    assert again.sum_test.p_two_sided == result.sum_test.p_two_sided


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


def test_more_data_is_a_sign_flip_over_per_seed_slopes():
    """y = 0.1 * log2(size) exactly, 3 seeds x 2 sizes: each seed's slope (fixed effects per objective and
    remedy) is the change over the size range, 0.2; the 2^3 sign flips of the seeds leave p = 2/8."""
    from fairforget.analysis.findings import MORE_DATA, finding_remedies
    from fairforget.analysis.settings import AnalysisSettings

    rows = []
    for seed in (0, 1, 2):
        for size, n in (("100", 100), ("full", 400)):
            for objective in ("a", "b"):
                for remedy in ("none", "l2"):
                    value = 1.0 + 0.1 * math.log2(n) + 0.01 * seed + (0.05 if objective == "b" else 0.0)
                    rows.append(("m", objective, remedy, size, None if size == "full" else n, seed, n, value))
    frame = pl.DataFrame(
        rows,
        schema=[
            "model",
            "objective",
            "remedy",
            "size",
            "size_n",
            "seed",
            "training.n_debias_texts",
            "overall_forgetting.mean_loss_change",
        ],
        orient="row",
    )
    finding = finding_remedies(frame, AnalysisSettings(permutations=199))
    arm = next(a for a in finding.arms if a.arm == MORE_DATA)
    assert arm.estimate == pytest.approx(0.1 * 2.0)  # log2(400 / 100) = 2 doublings
    assert arm.unit_values == pytest.approx([0.2, 0.2, 0.2])  # one slope per seed
    # sign flips of the 3 seeds' slopes: only all-plus and all-minus reach |mean| = 0.2, p = 2/8
    assert arm.exact and arm.p == pytest.approx(2 / 8)
    assert arm.units == 3 and arm.sd == pytest.approx(0.0, abs=1e-12)
    assert "100–400 texts" in arm.note
    # the floor 2/2^3 is above Holm's first threshold (alpha / 2 tests): no MDE, contradicts unreachable
    assert arm.mde is None and "smallest attainable p is 0.25" in arm.mde_note
    contradicts = next(r for r in arm.reach if r.verdict == "contradicts")
    assert not contradicts.reachable and contradicts.needed == 7  # 2/2^7 = 0.0156 < 0.025


def test_reach_floors_and_needed_grids_hand_computed():
    """Floors: 1/k! for k relabelled objectives, 2/2^c (two-sided) and 1/2^c (one-sided) for c flipped seeds, and
    1/(B + 1) once random draws replace the full set; the grid needed is the smallest with floor < threshold."""
    from fairforget.analysis.reach import objectives_reach, relabelling_floor, seeds_reach, sign_flip_floor

    assert relabelling_floor(4, 199) == pytest.approx(1 / 24)
    assert relabelling_floor(6, 199) == pytest.approx(1 / 200)  # 720 > 199 draws: 1/(199 + 1)
    assert sign_flip_floor(3, 199) == pytest.approx(2 / 8) and sign_flip_floor(3, 199, sides=1) == pytest.approx(1 / 8)
    assert sign_flip_floor(20, 199) == pytest.approx(1 / 200)  # beyond 16 seeds: random sign vectors
    # F1 as stated with 4 objectives: supports (alpha) reachable, contradicts (alpha/2) needs 5 (1/120 < 0.025)
    assert objectives_reach("supports", "t", 4, 199, 0.05).reachable
    contradicts = objectives_reach("contradicts", "t", 4, 199, 0.025)
    assert not contradicts.reachable and contradicts.needed == 5
    assert "needs ≥ 5 objectives" in contradicts.describe()
    # F3 on the paper grid: 3 seeds, 10 tests: Holm's first threshold 0.005 needs 2/2^9 = 0.0039; TOST needs 1/32
    paper = seeds_reach("contradicts", "Holm", 3, 199, 0.005)
    assert paper.floor == pytest.approx(0.25) and paper.needed == 9 and "3 seeds" in paper.describe()
    assert seeds_reach("supports", "TOST", 1, 199, 0.05, sides=1).needed == 5
    assert "(TOST; 1 seed)" in seeds_reach("supports", "TOST", 1, 199, 0.05, sides=1).describe()
    # 20 seeds but only 199 random sign vectors: the draws, not the seeds, set the floor 1/200 = 0.005
    draws = seeds_reach("contradicts", "Holm", 20, 199, 0.005)
    assert not draws.reachable and draws.permutations_needed == 200  # 1/201 < 0.005
    assert "`analysis.permutations` ≥ 200" in draws.describe()


def test_f3_seed_is_the_unit_with_per_model_margins():
    """2 models x 5 seeds, one objective and size, remedy r vs none. Per (model, seed) differences: model a
    +0.1 in every seed, model b +0.3, -0.1, +0.3, +0.3, +0.3; per seed the mean over models: 0.2, 0.0, 0.2, 0.2,
    0.2. Sign flips of the 5 seeds (2^5 = 32): |sum| >= 0.8 only for the identity and its negation (the zero seed
    flips freely): 2 x 2 of 32, p = 0.125. Margins 0.2 x each model's own `none` mean (a: 1, b: 4): 0.2 and 0.8.
    TOST for a: all d - 0.2 = -0.1 < 0 and d + 0.2 = 0.3 > 0, reached only by the identity: p = 1/32; for b
    (margin 0.8) likewise p = 1/32."""
    from fairforget.analysis.claims import SUPPORTS
    from fairforget.analysis.findings import finding_remedies
    from fairforget.analysis.settings import AnalysisSettings

    metric = "overall_forgetting.mean_loss_change"
    diffs = {"a": [0.1] * 5, "b": [0.3, -0.1, 0.3, 0.3, 0.3]}
    base = {"a": 1.0, "b": 4.0}
    rows = []
    for model, values in diffs.items():
        for seed, d in enumerate(values):
            for remedy, value in (("none", base[model]), ("r", base[model] + d)):
                rows.append(
                    {"model": model, "objective": "o", "remedy": remedy, "size": "full", "size_n": 100,
                     "seed": seed, metric: value}
                )  # fmt: skip
    frame = pl.DataFrame(rows)
    finding = finding_remedies(frame, AnalysisSettings(permutations=199, overall_forgetting_metric=metric))
    arm = next(a for a in finding.arms if a.arm == "r")
    assert arm.units == 5 and arm.unit_values == pytest.approx([0.2, 0.0, 0.2, 0.2, 0.2])
    assert arm.estimate == pytest.approx(0.16) and arm.per_model == pytest.approx({"a": 0.1, "b": 0.22})
    assert arm.exact and arm.p == pytest.approx(4 / 32)
    assert arm.margins == pytest.approx({"a": 0.2, "b": 0.8})
    assert arm.per_model_tost == pytest.approx({"a": 1 / 32, "b": 1 / 32}) and arm.p_tost == pytest.approx(1 / 32)
    assert finding.verdict == SUPPORTS  # one arm, one metric, equivalent in every model


def test_f1_controls_remedy_within_model():
    """Remedy r raises overall forgetting by 1 and lowers downstream change by 2 in every run; across objectives
    the two are orthogonal (u = +1, -1, +1, -1, v = +1, +1, -1, -1). With remedy controlled the within-model slope
    is exactly 0; without, the remedy's covariance would give a negative slope."""
    from fairforget.analysis.findings import finding_downstream
    from fairforget.analysis.settings import AnalysisSettings
    from fairforget.analysis.within import SHARED_NOISE_STRATA, slope

    overall, downstream = "overall_forgetting.mean_loss_change", "downstream.mean_change"
    u, v = [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]
    rows = [
        {"model": m, "objective": f"o{i}", "remedy": r, "size": "full", "size_n": 100, "seed": 0,
         overall: u[i] + (1.0 if r == "r" else 0.0), downstream: v[i] - (2.0 if r == "r" else 0.0)}
        for m in ("a", "b") for i in range(4) for r in ("none", "r")
    ]  # fmt: skip
    frame = pl.DataFrame(rows)
    settings = AnalysisSettings(permutations=199, overall_forgetting_metric=overall)
    finding = finding_downstream(frame, settings, with_power=False)
    fit = finding.sign_test.slope
    assert fit.controls == ("remedy",) and fit.within.estimate == pytest.approx(0.0, abs=1e-12)
    uncontrolled = slope(frame, overall, downstream, SHARED_NOISE_STRATA, (), 199, 0)
    # per model: cov(x, y) = cov(r, -2 r) = -2 x 0.25, var(x) = var(u) + var(r) = 1 + 0.25: slope -0.5 / 1.25
    assert uncontrolled.within.estimate == pytest.approx(-0.4)
