"""Within-model regression: fixed effects for the strata of runs that share noise, controls interacted with the
model, permutation tests that move whole objectives, and the same fit per model and pooled (for comparison).

Runs that share a base model, a data size and a seed share the base checkpoint, the debiasing data subsample
(fairforget.training.finetune.subset_texts draws it from size and seed) and the data order: one fixed effect per
(model, size, seed) stratum absorbs that shared noise. The associations F1 and F2 are about come from differences
between objectives, and an objective may move a metric for reasons of its own (e.g. dropout perturbs every
weight), in every model alike; so the permutations exchange whole objectives, jointly in all models (all runs of
objective o take the places of objective pi(o)'s runs with the same model, remedy, size and seed). The test then
never borrows information from differences between models or seeds, and its reference distribution includes
objective-level chance associations: the objectives, not the runs, are the replicates of an across-objective
association. (Permuting runs within strata, or objectives separately per model, let objective effects shared by
the models pass for evidence: 12% false verdicts at alpha = 0.05 in the calibration's objective-confound scenario.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fairforget.analysis.permutation import (
    CoefficientTest,
    Nuisance,
    block_permutations,
    freedman_lane,
    stratified_permutations,
)
from fairforget.analysis.power import NOISE_DRAWS, CoefficientTestSpec, RulePower, SignCondition, rule_power

# Strata of runs that share base checkpoint, data subsample and seed (see the module docstring).
SHARED_NOISE_STRATA = ("model", "size", "seed")
# What an objective's block of runs is matched on.
CELL = ("model", "remedy", "size", "seed")


def _codes(frame: pl.DataFrame, columns: Sequence[str]) -> np.ndarray:
    keys = ["\x1f".join(parts) for parts in zip(*(frame[c].cast(pl.Utf8).to_list() for c in columns))]
    return np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)[1].astype(np.int64)


def nuisance_for(frame: pl.DataFrame, strata: Sequence[str], controls: Sequence[str] = ()) -> Nuisance:
    """Stratum indicators (one per observed combination of `strata`, which must start with "model") plus, for
    every control factor, indicators of its non-reference levels within each model (the control's effect may
    differ between models, e.g. by their loss scale)."""
    if not strata or strata[0] != "model":
        raise ValueError("the strata of a within-model design must start with 'model'")
    columns = []
    models = frame["model"].cast(pl.Utf8).to_numpy()
    for control in controls:
        values = np.asarray(frame[control].cast(pl.Utf8).to_list())
        for model in np.unique(models):
            in_model = models == model
            for level in np.unique(values[in_model])[1:]:
                columns.append(((values == level) & in_model).astype(float))
    return Nuisance(_codes(frame, strata), np.column_stack(columns) if columns else None)


def balanced_by_objective(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The runs whose (model, remedy, size, seed) cell is present for every objective, sorted by objective and
    cell so that objective blocks line up for block permutations; and how many runs were left out."""
    objectives = frame["objective"].n_unique()
    cells = frame.group_by(list(CELL)).agg(pl.col("objective").n_unique().alias("_k"), pl.len().alias("_rows"))
    complete = cells.filter((pl.col("_k") == objectives) & (pl.col("_rows") == objectives))
    kept = frame.join(complete.select(list(CELL)), on=list(CELL), how="semi")
    return kept.sort(["objective", *CELL]), frame.height - kept.height


def objective_permutations(frame: pl.DataFrame, draws: int, seed: int) -> tuple[np.ndarray, bool]:
    """Block permutations of the objectives, jointly in every model (rows as from balanced_by_objective)."""
    return block_permutations(np.zeros(frame.height, dtype=np.int64), _codes(frame, ["objective"]), draws, seed)


@dataclass
class _PowerContext:
    """What the power of a within-model rule needs: the design, the test's permutations and a noise model."""

    nuisance: Nuisance
    permutations: np.ndarray
    exact: bool
    noise: np.ndarray  # (J, n) noise realisations
    model_rows: list[np.ndarray]
    sigma_objective: float
    sigma_run: float

    def power(
        self, tests: Sequence[CoefficientTestSpec], conditions: Sequence[SignCondition], alpha: float
    ) -> RulePower:
        return rule_power(tests, self.noise, self.permutations, self.exact, conditions, alpha)


def _power_context(
    data: pl.DataFrame,
    nuisance: Nuisance,
    residuals: np.ndarray,
    fitted: int,
    perms: np.ndarray,
    exact: bool,
    models: np.ndarray,
    seed: int,
) -> _PowerContext:
    """Noise for power: normal draws with two variance components estimated from the fit's residuals, one per
    objective (shared by all its runs, as the objective-level effects the test guards against) and one per run.
    ANOVA estimators: the objective means of the residuals keep k - 1 - `fitted` degrees of freedom (the fitted
    slopes take theirs), the runs the rest. Normal draws rather than permuted residuals, so that the noise's size
    varies between realisations as it does between studies."""
    codes = _codes(data, ["objective"])
    k = int(codes.max()) + 1
    counts = np.bincount(codes).astype(float)
    means = np.bincount(codes, weights=residuals) / counts
    df_objective = max(k - 1 - fitted, 0)
    df_run = max(data.height - nuisance.rank - fitted - df_objective, 1)
    within = residuals - means[codes]
    sigma_run2 = float(within @ within) / df_run
    between = float(counts @ means**2)
    sigma_objective2 = (
        max(0.0, (between / df_objective - sigma_run2) / float(counts.mean())) if df_objective > 0 else 0.0
    )
    rng = np.random.default_rng(seed)
    noise = np.sqrt(sigma_objective2) * rng.standard_normal((NOISE_DRAWS, k))[:, codes] + np.sqrt(
        sigma_run2
    ) * rng.standard_normal((NOISE_DRAWS, data.height))
    return _PowerContext(
        nuisance,
        perms,
        exact,
        noise,
        [np.flatnonzero(models == m) for m in np.unique(models)],
        float(np.sqrt(sigma_objective2)),
        float(np.sqrt(sigma_run2)),
    )


def _clean(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    return frame.filter(pl.all_horizontal([pl.col(c).is_not_null() & pl.col(c).is_finite() for c in columns]))


@dataclass
class Slope:
    """y on x: naive pooled fit, within-model fit and per-model fits, side by side."""

    x: str
    y: str
    strata: tuple[str, ...]
    controls: tuple[str, ...]
    pooled: CoefficientTest
    pooled_r: float | None
    within: CoefficientTest
    run_level: CoefficientTest | None = None  # the same fit, runs permuted within strata (objectives as fixed)
    per_model: dict[str, CoefficientTest] = field(default_factory=dict)
    strata_count: int = 0
    objectives: int = 0
    exact: bool = False
    left_out: int = 0  # runs of cells not observed for every objective
    models: tuple[str, ...] = ()
    _xs: np.ndarray | None = None
    _context: _PowerContext | None = None

    @property
    def noise_sd(self) -> tuple[float, float] | None:
        """Estimated noise standard deviations (objective level, run level) behind the power analysis."""
        return None if self._context is None else (self._context.sigma_objective, self._context.sigma_run)

    def power(self, claimed_sign: int, alpha: float) -> RulePower | None:
        """Power of "supports" (within-model test significant with the claimed sign, every model's slope of that
        sign) as a function of the true slope's size (power.py)."""
        ctx, xs = self._context, self._xs
        if ctx is None or xs is None:
            return None
        x_resid = ctx.nuisance.residualise(xs)
        test = CoefficientTestSpec(ctx.nuisance, xs, claimed_sign * xs, claimed_sign)
        noise = ctx.noise
        conditions = []
        for rows in ctx.model_rows:
            sxx = float(x_resid[rows] @ x_resid[rows])
            if sxx <= 0:
                return None
            conditions.append(SignCondition(1.0, claimed_sign * (noise[:, rows] @ x_resid[rows]) / sxx))
        return ctx.power([test], conditions, alpha)


def slope(
    frame: pl.DataFrame, x: str, y: str, strata: Sequence[str], controls: Sequence[str], draws: int, seed: int
) -> Slope:
    """Fit y ~ x with fixed effects for `strata` and model-specific `controls` on all runs and per model, tested
    by permuting objectives within model; the pooled row is plain OLS y ~ x over every run (ignoring the model),
    with an unstratified run-level permutation p (what a naive analysis would report)."""
    data, left_out = balanced_by_objective(_clean(frame, [x, y]))
    n = data.height
    xs, ys = data[x].to_numpy().astype(float), data[y].to_numpy().astype(float)
    rng = np.random.default_rng(seed)
    pooled = freedman_lane(ys, xs, Nuisance(np.zeros(n)), rng.permuted(np.tile(np.arange(n), (draws, 1)), axis=1))
    pooled_r = float(np.corrcoef(xs, ys)[0, 1]) if n >= 3 and np.std(xs) > 0 and np.std(ys) > 0 else None
    if n == 0:
        within = CoefficientTest(n=0, reason="no runs with both values")
        return Slope(x, y, tuple(strata), tuple(controls), pooled, pooled_r, within, left_out=left_out)
    nuisance = nuisance_for(data, strata, controls)
    perms, exact = objective_permutations(data, draws, seed + 1)
    within = freedman_lane(ys, xs, nuisance, perms, exact)
    run_level = freedman_lane(ys, xs, nuisance, stratified_permutations(nuisance.codes, draws, rng))
    models = data["model"].cast(pl.Utf8).to_numpy()
    result = Slope(
        x,
        y,
        tuple(strata),
        tuple(controls),
        pooled,
        pooled_r,
        within,
        run_level,
        strata_count=nuisance.strata_count,
        objectives=data["objective"].n_unique(),
        exact=exact,
        left_out=left_out,
        models=tuple(np.unique(models)),
    )
    x_resid = nuisance.residualise(xs)
    for i, model in enumerate(result.models):
        rows = np.flatnonzero(models == model)
        part = data[rows]
        model_perms, model_exact = objective_permutations(part, draws, seed + 2 + i)
        result.per_model[model] = freedman_lane(
            ys[rows], xs[rows], nuisance_for(part, strata, controls), model_perms, model_exact
        )
    if within.defined:
        result._xs = xs
        result._context = _power_context(
            data, nuisance, nuisance.residualise(ys) - within.estimate * x_resid, 1, perms, exact, models, seed + 7
        )
    return result


# ------------------------------------------------------------------------------------------------ two predictors


@dataclass
class UniqueContribution:
    """y on two predictors within model: each predictor's unique contribution (the share of the within-model
    variance of y it explains beyond the other) and the tests that compare them."""

    y: str
    predictors: tuple[str, str]
    n: int
    coefficients: tuple[CoefficientTest, CoefficientTest]  # each controlling for the other
    unique: tuple[float | None, float | None]  # delta R^2 within model
    unique_ci: tuple[tuple[float, float] | None, tuple[float, float] | None]
    within_r2: float | None
    # standardized contrasts b1* + b2* and b2* - b1* (b_j* = b_j * RMS(x~_j)), tested by Freedman-Lane
    sum_test: CoefficientTest | None = None
    difference_test: CoefficientTest | None = None
    scales: tuple[float, float] | None = None
    per_model: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # standardized b*
    per_model_unique: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    model_scales: list[tuple[float, float]] = field(default_factory=list)
    # per model: sd of overall forgetting / sd of downstream change (within model), to express a raw-unit slope
    # on the standardized scale the fit runs on
    model_slope_factors: list[float] = field(default_factory=list)
    controls: tuple[str, ...] = ()
    # correlation of the two predictors within model (after fixed effects and controls): pooled over the models
    # on their standardized scales, and per model; and the variance inflation of the two contrasts relative to
    # uncorrelated predictors (b1*-b2*: 1 / (1 - r12), b1*+b2*: 1 / (1 + r12))
    r12: float | None = None
    r12_per_model: dict[str, float | None] = field(default_factory=dict)
    objectives: int = 0
    exact: bool = False
    reason: str | None = None
    _xs: np.ndarray | None = None
    _slope_factor: np.ndarray | None = None
    _context: _PowerContext | None = None

    @property
    def defined(self) -> bool:
        return (
            self.sum_test is not None
            and self.sum_test.defined
            and self.difference_test is not None
            and self.difference_test.defined
        )

    def standardized(self) -> tuple[float, float] | None:
        first, second = (c.estimate for c in self.coefficients)
        if self.scales is None or first is None or second is None:
            return None
        return (first * self.scales[0], second * self.scales[1])

    @property
    def noise_sd(self) -> tuple[float, float] | None:
        """Estimated noise standard deviations (objective level, run level) behind the power analysis."""
        return None if self._context is None else (self._context.sigma_objective, self._context.sigma_run)

    @property
    def vif_difference(self) -> float | None:
        """Variance inflation of b1* - b2* from the predictors' correlation: 1 / (1 - r12)."""
        return None if self.r12 is None or self.r12 >= 1 else 1.0 / (1.0 - self.r12)

    @property
    def vif_sum(self) -> float | None:
        return None if self.r12 is None or self.r12 <= -1 else 1.0 / (1.0 + self.r12)

    def power(self, alpha: float) -> RulePower | None:
        """Power of "supports" when y falls with x1 (slope -effect) and x2 has no effect: both contrast tests
        significant in the claimed direction and every model's own standardized estimates in the claim's cone."""
        ctx, xs = self._context, self._xs
        if ctx is None or xs is None or self.scales is None or self._slope_factor is None:
            return None
        z = xs / np.array(self.scales)
        # y falls with overall forgetting by `effect` in raw units: on the standardized scales that is
        # effect x sd(x1) / sd(y) per model
        signal = -xs[:, 0] * self._slope_factor
        tests = [
            CoefficientTestSpec(ctx.nuisance.with_columns(z[:, 0] - z[:, 1]), z[:, 1], signal, -1),
            CoefficientTestSpec(ctx.nuisance.with_columns(z[:, 0] + z[:, 1]), z[:, 1], signal, +1),
        ]
        noise = ctx.noise
        conditions = []
        for rows, (m1, m2), factor in zip(ctx.model_rows, self.model_scales, self.model_slope_factors):
            sub = ctx.nuisance.subset(rows)
            mx = sub.residualise(xs[rows])
            gram = mx.T @ mx
            if np.linalg.matrix_rank(gram) < 2:
                return None
            # the model's standardized estimates under the alternative: effect * (-m1, 0) + D G^-1 X~' e_j
            offsets = (noise[:, rows] @ mx) @ np.linalg.inv(gram).T * np.array([m1, m2])
            for c in (np.array([-1.0, -1.0]), np.array([-1.0, 1.0])):  # -(b1* + b2*) > 0, -(b1* - b2*) > 0
                conditions.append(SignCondition(float(c @ np.array([-m1 * factor, 0.0])), offsets @ c))
        return ctx.power(tests, conditions, alpha)


def _unique_share(test: CoefficientTest, sst: float, alpha: float) -> tuple[float | None, tuple[float, float] | None]:
    """Delta R^2 = b^2 x'Mx / SST (x'Mx: x residualised on the fixed effects and the other predictor; SST: the
    within-model sum of squares of y). CI: the t-CI of b mapped through b -> b^2 x'Mx / SST with SST held fixed
    (approximate)."""
    if test.estimate is None or test.sxx is None or sst <= 0:
        return None, None
    value = test.estimate**2 * test.sxx / sst
    ci = test.ci(alpha)
    if ci is None:
        return value, None
    low = 0.0 if ci[0] <= 0 <= ci[1] else min(ci[0] ** 2, ci[1] ** 2) * test.sxx / sst
    return value, (low, max(ci[0] ** 2, ci[1] ** 2) * test.sxx / sst)


def _within_model_scales(values: np.ndarray, nuisance: Nuisance, model_rows: list[np.ndarray]) -> np.ndarray | None:
    """Per row, the root mean square of each column of `values` (n, c) within the row's model after the nuisance
    regressors; None when a column does not vary within some model."""
    residuals = nuisance.residualise(values)
    scales = np.empty_like(values)
    for rows in model_rows:
        rms = np.sqrt((residuals[rows] ** 2).mean(axis=0))
        if np.any(rms <= 1e-12 * np.maximum(1.0, np.abs(values[rows]).max(axis=0))):
            return None
        scales[rows] = rms
    return scales


def unique_contributions(
    frame: pl.DataFrame,
    y: str,
    x1: str,
    x2: str,
    strata: Sequence[str],
    draws: int,
    seed: int,
    alpha: float,
    controls: Sequence[str] = (),
) -> UniqueContribution:
    """Both predictors in one within-model fit, on within-model scales: the outcome and each predictor are divided
    by their root mean square within their model (after the fixed effects and controls), so each model weighs
    alike whatever its loss scale. Unique contribution of x_j = the drop in explained within-model variance when
    x_j is removed (semi-partial R^2; Darlington 1968). With two predictors, x1's exceeds x2's iff
    |b1| ||x~1|| > |b2| ||x~2|| (x~ residualised on the fixed effects and controls), i.e. iff the standardized
    coefficients b* = b RMS(x~) satisfy |b1*| > |b2*|; so "x1 dominates with a negative sign" is the cone
    b1* + b2* < 0 and b1* - b2* < 0, two linear contrasts, each tested by Freedman–Lane after reparametrising
    (b1* + b2* is the coefficient of z2 in y ~ (z1 - z2) + z2; b2* - b1* that of z2 in y ~ (z1 + z2) + z2;
    z_j = x_j / RMS(x~_j)). The scales are invariant under the objective relabellings (they move rows within a
    model), so the tests keep their level."""
    data, _ = balanced_by_objective(_clean(frame, [y, x1, x2]))
    n = data.height
    out = UniqueContribution(
        y=y,
        predictors=(x1, x2),
        n=n,
        coefficients=(CoefficientTest(n=n), CoefficientTest(n=n)),
        unique=(None, None),
        unique_ci=(None, None),
        within_r2=None,
        controls=tuple(controls),
    )
    if n < 4:
        out.reason = f"n={n} runs with all three values"
        return out
    out.objectives = data["objective"].n_unique()
    raw = np.column_stack([data[y].to_numpy(), data[x1].to_numpy(), data[x2].to_numpy()]).astype(float)
    nuisance = nuisance_for(data, strata, controls)
    models = data["model"].cast(pl.Utf8).to_numpy()
    model_names = [str(m) for m in np.unique(models)]
    model_rows = [np.flatnonzero(models == m) for m in model_names]
    scales_within = _within_model_scales(raw, nuisance, model_rows)
    if scales_within is None:
        out.reason = "the downstream change or a predictor does not vary within some model"
        return out
    standardized = raw / scales_within
    ys, xs = standardized[:, 0], standardized[:, 1:]
    perms, exact = objective_permutations(data, draws, seed)
    first = freedman_lane(ys, xs[:, 0], nuisance.with_columns(xs[:, 1]), perms, exact)
    second = freedman_lane(ys, xs[:, 1], nuisance.with_columns(xs[:, 0]), perms, exact)
    out.coefficients = (first, second)
    x_resid = nuisance.residualise(xs)
    y_resid = nuisance.residualise(ys)
    sst = float(y_resid @ y_resid)
    # root mean squares: b* = b x RMS(x~) is a standardized (beta) coefficient, in within-model sds of y
    scales = np.sqrt((x_resid**2).mean(axis=0))
    if not first.defined or not second.defined or np.any(scales <= 0):
        out.reason = first.reason or second.reason or "a predictor does not vary within the strata"
        return out
    (share_1, ci_1), (share_2, ci_2) = (_unique_share(c, sst, alpha) for c in (first, second))
    out.unique, out.unique_ci = (share_1, share_2), (ci_1, ci_2)
    if sst > 0 and first.sigma2 is not None:
        out.within_r2 = 1 - first.sigma2 * first.df / sst
    out.scales = (float(scales[0]), float(scales[1]))
    out.r12 = float(x_resid[:, 0] @ x_resid[:, 1] / (n * scales[0] * scales[1]))
    z = xs / scales
    out.sum_test = freedman_lane(ys, z[:, 1], nuisance.with_columns(z[:, 0] - z[:, 1]), perms, exact)
    out.difference_test = freedman_lane(ys, z[:, 1], nuisance.with_columns(z[:, 0] + z[:, 1]), perms, exact)
    out.exact = exact
    for model, rows in zip(model_names, model_rows):
        sub = nuisance.subset(rows)
        m_x = sub.residualise(xs[rows])
        m_y = sub.residualise(ys[rows])
        block = m_x.T @ m_x
        m_scales = np.sqrt(np.diag(block) / rows.size)
        out.model_scales.append((float(m_scales[0]), float(m_scales[1])))
        out.model_slope_factors.append(float(scales_within[rows[0], 1] / scales_within[rows[0], 0]))
        out.r12_per_model[model] = (
            float(block[0, 1] / (rows.size * m_scales[0] * m_scales[1])) if np.all(m_scales > 0) else None
        )
        m_sst = float(m_y @ m_y)
        if np.linalg.matrix_rank(block) < 2 or m_sst <= 0:
            out.per_model[model] = (None, None)
            out.per_model_unique[model] = (None, None)
            continue
        coef = np.linalg.solve(block, m_x.T @ m_y)
        inverse = np.linalg.inv(block)
        out.per_model[model] = (float(coef[0] * m_scales[0]), float(coef[1] * m_scales[1]))
        out.per_model_unique[model] = (
            float(coef[0] ** 2 / inverse[0, 0] / m_sst),
            float(coef[1] ** 2 / inverse[1, 1] / m_sst),
        )
    out._xs = xs
    out._slope_factor = scales_within[:, 1] / scales_within[:, 0]
    residuals = y_resid - x_resid @ np.array([first.estimate, second.estimate])
    out._context = _power_context(data, nuisance, residuals, 2, perms, exact, models, seed + 7)
    return out
