"""Power of the verdict rules and the minimum detectable effect (MDE, 80% power) of this grid, given the noise the
grid showed (Bloom 1995). F1/F2: the rule as it is run (the same Freedman–Lane tests, permutations and per-model
sign conditions) under a shift alternative, each statistic a ratio of quadratics in the effect, so no refits;
F3: a t approximation at Holm's first step; fusion: `sign_flip_mde`. Why, and what is approximate:
docs/metrics.md, sections 9 and 11; checked by tests/calibration/test_analysis_calibration.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats

from fairforget.analysis.permutation import Nuisance
from fairforget.analysis.stats import t_quantile

TARGET_POWER = 0.8
NOISE_DRAWS = 200
POWER_TEST_PERMUTATIONS = 499
_CHUNK = 4_000_000  # floats per block of permuted noise


@dataclass(frozen=True)
class CoefficientTestSpec:
    """One Freedman–Lane test the rule needs to pass: the t of `regressor` (given `nuisance`) must be significant
    with sign `sign`; under the alternative, y = effect * signal + noise."""

    nuisance: Nuisance
    regressor: np.ndarray
    signal: np.ndarray
    sign: int


@dataclass(frozen=True)
class SignCondition:
    """A per-model point-estimate condition that is linear in the effect: slope * effect + offset[j] > 0 for
    noise realisation j."""

    slope: float
    offsets: np.ndarray


class _Curve:
    """t statistics of one test as functions of the effect, for every noise realisation (rows) and permutation
    (columns; column 0 = the observed data)."""

    def __init__(self, spec: CoefficientTestSpec, noise: np.ndarray, permutations: np.ndarray, exact: bool):
        m = spec.nuisance
        x = m.residualise(spec.regressor)
        self.sxx = float(x @ x)
        self.df = m.n - m.rank - 1
        self.exact = exact
        self.sign = spec.sign
        v = m.residualise(spec.signal)  # reduced-model residual per unit effect
        u = m.residualise_rows(noise)  # (J, n) reduced-model residuals of the noise
        identity = np.arange(m.n)[None, :]
        perms = permutations if exact else np.vstack([identity, permutations])
        v_perm = v[perms]  # (B, n)
        mv_perm = m.residualise_rows(v_perm)
        self.a = np.einsum("bn,n->b", v_perm, x)  # x~' v[s]
        self.c = np.einsum("bn,bn->b", mv_perm, mv_perm)  # ||M v[s]||^2
        b, n = perms.shape[0], m.n
        self.b, self.d, self.e = (np.empty((u.shape[0], b)) for _ in range(3))
        step = max(1, _CHUNK // (b * n))  # noise realisations per chunk, to bound memory
        for start in range(0, u.shape[0], step):
            u_perm = u[start : start + step][:, perms]  # (chunk, B, n)
            rows = slice(start, start + u_perm.shape[0])
            self.b[rows] = np.einsum("jbn,n->jb", u_perm, x)  # x~' u_j[s]
            self.d[rows] = np.einsum("jbn,bn->jb", u_perm, mv_perm)  # (M v[s])' u_j[s]
            mu = m.residualise_rows(u_perm.reshape(-1, n))
            self.e[rows] = np.einsum("kn,kn->k", mu, mu).reshape(u_perm.shape[0], b)  # ||M u_j[s]||^2
        # the observed data are in column 0 in both cases: exact sets list the identity first
        if exact and not np.array_equal(permutations[0], identity[0]):
            raise ValueError("an exact permutation set must start with the identity")

    def rejects(self, effect: float, alpha: float) -> np.ndarray:
        """(J,) whether the test rejects with the required sign at two-sided level alpha."""
        xy = effect * self.a[None, :] + self.b
        ss = effect * effect * self.c[None, :] + 2 * effect * self.d + self.e
        rss = np.maximum(ss - xy * xy / self.sxx, 1e-300)
        t = (xy / self.sxx) / np.sqrt(rss / self.df / self.sxx)
        observed = t[:, :1]
        tol = 1e-9 * np.maximum(np.abs(observed), 1.0)
        count = np.count_nonzero(np.abs(t[:, 1:]) >= np.abs(observed) - tol, axis=1)
        draws = t.shape[1] - 1
        p = (count + 1) / (draws + 1)  # exact: identity counts itself among draws + 1 = all permutations
        return (p < alpha) & (np.sign(observed[:, 0]) == self.sign)


@dataclass
class RulePower:
    """The power of a verdict rule as a function of the effect size."""

    curves: list[_Curve]
    conditions: list[SignCondition]
    alpha: float

    def __call__(self, effect: float) -> float:
        passes = np.ones(self.curves[0].b.shape[0], dtype=bool)
        for curve in self.curves:
            passes &= curve.rejects(effect, self.alpha)
        for condition in self.conditions:
            passes &= condition.slope * effect + condition.offsets > 0
        return float(passes.mean())

    def minimum_detectable_effect(self, scale: float, power: float = TARGET_POWER) -> float | None:
        """Smallest effect >= 0 with power >= `power` (bisection; `scale` = a typical size of the effect, e.g.
        its standard error); None when no effect up to 1000 * scale reaches it."""
        high = max(scale, 1e-12)
        while self(high) < power:
            high *= 2
            if high > 1000 * max(scale, 1e-12):
                return None
        low = 0.0
        for _ in range(30):
            mid = (low + high) / 2
            if self(mid) >= power:
                high = mid
            else:
                low = mid
        return high


def rule_power(
    tests: Sequence[CoefficientTestSpec],
    noise: np.ndarray,
    test_permutations: np.ndarray,
    exact: bool,
    conditions: Sequence[SignCondition],
    alpha: float,
) -> RulePower:
    """The power function of a rule made of `tests` (all must reject with their sign) and per-model
    `conditions`, under the noise realisations `noise` (J x n)."""
    if test_permutations.shape[0] > POWER_TEST_PERMUTATIONS:
        # a random subset (the identity left out; _Curve adds it), read as Monte Carlo draws
        start = 1 if exact else 0
        chosen = np.random.default_rng(0).choice(
            np.arange(start, test_permutations.shape[0]), POWER_TEST_PERMUTATIONS, replace=False
        )
        test_permutations = test_permutations[np.sort(chosen)]
        exact = False
    curves = [_Curve(spec, noise, test_permutations, exact) for spec in tests]
    return RulePower(curves, list(conditions), alpha)


def scale_to_detect(mde: float | None, estimate: float | None) -> float | None:
    """How many times the current replicates an effect the size of `estimate` needs for the rule's target power:
    (MDE / |estimate|)^2, as the noise of a mean shrinks with the square root of the replicates. None when
    undefined or the estimate is 0."""
    if mde is None or estimate is None or estimate == 0:
        return None
    return (mde / abs(estimate)) ** 2


@cache
def _normal_quantile(q: float) -> float:
    return float(stats.norm.ppf(q))


def paired_mde(sd: float, n: int, alpha: float, power: float = TARGET_POWER) -> float | None:
    """MDE of a two-sided one-sample test at level alpha: (t_{1-alpha/2} + t_{power}) sd / sqrt(n), df = n - 1."""
    if n < 2 or not math.isfinite(sd) or sd <= 0:
        return None
    df = n - 1
    return float((t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) * sd / math.sqrt(n))


def sign_flip_mde(sd: float, n: int, alpha: float, power: float = TARGET_POWER) -> float | None:
    """MDE of the two-sided sign-flip test of a mean (permutation.sign_flip_test) at level alpha. Under the flips
    the sum of the differences has variance sum d_i^2 = (n - 1) sd^2 + n mean^2, which grows with the effect (the
    t test's variance does not), so it rejects when mean > c = z_{1-alpha/2} sd sqrt((n - 1) / (n (n - z^2)));
    the MDE is c + t_{power, n-1} sd / sqrt(n). Approximate: normal approximation of the flip distribution and
    of the mean; None when n <= z^2 (no effect reaches the level)."""
    if n < 2 or not math.isfinite(sd) or sd <= 0:
        return None
    z = _normal_quantile(1 - alpha / 2)
    if n <= z * z:
        return None
    critical = z * sd * math.sqrt((n - 1) / (n * (n - z * z)))
    return float(critical + t_quantile(power, n - 1) * sd / math.sqrt(n))


def n_for_equivalence(
    se: float, effect: float, margin: float, alpha: float, power: float = TARGET_POWER
) -> float | None:
    """Multiple of the current replicates (whose mean has standard error `se`) that TOST at level alpha needs to
    show |mean| < margin at the given power when the true mean is `effect` (normal approximation; Chow, Shao &
    Wang 2008, sec. 3.2); None when |effect| >= margin (never equivalent)."""
    if abs(effect) >= margin or not math.isfinite(se) or se <= 0:
        return None
    z_power = _normal_quantile(1 - (1 - power) / 2) if effect == 0 else _normal_quantile(power)
    return float(((_normal_quantile(1 - alpha) + z_power) * se / (margin - abs(effect))) ** 2)
