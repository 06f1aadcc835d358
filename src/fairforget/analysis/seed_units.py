"""F3's units of replication, the seeds: each arm's estimate per (model, seed) (mean paired difference against
the baseline remedy, or the slope on log2 data size), the sign-flip test over the seeds with TOST per model,
and how many seeds would settle an open arm."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from fairforget.analysis.claims import ArmTest
from fairforget.analysis.permutation import MAX_EXACT_PAIRS, Nuisance, sign_flip_test
from fairforget.analysis.power import n_for_equivalence, sign_flip_mde
from fairforget.analysis.reach import MAX_UNITS, sign_flip_floor, units_to_reach
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.stats import t_quantile
from fairforget.analysis.table import N_DEBIAS_TEXTS
from fairforget.data.sizes import size_rank

GRID_FACTORS = ("model", "objective", "remedy", "size", "seed")
# Strata of the "more data" slope: everything but the size fixed, so only data size varies inside a stratum.
SIZE_STRATA = ("model", "objective", "remedy", "seed")


def paired_differences(
    frame: pl.DataFrame, metric: str, treated: str, baseline: str, factor: str = "remedy"
) -> pl.DataFrame:
    """Rows matched on every grid factor except `factor`: the match keys + `treated`, `baseline`, `difference`."""
    keys = [k for k in GRID_FACTORS if k != factor]
    treated_rows = frame.filter(pl.col(factor) == treated).select([*keys, pl.col(metric).alias("treated")])
    base_rows = frame.filter(pl.col(factor) == baseline).select([*keys, pl.col(metric).alias("baseline")])
    joined = treated_rows.join(base_rows, on=keys, how="inner")
    return joined.with_columns((pl.col("treated") - pl.col("baseline")).alias("difference")).drop_nulls("difference")


def size_order(sizes: Sequence[str]) -> list[str]:
    """Data sizes from smallest to largest (integers, then percentages of the corpus); `full` is the largest."""
    return sorted(set(sizes), key=size_rank)


def mean_of(values: pl.Series) -> float | None:
    """The mean of the non-null values; None when there are none."""
    present = values.drop_nulls().cast(pl.Float64).to_numpy()
    return float(present.mean()) if present.size else None


def _numeric_sizes(frame: pl.DataFrame) -> pl.Expr:
    """Each run's number of debiasing texts: the integer size, or for `full` the training summary's count."""
    sized = pl.col("size_n").cast(pl.Float64)
    if N_DEBIAS_TEXTS in frame.columns:
        sized = sized.fill_null(pl.col(N_DEBIAS_TEXTS).cast(pl.Float64))
    return sized


def _complete_size_groups(data: pl.DataFrame) -> pl.DataFrame:
    """Runs of the (model, objective, remedy, seed) groups observed at every data size of their seed."""
    table = data.lazy()
    per_seed = table.group_by("seed").agg(pl.col("_n").n_unique().alias("_sizes"))
    group = list(SIZE_STRATA)
    counts = table.group_by(group).agg(pl.col("_n").n_unique().alias("_k"), pl.len().alias("_rows"))
    complete = counts.join(per_seed, on="seed").filter(
        (pl.col("_k") == pl.col("_sizes")) & (pl.col("_rows") == pl.col("_sizes"))
    )
    return table.join(complete.select(group), on=group).sort(["seed", "_n", "model", "objective", "remedy"]).collect()


@dataclass
class UnitValues:
    """An arm's estimate in every (model, seed): rows = models, columns = seeds (the test's units)."""

    models: list[str]
    seeds: list[int]
    values: np.ndarray


def _unit_matrix(
    models: Sequence[str], seeds: Sequence[int], values: Sequence[float | None]
) -> tuple[UnitValues | None, list[str]]:
    """(model, seed, v) rows as a models x seeds matrix; rows without a finite v are dropped, and seeds not
    observed in every model are left out."""
    kept = [(m, s, float(v)) for m, s, v in zip(models, seeds, values) if v is not None and math.isfinite(v)]
    if not kept:
        return None, []
    model_names = sorted({m for m, _, _ in kept})
    lookup = {(m, s): v for m, s, v in kept}
    all_seeds = sorted({s for _, s, _ in kept})
    observed = [s for s in all_seeds if all((m, s) in lookup for m in model_names)]
    notes = (
        [f"{len(all_seeds) - len(observed)} seed(s) not observed in every model left out"]
        if len(observed) < len(all_seeds)
        else []
    )
    if not observed:
        return None, notes
    matrix = np.array([[lookup[(m, s)] for s in observed] for m in model_names], dtype=float)
    return UnitValues(model_names, observed, matrix), notes


def _level_codes(*columns: np.ndarray) -> np.ndarray:
    """0..k-1 codes of the rows' combinations of values (in no particular order)."""
    combined = np.zeros(columns[0].size, dtype=np.int64)
    for column in columns:
        codes = np.unique(column, return_inverse=True)[1].astype(np.int64)
        combined = combined * (int(codes.max()) + 1 if codes.size else 1) + codes
    return np.unique(combined, return_inverse=True)[1].astype(np.int64)


def _fixed_effects_slope(y_res: np.ndarray, x_res: np.ndarray, x: np.ndarray) -> float | None:
    """OLS slope of y on x with fixed effects, from both residualised on them (`Nuisance.residualise`); None when x
    does not vary within them."""
    sxx = float(x_res @ x_res)
    if sxx <= 1e-20 * max(1.0, float(x @ x)):
        return None
    return float(x_res @ y_res) / sxx


def size_slopes(frame: pl.DataFrame, metric: str) -> tuple[UnitValues | None, int, list[str]]:
    """ "More data" per (model, seed): the slope of the metric on log2(data size) with fixed effects per
    (objective, remedy), as the change over the grid's size range; the runs used and notes."""
    sized = (
        frame.lazy()
        .with_columns(_numeric_sizes(frame).alias("_n"))
        .filter(pl.col("_n").is_not_null() & pl.col(metric).is_not_null())
        .collect()
    )
    data = _complete_size_groups(sized)
    notes = []
    if frame.height > sized.height and frame["size_n"].null_count():
        notes.append(f"{frame.height - sized.height} run(s) without a numeric data size or value left out")
    if sized.height > data.height:
        notes.append(f"{sized.height - data.height} run(s) of groups not observed at every size left out")
    if data.height < 2 or data["_n"].n_unique() < 2:
        return None, data.height, notes + ["fewer than two numeric data sizes: no test"]
    texts = data["_n"].to_numpy().astype(float)
    span = float(np.log2(texts.max()) - np.log2(texts.min()))
    # One fixed effect per (objective, remedy) within each (model, seed), on the table's numpy columns: both sides
    # residualised on the (model, seed, objective, remedy) cells at once (a cell's mean sums its rows in row order,
    # as it would within its (model, seed) part alone), then one slope per (model, seed).
    grid = data.select(
        pl.col("model").cast(pl.Utf8), "seed", pl.col("objective").cast(pl.Utf8), pl.col("remedy").cast(pl.Utf8)
    )
    models, seeds = grid["model"].to_numpy(), grid["seed"].to_numpy()
    groups = _level_codes(models, seeds)
    fixed = Nuisance(_level_codes(groups, grid["objective"].to_numpy(), grid["remedy"].to_numpy()))
    ys, log_texts = data[metric].to_numpy().astype(float), np.log2(data["_n"].to_numpy())
    y_res, x_res = fixed.residualise(ys), fixed.residualise(log_texts)
    unit_models: list[str] = []
    unit_seeds: list[int] = []
    unit_values: list[float | None] = []
    for group in range(int(groups.max()) + 1):
        rows = np.flatnonzero(groups == group)
        per_doubling = _fixed_effects_slope(y_res[rows], x_res[rows], log_texts[rows])
        unit_models.append(str(models[rows[0]]))
        unit_seeds.append(seeds[rows[0]].item())
        unit_values.append(None if per_doubling is None else per_doubling * span)
    units, more = _unit_matrix(unit_models, unit_seeds, unit_values)
    notes += more + [f"{texts.min():.0f}–{texts.max():.0f} texts, {span:.3g} doublings"]
    return units, data.height, notes


def paired_units(pairs: pl.DataFrame) -> tuple[UnitValues | None, list[str]]:
    """Mean paired difference per (model, seed)."""
    per = pairs.group_by(["model", "seed"]).agg(pl.col("difference").mean().alias("v"))
    per = per.select(pl.col("model").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), "v")
    return _unit_matrix(per["model"].to_list(), per["seed"].to_list(), per["v"].to_list())


def unit_test(
    arm: str,
    metric: str,
    helpful: int,
    kind: str,
    n: int,
    units: UnitValues | None,
    margins: dict[str, float | None],
    s: AnalysisSettings,
    seed: int,
    notes: list[str],
) -> ArmTest:
    """Sign-flip test over the seeds of the per-seed estimate (mean over models), and TOST per model against
    that model's margin, each over the model's per-seed estimates."""
    test = ArmTest(arm=arm, metric=metric, helpful_sign=helpful, kind=kind, n=n)
    test.note = "; ".join(notes)
    if units is None:
        test.note = "; ".join([*notes, "no matched runs"] if not notes else notes)
        return test
    pooled = units.values.mean(axis=0)
    c = int(pooled.size)
    test.units, test.unit_values = c, [float(v) for v in pooled]
    test.estimate = float(pooled.mean())
    test.per_model = {m: float(v.mean()) for m, v in zip(units.models, units.values)}
    test.margins = {m: margins.get(m) for m in units.models}
    test.model_sd = {m: float(v.std(ddof=1)) if c >= 2 else None for m, v in zip(units.models, units.values)}
    if c >= 2:
        test.sd = float(pooled.std(ddof=1))
        half = t_quantile(1 - s.alpha / 2, c - 1) * test.sd / math.sqrt(c)
        test.ci = (test.estimate - half, test.estimate + half)
    test.exact = c <= MAX_EXACT_PAIRS
    test.p = sign_flip_test(pooled, (0.0,), s.permutations, seed)[0].two_sided
    per_tost: dict[str, float | None] = {}
    for model, values in zip(units.models, units.values):
        margin = test.margins[model]
        if margin is None:
            per_tost[model] = None
            continue
        lower, upper = sign_flip_test(values, (-margin, margin), s.permutations, seed)
        # TOST: H0 mean <= -margin rejected (greater) and H0 mean >= +margin rejected (less)
        per_tost[model] = max(lower.greater, upper.less)
    test.per_model_tost = per_tost
    test.p_tost = (
        None if any(v is None for v in per_tost.values()) else max(v for v in per_tost.values() if v is not None)
    )
    return test


def seeds_to_settle(test: ArmTest, level: float, s: AnalysisSettings) -> int | None:
    """Seeds at which an inconclusive arm would be settled at 80% power (the noise per seed held at this grid's):
    enough for the sign-flip test to detect the estimate at `level` (if it is helpful), or for every model's TOST
    to show equivalence; the smaller of the two. None when neither is in reach by adding seeds."""
    if test.estimate is None or test.sd is None or test.sd <= 0:
        return None
    options = []
    if test.helpful:
        for c in range(2, MAX_UNITS + 1):
            mde = sign_flip_mde(test.sd, c, level)
            if sign_flip_floor(c, s.permutations) < level and mde is not None and mde <= abs(test.estimate):
                options.append(c)
                break
    needed: list[int] = []
    for model, margin in test.margins.items():
        per_seed = test.model_sd.get(model)
        if margin is None or per_seed is None or per_seed <= 0:
            needed = []
            break
        multiple = n_for_equivalence(per_seed / math.sqrt(test.units), test.per_model[model], margin, s.alpha)
        if multiple is None:
            needed = []
            break
        needed.append(math.ceil(multiple * test.units))
    if needed and len(needed) == len(test.margins):
        floor_seeds = units_to_reach(s.alpha, sides=1, draws=s.permutations)
        if floor_seeds is not None:
            options.append(max(floor_seeds, *needed))
    return min(options) if options else None
