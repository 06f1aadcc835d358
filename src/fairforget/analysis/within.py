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


def _codes_of(columns: Sequence[Sequence[str]]) -> np.ndarray:
    """Integer codes of the rows' value combinations, numbered in the sorted order of their joined strings."""
    keys = ["\x1f".join(parts) for parts in zip(*columns)]
    return np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)[1].astype(np.int64)


@dataclass(frozen=True)
class Design:
    """Grid columns of a table as strings (as polars casts them), read in one query: the codes, fixed effects and
    objective permutations of a fit on the table, or on a subset of its rows (`rows`) without another query."""

    columns: dict[str, np.ndarray]  # column -> object array of str

    @classmethod
    def of(cls, frame: pl.DataFrame, names: Sequence[str]) -> Design:
        names = list(dict.fromkeys(names))
        cast = frame.select([pl.col(c).cast(pl.Utf8) for c in names])
        return cls({c: cast[c].to_numpy() for c in names})

    def rows(self, rows: np.ndarray) -> Design:
        return Design({c: values[rows] for c, values in self.columns.items()})

    def codes(self, columns: Sequence[str]) -> np.ndarray:
        return _codes_of([self.columns[c].tolist() for c in columns])

    def nuisance(self, strata: Sequence[str], controls: Sequence[str] = ()) -> Nuisance:
        """Stratum indicators (one per observed combination of `strata`, which must start with "model") plus, for
        every control factor, indicators of its non-reference levels within each model (the control's effect may
        differ between models, e.g. by their loss scale)."""
        if not strata or strata[0] != "model":
            raise ValueError("the strata of a within-model design must start with 'model'")
        columns = []
        models = self.columns["model"]
        for control in controls:
            values = np.asarray(self.columns[control].tolist())
            for model in np.unique(models):
                in_model = models == model
                for level in np.unique(values[in_model])[1:]:
                    columns.append(((values == level) & in_model).astype(float))
        return Nuisance(self.codes(strata), np.column_stack(columns) if columns else None)

    def objective_permutations(self, draws: int, seed: int) -> tuple[np.ndarray, bool]:
        """Block permutations of the objectives, jointly in every model (rows as from balanced_by_objective)."""
        codes = self.codes(["objective"])
        return block_permutations(np.zeros(codes.size, dtype=np.int64), codes, draws, seed)


def balanced_by_objective(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The runs whose (model, remedy, size, seed) cell is present for every objective, sorted by objective and
    cell so that objective blocks line up for block permutations; and how many runs were left out."""
    objectives = frame["objective"].n_unique()
    table = frame.lazy()
    cells = table.group_by(list(CELL)).agg(pl.col("objective").n_unique().alias("_k"), pl.len().alias("_rows"))
    complete = cells.filter((pl.col("_k") == objectives) & (pl.col("_rows") == objectives)).select(list(CELL))
    kept = table.join(complete, on=list(CELL), how="semi").sort(["objective", *CELL]).collect()
    return kept, frame.height - kept.height


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
    codes: np.ndarray,
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
    varies between realisations as it does between studies. `codes`: each run's objective (`Design.codes`)."""
    k = int(codes.max()) + 1
    counts = np.bincount(codes).astype(float)
    means = np.bincount(codes, weights=residuals) / counts
    df_objective = max(k - 1 - fitted, 0)
    df_run = max(codes.size - nuisance.rank - fitted - df_objective, 1)
    within = residuals - means[codes]
    sigma_run2 = float(within @ within) / df_run
    between = float(counts @ means**2)
    sigma_objective2 = (
        max(0.0, (between / df_objective - sigma_run2) / float(counts.mean())) if df_objective > 0 else 0.0
    )
    rng = np.random.default_rng(seed)
    noise = np.sqrt(sigma_objective2) * rng.standard_normal((NOISE_DRAWS, k))[:, codes] + np.sqrt(
        sigma_run2
    ) * rng.standard_normal((NOISE_DRAWS, codes.size))
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
    design = Design.of(data, ["model", "objective", *strata, *controls])
    nuisance = design.nuisance(strata, controls)
    perms, exact = design.objective_permutations(draws, seed + 1)
    within = freedman_lane(ys, xs, nuisance, perms, exact)
    run_level = freedman_lane(ys, xs, nuisance, stratified_permutations(nuisance.codes, draws, rng))
    models = design.columns["model"]
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
        part = design.rows(rows)
        model_perms, model_exact = part.objective_permutations(draws, seed + 2 + i)
        result.per_model[model] = freedman_lane(
            ys[rows], xs[rows], part.nuisance(strata, controls), model_perms, model_exact
        )
    if within.defined:
        result._xs = xs
        result._context = power_context(
            design.codes(["objective"]),
            nuisance,
            nuisance.residualise(ys) - within.estimate * x_resid,
            1,
            perms,
            exact,
            models,
            seed + 7,
        )
    return result
