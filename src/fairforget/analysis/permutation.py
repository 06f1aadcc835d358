"""Permutation inference: the sign-flip test of paired differences and the Freedman–Lane permutation test of one
regression coefficient with nuisance regressors, permuting only within exchangeable strata.

Monte Carlo p-values are (1 + #{T* at least as extreme}) / (1 + draws) (Phipson & Smyth 2010), which keeps the
test's level exact for the random draws; fully enumerated sign flips give the exact p-value #/(2^n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Enumerate every sign vector up to this many pairs (2^16 = 65,536 vectors); beyond, draw them at random.
MAX_EXACT_PAIRS = 16
# Relative tolerance for "at least as extreme": permuted statistics equal to the observed one up to rounding
# must count as ties, not as smaller.
_TIE = 1e-9


@dataclass(frozen=True)
class PValues:
    two_sided: float
    greater: float  # H1: statistic > 0
    less: float  # H1: statistic < 0


def _p(count: int, draws: int, exact: bool) -> float:
    return count / draws if exact else (count + 1) / (draws + 1)


def _tolerance(observed: np.ndarray, scale: float) -> np.ndarray:
    return _TIE * np.maximum(np.abs(observed), scale)


# ------------------------------------------------------------------------------------------------ sign flips

_SIGN_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # n -> (all sign vectors, their row sums)


def sign_vectors(n: int, draws: int, seed: int) -> tuple[np.ndarray, bool]:
    """(k x n) matrix of +-1 sign vectors and whether it is the complete set (k = 2^n, first row all +1)."""
    if n <= MAX_EXACT_PAIRS:
        if n not in _SIGN_CACHE:
            bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
            signs = (1 - 2 * bits).astype(float)
            _SIGN_CACHE[n] = (signs, signs.sum(axis=1))
        return _SIGN_CACHE[n][0], True
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(draws, n)), False


def sign_flip_test(
    differences: np.ndarray, shifts: Sequence[float] | np.ndarray = (0.0,), draws: int = 9999, seed: int = 0
) -> list[PValues]:
    """For each shift d0: the sign-flip test of H0 "the differences are symmetric about d0" with the mean as
    statistic (Fisher 1935; Good 2005, ch. 3). Exact (all 2^n sign vectors) for n <= MAX_EXACT_PAIRS, else
    `draws` random sign vectors. Valid for independent differences symmetric about d0, not necessarily
    identically distributed (e.g. two models with different loss scales)."""
    d = np.asarray(differences, dtype=float)
    n = d.size
    signs, exact = sign_vectors(n, draws, seed)
    flipped_sum = np.einsum("kn,n->k", signs, d)  # einsum, not BLAS: no thread contention on shared CPUs
    sign_sum = _SIGN_CACHE[n][1] if exact else signs.sum(axis=1)
    scale = float(np.abs(d).max()) if n else 0.0
    out = []
    for d0 in shifts:
        observed = float(d.sum() - d0 * n)
        permuted = flipped_sum - d0 * sign_sum
        tol = _tolerance(np.asarray(observed), scale)
        k = signs.shape[0]
        greater = _p(int(np.count_nonzero(permuted >= observed - tol)), k, exact)
        less = _p(int(np.count_nonzero(permuted <= observed + tol)), k, exact)
        two = _p(int(np.count_nonzero(np.abs(permuted) >= abs(observed) - tol)), k, exact)
        out.append(PValues(min(1.0, two), greater, less))
    return out


# ------------------------------------------------------------------------------------------------ Freedman-Lane


def stratified_permutations(strata: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws x n) row indices; each row permutes the rows within every stratum and leaves strata intact."""
    codes = np.asarray(strata)
    n = codes.size
    order = np.argsort(codes, kind="stable")  # slots grouped by stratum
    # Sorting random keys offset by the stratum code keeps every stratum's block in place, shuffled inside.
    keys = rng.random((draws, n)) + codes[order][None, :].astype(float) * 2.0
    shuffled = order[np.argsort(keys, axis=1)]
    out = np.empty((draws, n), dtype=np.int64)
    out[:, order] = shuffled
    return out


# The complete permutation set of a layout is the same whatever the seed, and the findings and the calibration
# suite ask for the same few layouts (the objectives of a balanced grid, per model) again and again.
_EXACT_CACHE: dict[tuple, np.ndarray] = {}  # layout -> all permutations (read-only)
_EXACT_CACHE_SIZE = 256


def _layout_key(strata: np.ndarray, blocks: np.ndarray) -> tuple | None:
    """A hashable key of integer stratum and block labels (None for other dtypes)."""
    if strata.dtype.kind not in "iub" or blocks.dtype.kind not in "iub":
        return None
    return (strata.dtype.str, strata.tobytes(), blocks.dtype.str, blocks.tobytes())


def block_permutations(
    strata: np.ndarray, blocks: np.ndarray, draws: int, seed: int, random_only: bool = False
) -> tuple[np.ndarray, bool]:
    """Permutations that move whole blocks: within each stratum the block labels are permuted, and row j of
    block b goes to row j of block pi(b). Rows are matched by their order of appearance inside a block, so the
    blocks of a stratum must hold the same number of rows in the same order of their other factors (the caller
    sorts and balances). All permutations when there are at most `draws` (exact, identity included), else
    `draws` random ones (always, with `random_only`). Returns (permutations x n row indices, exact)."""
    import itertools

    strata, blocks = np.asarray(strata), np.asarray(blocks)
    key = _layout_key(strata, blocks)
    if not random_only and key in _EXACT_CACHE and _EXACT_CACHE[key].shape[0] <= draws:
        return _EXACT_CACHE[key], True
    n = strata.size
    layout = []  # per stratum: (blocks x rows-per-block) matrix of row indices
    for stratum in np.unique(strata):
        rows = np.flatnonzero(strata == stratum)
        members = [rows[blocks[rows] == b] for b in np.unique(blocks[rows])]
        if len({m.size for m in members}) != 1:
            raise ValueError(f"stratum {stratum}: blocks of unequal size {[m.size for m in members]}")
        layout.append(np.vstack(members))
    total = math.prod(math.factorial(grid.shape[0]) for grid in layout)
    exact = total <= draws and not random_only
    rng = np.random.default_rng(seed)
    count = total if exact else draws
    if exact:
        per_stratum = [np.array(list(itertools.permutations(range(g.shape[0]))), dtype=np.int64) for g in layout]
        choice = np.stack(np.meshgrid(*[np.arange(p.shape[0]) for p in per_stratum], indexing="ij"), axis=-1).reshape(
            -1, len(layout)
        )
        orders = [p[choice[:, i]] for i, p in enumerate(per_stratum)]
    else:
        orders = [np.argsort(rng.random((draws, g.shape[0])), axis=1) for g in layout]
    out = np.tile(np.arange(n), (count, 1))
    for grid, order in zip(layout, orders):
        out[:, grid.ravel()] = grid[order].reshape(count, -1)
    if exact and key is not None:
        if len(_EXACT_CACHE) >= _EXACT_CACHE_SIZE:
            _EXACT_CACHE.clear()
        out.flags.writeable = False  # shared by every caller with this layout
        _EXACT_CACHE[key] = out
    return out, exact


class Nuisance:
    """Nuisance regressors of a fit: one indicator per stratum (fixed effects) plus a few dense columns.

    Kept in this form so that projections are group means and small dense steps, never an SVD or a product
    with an n x strata matrix: multithreaded BLAS on a shared, loaded CPU slowed those by 100x."""

    def __init__(self, strata: np.ndarray, extra: np.ndarray | None = None):
        _, self.codes = np.unique(np.asarray(strata), return_inverse=True)
        self.codes = self.codes.astype(np.int64)
        self.n = self.codes.size
        self.strata_count = int(self.codes.max()) + 1 if self.n else 0
        self.counts = np.bincount(self.codes, minlength=self.strata_count).astype(float)
        self._order = np.argsort(self.codes, kind="stable")
        self._starts = np.searchsorted(self.codes[self._order], np.arange(self.strata_count))
        extra = np.zeros((self.n, 0)) if extra is None else np.asarray(extra, dtype=float).reshape(self.n, -1)
        self.extra = extra
        self.extra_basis = self._orthonormal(self._demean(extra))
        self.rank = self.strata_count + self.extra_basis.shape[1]

    def _demean(self, values: np.ndarray) -> np.ndarray:
        if values.ndim == 1:
            means = np.bincount(self.codes, weights=values, minlength=self.strata_count) / self.counts
            return values - means[self.codes]
        return (
            np.column_stack([self._demean(values[:, j]) for j in range(values.shape[1])]) if values.shape[1] else values
        )

    @staticmethod
    def _orthonormal(matrix: np.ndarray) -> np.ndarray:
        """Orthonormal basis of the columns (modified Gram-Schmidt; drops columns that are linear combinations
        of earlier ones, e.g. a control level confounded with the strata)."""
        basis: list[np.ndarray] = []
        for j in range(matrix.shape[1]):
            v = matrix[:, j].copy()
            scale = float(np.sqrt(v @ v))
            for b in basis:
                v -= (b @ v) * b
            norm = float(np.sqrt(v @ v))
            if norm > 1e-10 * max(scale, 1e-300):
                basis.append(v / norm)
        return np.column_stack(basis) if basis else np.zeros((matrix.shape[0], 0))

    def residualise(self, values: np.ndarray) -> np.ndarray:
        """`values` (n,) or (n, k) minus their least-squares projection on the nuisance regressors."""
        out = self._demean(np.asarray(values, dtype=float))
        if self.extra_basis.shape[1]:
            out = out - self.extra_basis @ (self.extra_basis.T @ out)
        return out

    def residualise_rows(self, rows: np.ndarray) -> np.ndarray:
        """Each row of `rows` (draws x n) residualised."""
        sums = np.add.reduceat(rows[:, self._order], self._starts, axis=1)
        out = rows - (sums / self.counts)[:, self.codes]
        if self.extra_basis.shape[1]:
            out = out - np.einsum("bc,nc->bn", np.einsum("bn,nc->bc", out, self.extra_basis), self.extra_basis)
        return out

    def subset(self, rows: np.ndarray) -> Nuisance:
        """The same regressors on a subset of the rows (columns without support there drop out)."""
        return Nuisance(self.codes[rows], self.extra[rows])

    def with_columns(self, columns: np.ndarray) -> Nuisance:
        """These regressors plus `columns` (n,) or (n, c)."""
        return Nuisance(self.codes, np.column_stack([self.extra, np.asarray(columns, dtype=float).reshape(self.n, -1)]))


@dataclass(frozen=True)
class CoefficientTest:
    """One regression coefficient with nuisance regressors: OLS estimate, its classical SE and (1 - alpha) t-CI,
    and permutation p-values of its t statistic. `defined` is False (with `reason`) when x has no variation left
    after the nuisance regressors or there are no residual degrees of freedom."""

    n: int
    estimate: float | None = None
    se: float | None = None
    t: float | None = None
    df: int = 0
    p: PValues | None = None
    sxx: float | None = None  # sum of squares of x residualised on the nuisance regressors
    sigma2: float | None = None  # residual variance of the full model
    draws: int = 0
    reason: str | None = None

    @property
    def defined(self) -> bool:
        return self.estimate is not None and self.p is not None

    @property
    def p_two_sided(self) -> float | None:
        return None if self.p is None else self.p.two_sided

    @property
    def partial_r(self) -> float | None:
        if self.t is None or self.df < 1:
            return None
        return self.t / math.sqrt(self.t * self.t + self.df)

    def ci(self, alpha: float) -> tuple[float, float] | None:
        from fairforget.analysis.stats import t_quantile  # lazily: scipy.stats' import is not free

        if self.estimate is None or self.se is None or self.df < 1:
            return None
        half = t_quantile(1 - alpha / 2, self.df) * self.se
        return (self.estimate - half, self.estimate + half)


def freedman_lane(
    y: np.ndarray, x: np.ndarray, nuisance: Nuisance, permutations: np.ndarray, exact: bool = False
) -> CoefficientTest:
    """Test the coefficient of x in y ~ x + nuisance by Freedman & Lane (1983): permute the residuals of the
    reduced model y ~ nuisance (by the rows of `permutations`, which keep strata intact), add them back to its
    fitted values, refit the full model and compare t statistics (the pivotal choice; Anderson & Robinson 2001,
    Winkler et al. 2014). Exact when the nuisance is only stratum indicators; otherwise asymptotically exact.
    `exact`: the rows of `permutations` are the complete permutation set (identity included), so p = #/count
    instead of the Monte Carlo (1 + #)/(1 + draws).

    Vectorised: with x~ = x residualised on the nuisance and E* the permuted reduced residuals, the permuted
    slope is E*x~ / x~'x~ and the residual sum of squares ||M E*||^2 - (E*x~)^2 / x~'x~, no refit per draw.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    n = y.size
    df = n - nuisance.rank - 1
    if df < 1:
        return CoefficientTest(
            n=n,
            df=df,
            reason=f"{n} runs leave no residual degrees of freedom after {nuisance.rank} fixed-effect/control columns",
        )
    x_res = nuisance.residualise(x)
    sxx = float(x_res @ x_res)
    if sxx <= 1e-20 * max(1.0, float(x @ x)):
        return CoefficientTest(n=n, df=df, reason="the predictor does not vary within the fixed-effect strata")
    resid = nuisance.residualise(y)
    ss_resid = float(resid @ resid)

    def t_stats(xy: np.ndarray, ss_reduced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        beta = xy / sxx
        rss = np.maximum(ss_reduced - xy * xy / sxx, 1e-300)
        return beta, beta / np.sqrt(rss / df / sxx)

    xy_obs = float(x_res @ resid)
    beta_obs, t_obs = t_stats(np.asarray(xy_obs), np.asarray(ss_resid))
    permuted = resid[permutations]  # (draws, n)
    xy_perm = np.einsum("bn,n->b", permuted, x_res)
    reduced = nuisance.residualise_rows(permuted)
    _, t_perm = t_stats(xy_perm, np.einsum("bn,bn->b", reduced, reduced))
    draws = permutations.shape[0]
    tol = _tolerance(t_obs, 1.0)
    p = PValues(
        two_sided=_p(int(np.count_nonzero(np.abs(t_perm) >= abs(t_obs) - tol)), draws, exact),
        greater=_p(int(np.count_nonzero(t_perm >= t_obs - tol)), draws, exact),
        less=_p(int(np.count_nonzero(t_perm <= t_obs + tol)), draws, exact),
    )
    rss = max(ss_resid - xy_obs**2 / sxx, 0.0)
    return CoefficientTest(
        n=n,
        estimate=float(beta_obs),
        se=math.sqrt(rss / df / sxx),
        t=float(t_obs),
        df=df,
        p=p,
        sxx=sxx,
        sigma2=rss / df,
        draws=draws,
    )
