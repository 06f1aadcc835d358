"""Within-model regression: fixed effects for the strata of runs that share noise (one per model, size and seed:
the base checkpoint, data subsample and order they share), controls interacted with the model, permutation
tests that relabel whole objectives jointly in all models (the objectives, not the runs, are the replicates of an
across-objective association), and the same fit per model and pooled for comparison. Why these permutations and
not others (they held the level where run- or per-model permutations did not): docs/metrics.md, section 9.
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
class PowerContext:
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


def power_context(
    data: pl.DataFrame,
    nuisance: Nuisance,
    residuals: np.ndarray,
    fitted: int,
    perms: np.ndarray,
    exact: bool,
    models: np.ndarray,
    seed: int,
) -> PowerContext:
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
    return PowerContext(
        nuisance,
        perms,
        exact,
        noise,
        [np.flatnonzero(models == m) for m in np.unique(models)],
        float(np.sqrt(sigma_objective2)),
        float(np.sqrt(sigma_run2)),
    )


def complete_rows(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
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
    _context: PowerContext | None = None

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
    data, left_out = balanced_by_objective(complete_rows(frame, [x, y]))
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
        result._context = power_context(
            data, nuisance, nuisance.residualise(ys) - within.estimate * x_resid, 1, perms, exact, models, seed + 7
        )
    return result
