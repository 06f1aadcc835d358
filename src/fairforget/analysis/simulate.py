"""Run tables with known truth, in memory, for calibrating the verdict rules
(tests/calibration/test_analysis_calibration.py).

A table has the grid columns of the tidy table (model, objective, remedy, size, size_n, seed) and three metric
columns named as the real ones. Per model m (location mu_m, scale k_m; the models differ in both, as BERT and
Llama loss scales do), every metric is mu_m + k_m * (standardized part), the standardized parts being

    selective  s = a_objective + h_s + e_s
    overall    f = b_fs * s + c_objective + size_effect * log2(size) + h_f + e_f
    downstream y = b_yf * f + b_ys * s + h_y + e_y

plus additive remedy effects (raw units, the same for every model) on overall and downstream, and for every
remedy after the first, random effects on both (standardized, times k_m, drawn per table): one per (remedy, model,
size, seed) stratum (`remedy_stratum_sd`), one per (remedy, seed) shared by all models and sizes of the seed
(`remedy_seed_sd`: what a seed draws for a remedy, replay texts or LoRA's initialisation, is shared across
them), and one per (remedy, objective) (`remedy_objective_sd`), centred over the grid's objectives so that
the remedy's mean effect over the grid is the planted one (F3's estimand takes the objectives as fixed).
`nested_size_noise`: data-subsample noise shared by every run of a seed, nested across sizes as prefixes of one
shuffle are: at size n it is the mean of the first n of one random sequence per (seed, metric), scaled to sd
`nested_size_noise` at the smallest size, so its variance scales with 1/n and the sizes of a seed are correlated
(Cov = Var at the larger size). a_objective is
spread evenly over the objectives; c_objective ~ N(0, objective_overall^2) per table (objective effects on overall
forgetting that do not act through selective forgetting); (h_s, h_f, h_y) is one shock per (model, size, seed)
shared by all runs there (the base checkpoint, data subsample and seed they share), correlated across the three
metrics (loadings 1, rho, -rho: a bad seed raises both forgettings and lowers downstream); e_* are run-level
N(0, noise^2). Within a model, b_fs, b_yf and b_ys are the true slopes (in raw units, since both sides carry k_m).

`simulate_fusion` draws a fusion table and its run table (the frames `fusion.verdict.analyse_fusion` reads) with
known fusion paths and remedy points (`FusionTruth`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

OVERALL = "overall_forgetting.mean_loss_change"
SELECTIVE = "selective_forgetting.stereo_minus_anti_loss_change"
DOWNSTREAM = "downstream.mean_change"


@dataclass(frozen=True)
class Grid:
    models: tuple[str, ...] = ("bert", "llama")
    objectives: int = 4
    remedies: tuple[str, ...] = ("none",)
    sizes: tuple[int, ...] = (1000,)
    seeds: int = 1

    @property
    def runs(self) -> int:
        return len(self.models) * self.objectives * len(self.remedies) * len(self.sizes) * self.seeds


@dataclass(frozen=True)
class Truth:
    # per model: location of (selective, overall, downstream) and a common scale
    model_location: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0), (1.0, 2.0, -1.5))
    model_scale: tuple[float, ...] = (1.0, 3.0)
    objective_spread: float = 1.0
    objective_overall: float = 0.5
    overall_on_selective: float = 0.0  # b_fs (F2)
    downstream_on_overall: float = 0.0  # b_yf (F1)
    downstream_on_selective: float = 0.0  # b_ys (F1 as stated)
    size_effect: float = 0.0  # on overall forgetting, per doubling of the data (standardized units)
    remedy_overall: tuple[float, ...] = ()  # per remedy after the first (raw units)
    remedy_downstream: tuple[float, ...] = ()
    seed_noise: float = 1.0
    seed_correlation: float = 0.8
    noise: float = 0.3
    remedy_stratum_sd: float = 0.0
    remedy_seed_sd: float = 0.0
    remedy_objective_sd: float = 0.0
    nested_size_noise: float = 0.0


def nested_subsample_noise(
    sizes: tuple[int, ...], draws: tuple[int, ...], sd: float, rng: np.random.Generator
) -> np.ndarray:
    """(*draws, len(sizes)) noise: per draw the mean of the first n values of one i.i.d. sequence at each size n
    (sizes as nested prefixes), scaled so that the smallest size has standard deviation `sd`."""
    order = np.argsort(sizes)
    ordered = np.asarray(sizes, dtype=float)[order]
    steps = np.diff(np.concatenate([[0.0], ordered]))  # new texts at each larger size
    sums = np.cumsum(rng.standard_normal((*draws, len(sizes))) * np.sqrt(steps), axis=-1)
    out = np.empty_like(sums)
    out[..., order] = sd * np.sqrt(ordered[0]) * sums / ordered
    return out


def simulate_runs(
    grid: Grid, truth: Truth, rng: np.random.Generator, fixed: tuple[int | None, int | None] = (None, None)
) -> pl.DataFrame:
    """One run table drawn from `truth` on `grid` (see the module docstring). `fixed`: seeds that hold the
    draws of selective forgetting (with the shared shocks) and of overall forgetting fixed across tables, so
    that only the outcome is redrawn (for power checks with a fixed design)."""
    cells = list(
        itertools.product(
            range(len(grid.models)),
            range(grid.objectives),
            range(len(grid.remedies)),
            range(len(grid.sizes)),
            range(grid.seeds),
        )
    )
    m, o, r, z, sd = (np.array(c) for c in zip(*cells))
    n = len(cells)
    rng_s, rng_f = (rng if seed is None else np.random.default_rng(seed) for seed in fixed)
    spread = truth.objective_spread * (np.linspace(-1, 1, grid.objectives) if grid.objectives > 1 else np.zeros(1))
    rho = truth.seed_correlation
    common = rng_s.standard_normal((len(grid.models), len(grid.sizes), grid.seeds))[m, z, sd]
    s_std = spread[o] + truth.seed_noise * common + truth.noise * rng_s.standard_normal(n)
    overall_offset = truth.objective_overall * rng_f.standard_normal(grid.objectives)
    own_f = rng_f.standard_normal((len(grid.models), len(grid.sizes), grid.seeds))[m, z, sd]
    h_f = truth.seed_noise * (rho * common + np.sqrt(1 - rho**2) * own_f)
    log_size = np.log2(np.asarray(grid.sizes, dtype=float))[z]
    f_std = (
        truth.overall_on_selective * s_std
        + overall_offset[o]
        + truth.size_effect * log_size
        + h_f
        + truth.noise * rng_f.standard_normal(n)
    )
    own_y = rng.standard_normal((len(grid.models), len(grid.sizes), grid.seeds))[m, z, sd]
    h_y = -truth.seed_noise * (rho * common + np.sqrt(1 - rho**2) * own_y)
    y_std = (
        truth.downstream_on_overall * f_std
        + truth.downstream_on_selective * s_std
        + h_y
        + truth.noise * rng.standard_normal(n)
    )
    location = np.asarray(truth.model_location, dtype=float)[m]
    scale = np.asarray(truth.model_scale, dtype=float)[m]
    remedy_f = np.concatenate([[0.0], np.asarray(truth.remedy_overall, dtype=float)])
    remedy_y = np.concatenate([[0.0], np.asarray(truth.remedy_downstream, dtype=float)])
    if remedy_f.size not in (1, len(grid.remedies)) or remedy_y.size not in (1, len(grid.remedies)):
        raise ValueError("remedy effects: one per remedy after the first, or none")
    # one effect per run (the first remedy has none)
    remedy_f = remedy_f[r] if remedy_f.size > 1 else np.zeros(r.size)
    remedy_y = remedy_y[r] if remedy_y.size > 1 else np.zeros(r.size)
    remedies, shape = len(grid.remedies), (len(grid.models), len(grid.sizes), grid.seeds)
    random_effects = np.zeros((2, n))
    if remedies > 1 and (truth.remedy_stratum_sd or truth.remedy_seed_sd or truth.remedy_objective_sd):
        stratum = truth.remedy_stratum_sd * rng.standard_normal((2, remedies, *shape))[:, r, m, z, sd]
        by_seed = truth.remedy_seed_sd * rng.standard_normal((2, remedies, grid.seeds))[:, r, sd]
        by_objective = truth.remedy_objective_sd * rng.standard_normal((2, remedies, grid.objectives))
        by_objective -= by_objective.mean(axis=2, keepdims=True)
        random_effects = (stratum + by_seed + by_objective[:, r, o]) * (r > 0)
    if truth.nested_size_noise:
        nested = nested_subsample_noise(grid.sizes, (2, grid.seeds), truth.nested_size_noise, rng)[:, sd, z]
        random_effects = random_effects + nested
    sizes = np.asarray(grid.sizes)[z]
    return pl.DataFrame(
        {
            "model": np.asarray(grid.models)[m],
            "objective": [f"objective{i}" for i in o],
            "remedy": np.asarray(grid.remedies)[r],
            "size": [str(v) for v in sizes],
            "size_n": sizes.astype(np.int64),
            "seed": sd.astype(np.int64),
            SELECTIVE: location[:, 0] + scale * s_std,
            OVERALL: location[:, 1] + scale * (f_std + random_effects[0]) + remedy_f,
            DOWNSTREAM: location[:, 2] + scale * (y_std + random_effects[1]) + remedy_y,
        }
    )


# ------------------------------------------------------------------------------------------------ fusion tables

BIAS = "planted.stereo_preference"  # a stereotype preference in percent: 50 = no preference
BIAS_IDEAL = 50.0


@dataclass(frozen=True)
class FusionTruth:
    """Known truth for the fusion analysis (fairforget.fusion.verdict). Expected values are in standardized units
    and multiplied by the model's `model_level` (models differ in how much they forget and unlearn, as BERT and
    Llama do); every noise term is multiplied by `model_scale` (their loss scales). Remedy effects are added in raw
    units (the same for every model), so that a planted difference fused - remedy has a known raw mean.

    A unit (model, objective, size, seed) of the fused remedy (the grid's first) has the path
        forgetting(alpha) = level * path_forgetting[alpha] + scale * alpha * (h_f + e_f) + scale * eval_noise * u_f
        reduction(alpha)  = level * path_reduction[alpha] + scale * alpha * (h_r + e_r) + scale * eval_noise * u_r
    at the interpolated weights (0 < alpha < 1; the deviations of the unfused run shrink with alpha), and at
    alpha = 1 its run's own values (no u terms); alpha = 0 is the base model (0 and 0 by definition). Another
    remedy's run has level * remedy_point + remedy_shift (+ remedy_forgetting_by_model) + scale * (h + e).
    (h_f, h_r) is one shock per (model, size, seed) shared by every run there, e_* run-level noise, u_* the fused
    checkpoint's own evaluation noise (independent per weight: what makes the choice of the best weight select
    noise). The bias column is 50 + base_distance[model] - reduction (kept far above 50, so |bias - 50| =
    base_distance - reduction)."""

    alphas: tuple[float, ...] = (0.0, 0.5, 1.0)
    path_forgetting: tuple[float, ...] = (0.0, 0.25, 1.0)  # per alpha; 0 and 1 at alpha = 0 and 1
    path_reduction: tuple[float, ...] = (0.0, 0.7, 1.0)
    # per remedy after the fused one: expected (forgetting, reduction) in standardized units x level
    remedy_point: tuple[tuple[float, float], ...] = ((0.25, 0.7),)
    # per remedy after the fused one: (forgetting, reduction) added in raw units
    remedy_shift: tuple[tuple[float, float], ...] = ()
    # per model: forgetting added to every other remedy's runs of that model, in raw units (effects that differ
    # between models)
    remedy_forgetting_by_model: tuple[float, ...] = ()
    model_level: tuple[float, ...] = (1.0, 4.0)
    model_scale: tuple[float, ...] = (1.0, 3.0)
    base_distance: tuple[float, ...] = (200.0, 400.0)
    seed_noise: float = 0.1
    noise: float = 0.1
    eval_noise: float = 0.05


def simulate_fusion(grid: Grid, truth: FusionTruth, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(fusion table, run table) drawn from `truth` on `grid`, shaped as `build_fusion_table` and the run table
    are (the columns `analyse_fusion` reads); the fused runs are those of `grid.remedies[0]`."""
    if len(truth.path_forgetting) != len(truth.alphas) or len(truth.path_reduction) != len(truth.alphas):
        raise ValueError("fusion truth: one path value per alpha")
    others = len(grid.remedies) - 1
    remedy_shift = truth.remedy_shift or ((0.0, 0.0),) * others
    if len(truth.remedy_point) != others or len(remedy_shift) != others:
        raise ValueError("fusion truth: one remedy point (and shift) per remedy after the fused one")
    end = truth.alphas.index(1.0)
    # the fused remedy's runs are alpha = 1's path values, unshifted
    points = [(truth.path_forgetting[end], truth.path_reduction[end]), *truth.remedy_point]
    shifts = [(0.0, 0.0), *remedy_shift]
    shape = (len(grid.models), len(grid.sizes), grid.seeds)
    shock = truth.seed_noise * rng.standard_normal((2, *shape))
    run_rows, fused_rows = [], []
    for m, o, z, sd in itertools.product(
        range(len(grid.models)), range(grid.objectives), range(len(grid.sizes)), range(grid.seeds)
    ):
        level, scale, distance = truth.model_level[m], truth.model_scale[m], truth.base_distance[m]
        ident = {
            "model": grid.models[m],
            "objective": f"objective{o}",
            "size": str(grid.sizes[z]),
            "size_n": int(grid.sizes[z]),
            "seed": sd,
            f"{BIAS}.base": BIAS_IDEAL + distance,
        }
        own = shock[:, m, z, sd]
        deviation = np.zeros(2)
        for r, remedy in enumerate(grid.remedies):
            run_dev = own + truth.noise * rng.standard_normal(2)
            deviation = run_dev if r == 0 else deviation
            by_model = truth.remedy_forgetting_by_model[m] if r > 0 and truth.remedy_forgetting_by_model else 0.0
            f = level * points[r][0] + shifts[r][0] + by_model + scale * run_dev[0]
            red = level * points[r][1] + shifts[r][1] + scale * run_dev[1]
            run_rows.append({**ident, "remedy": remedy, OVERALL: f, BIAS: BIAS_IDEAL + distance - red})
        for a, alpha in enumerate(truth.alphas):
            if alpha == 0.0:
                f = red = 0.0
            else:
                own_eval = np.zeros(2) if alpha == 1.0 else truth.eval_noise * rng.standard_normal(2)
                f, red = (
                    level * np.array([truth.path_forgetting[a], truth.path_reduction[a]])
                    + scale * (alpha * deviation + own_eval)
                ).tolist()
            fused_rows.append(
                {**ident, "remedy": grid.remedies[0], "alpha": alpha, OVERALL: f, BIAS: BIAS_IDEAL + distance - red}
            )
    runs = pl.DataFrame(run_rows).with_columns(pl.col("seed").cast(pl.Int64))
    fused = pl.DataFrame(fused_rows).with_columns(pl.col("seed").cast(pl.Int64))
    return fused, runs
