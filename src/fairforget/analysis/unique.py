"""Two predictors in one within-model fit: each one's unique contribution to the outcome (semi-partial R²) and the
Freedman–Lane tests of the two contrasts of their standardized coefficients that F1's rule decides on (the
fixed effects, permutations and power model of `within`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fairforget.analysis.permutation import CoefficientTest, Nuisance, freedman_lane
from fairforget.analysis.power import CoefficientTestSpec, RulePower, SignCondition
from fairforget.analysis.within import Design, PowerContext, balanced_by_objective, complete_rows, power_context


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
    # per run: sd of overall forgetting / sd of downstream change within its model, to express a raw-unit slope
    # on the standardized scale the fit runs on
    _slope_factor: np.ndarray | None = None
    _context: PowerContext | None = None

    @property
    def model_slope_factors(self) -> list[float]:
        """The slope factor of each model (constant within a model), in the order of the models' names."""
        if self._slope_factor is None or self._context is None:
            return []
        return [float(self._slope_factor[rows[0]]) for rows in self._context.model_rows]

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


def _per_model_fits(
    out: UniqueContribution,
    model_names: list[str],
    model_rows: list[np.ndarray],
    nuisance: Nuisance,
    xs: np.ndarray,
    ys: np.ndarray,
) -> None:
    """Each model's own fit on the pooled within-model scales: its standardized estimates, unique shares, the
    predictors' scales and their correlation (the per-model conditions of F1's rule)."""
    for model, rows in zip(model_names, model_rows):
        sub = nuisance.subset(rows)
        m_x = sub.residualise(xs[rows])
        m_y = sub.residualise(ys[rows])
        block = m_x.T @ m_x
        m_scales = np.sqrt(np.diag(block) / rows.size)
        out.model_scales.append((float(m_scales[0]), float(m_scales[1])))
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
    data, _ = balanced_by_objective(complete_rows(frame, [y, x1, x2]))
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
    design = Design.of(data, ["model", "objective", *strata, *controls])
    nuisance = design.nuisance(strata, controls)
    models = design.columns["model"]
    model_names = [str(m) for m in np.unique(models)]
    model_rows = [np.flatnonzero(models == m) for m in model_names]
    scales_within = _within_model_scales(raw, nuisance, model_rows)
    if scales_within is None:
        out.reason = "the downstream change or a predictor does not vary within some model"
        return out
    standardized = raw / scales_within
    ys, xs = standardized[:, 0], standardized[:, 1:]
    perms, exact = design.objective_permutations(draws, seed)
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
    _per_model_fits(out, model_names, model_rows, nuisance, xs, ys)
    out._xs = xs
    out._slope_factor = scales_within[:, 1] / scales_within[:, 0]
    residuals = y_resid - x_resid @ np.array([first.estimate, second.estimate])
    out._context = power_context(design.codes(["objective"]), nuisance, residuals, 2, perms, exact, models, seed + 7)
    return out
