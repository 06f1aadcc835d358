"""Fusion paths: the table of fused checkpoints, the best fusion weight per objective, and fusion vs the remedies.

Definitions (docs/metrics.md, section 11). A *unit* is one fused run (model, objective, remedy, size, seed); its
*path* is its points at the configured weights alpha: alpha = 0 is the base model (overall forgetting 0, the
base model's bias, downstream change 0), alpha = 1 the run's own checkpoint (its row of the run table), the
weights in between the fused checkpoints (`fusion_table`). Bias reduction r(alpha) = d(base) - d(alpha), with
d = |bias - ideal| when the bias metric has a no-bias value (50 for a stereotype preference) and d = bias
otherwise, as in the frontier figure.

The best alpha of an objective is the weight with the largest mean bias reduction over its units among the
weights whose mean overall forgetting is at most `fusion.forgetting_share` times that of alpha = 1.

Decision rule (the fused-vs-remedy verdict). The p-values are sign-flip tests over units (Fisher 1935: valid
for independent differences symmetric about 0, not necessarily identically distributed, so models with different
loss scales may be mixed; the pairs are matched within model, size and seed, so a model's location cancels). The
best alpha is chosen on the same units it is then tested on; its tests are made valid for that selection by
Bonferroni over the K weights it could have chosen (K x p: the selected weight's null is one of K nulls, so
P(K p_selected <= a, its null true) <= sum over the true nulls of P(p <= a / K) <= a, whatever the selection rule).
The selection-adjusted p-values of every (objective, remedy, axis) test are then Holm-adjusted together (Holm
1979), so that the fusion section's verdicts hold the family-wise error rate `analysis.alpha`. A significant
difference counts for "dominates" only when every model's own mean difference agrees in sign (F1/F2's per-model
condition: no verdict one model's larger loss scale drives). Calibrated on simulated fusion tables with known
truth (tests/test_analysis_calibration.py, fairforget.analysis.simulate).

Approximations, stated: the intervals are per-comparison t intervals of a mean over units (normal
approximation, not adjusted for the selection or the family); the adjustment is conservative (Bonferroni over
all K weights, even those no selection would choose). "Dominates" needs one axis significantly better and the
other *not significantly* worse: the not-worse half is absence of evidence, not a test of equivalence. The best
alpha is chosen by means pooled over models, so a model with a larger loss scale weighs more in the choice.
Units are treated as independent across data sizes (the smaller sizes' texts are subsets of the larger ones).
With n units the exact sign-flip test cannot reach a two-sided p below 2^(1-n), and with random sign flips (n >
16) not below 1 / (permutations + 1): a study whose smallest reachable p exceeds the smallest Holm threshold
alpha / (K x tests) cannot detect any difference, which findings.md says together with the minimum detectable
difference of each comparison (80% power at that threshold, `sign_flip_mde`: a normal approximation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

from fairforget.analysis import columns as cols
from fairforget.analysis.permutation import MAX_EXACT_PAIRS, sign_flip_test
from fairforget.analysis.power import sign_flip_mde
from fairforget.analysis.results import classify
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.stats import holm
from fairforget.analysis.table import build_run_table
from fairforget.errors import DataError
from fairforget.fusion import FILTER_KEYS, FusionSettings

UNIT_KEYS = ["model", "objective", "remedy", "size", "seed"]
ALPHA = "alpha"


@dataclass(frozen=True)
class Columns:
    """The run-table columns the fusion analysis reads (chosen as the frontier figure chooses them)."""

    forgetting: str
    bias: str
    ideal: float | None
    downstream: str | None

    @classmethod
    def of(cls, frame: pl.DataFrame, settings: AnalysisSettings) -> Columns:
        forgetting = cols.overall_forgetting_column(frame, settings)
        bias = cols.bias_column(frame, settings)
        if forgetting is None or bias is None:
            raise DataError("fusion: the run table has no overall forgetting or no bias column")
        return cls(forgetting, bias, cols.bias_ideal(bias, settings), cols.downstream_change_column(frame))

    def distance(self, values: pl.Expr) -> pl.Expr:
        return values if self.ideal is None else (values - self.ideal).abs()


def _selected(frame: pl.DataFrame, fusion: FusionSettings) -> pl.DataFrame:
    """The rows of the runs the `fusion:` filter selects."""
    for key, column in zip(FILTER_KEYS, ("model", "objective", "remedy", "seed")):
        values = getattr(fusion, key)
        if values is not None:
            frame = frame.filter(pl.col(column).is_in(list(values)))
    return frame


def _alpha_of(root: Path) -> float:
    name = root.name
    if not name.startswith("alpha"):
        raise DataError(f"{root}: not a fused results folder (fusion/alpha<weight>)")
    return float(name[len("alpha") :])


def build_fusion_table(
    run_frame: pl.DataFrame,
    eval_paths: Sequence[str | Path],
    downstream_paths: Sequence[str | Path],
    meta_paths: Sequence[str | Path],
    settings: AnalysisSettings,
    fusion: FusionSettings,
) -> pl.DataFrame:
    """One row per fused run and configured weight: the identity, `alpha`, `checkpoint_hash`, and the overall
    forgetting, bias (+ `.base`) and downstream change columns of the run table."""
    c = Columns.of(run_frame, settings)
    keep = [*UNIT_KEYS, ALPHA, "checkpoint_hash", c.forgetting, c.bias, f"{c.bias}.base"]
    keep += [c.downstream] if c.downstream else []
    units = _selected(run_frame, fusion)
    if units.is_empty():
        raise DataError("fusion: the `fusion:` filter selects no run of the run table")
    parts = [
        units.with_columns(pl.lit(1.0).alias(ALPHA)),
        units.with_columns(
            pl.lit(0.0).alias(ALPHA),
            pl.col("base_hash").alias("checkpoint_hash"),
            pl.lit(0.0).alias(c.forgetting),
            pl.col(f"{c.bias}.base").alias(c.bias),
            *([pl.lit(0.0).alias(c.downstream)] if c.downstream else []),
        ),
    ]
    by_alpha: dict[float, tuple[list[Path], list[Path]]] = {}
    shared: tuple[list[Path], list[Path]] = ([], [])
    for index, group in enumerate((eval_paths, downstream_paths)):
        for path in map(Path, group):
            info = classify(path)
            if info is None:
                raise DataError(f"{path}: not a result file of the workflow")
            if info.kind in ("eval_base", "downstream_base"):
                shared[index].append(path)
            else:
                by_alpha.setdefault(_alpha_of(info.root), ([], []))[index].append(path)
    for alpha, (evals, downstream) in sorted(by_alpha.items()):
        table = build_run_table([*shared[0], *evals], [*shared[1], *downstream], (), meta_paths, settings)
        fused = table.frame.with_columns(pl.lit(alpha).alias(ALPHA))
        missing = [name for name in keep if name not in fused.columns]
        if missing:
            raise DataError(f"fusion results at alpha={alpha:g} lack column(s) {', '.join(missing)}")
        parts.append(fused)
    frame = pl.concat([part.select(keep) for part in parts], how="vertical_relaxed")
    return frame.sort([*UNIT_KEYS, ALPHA])


def read_fusion_table(path: str | Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    frame = pl.read_parquet(path)
    missing = [c for c in [*UNIT_KEYS, ALPHA] if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


# ------------------------------------------------------------------------------------------------ statistics


@dataclass
class MeanTest:
    """The mean of per-unit values with a (1 - alpha) t interval, the sign-flip p-value against 0 and, where the
    test was chosen by the data or belongs to a family, its `adjusted` p-value (the one decisions use)."""

    n: int
    mean: float | None = None
    ci: tuple[float, float] | None = None
    p: float | None = None
    sd: float | None = None
    adjusted: float | None = None
    per_model: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, values: np.ndarray, alpha: float, draws: int, seed: int, models: np.ndarray | None = None) -> MeanTest:
        """`models`: each value's model, for the per-model means that `agrees` checks."""
        values = np.asarray(values, dtype=float)
        finite = np.isfinite(values)
        values = values[finite]
        test = cls(n=int(values.size))
        if values.size == 0:
            return test
        test.mean = float(values.mean())
        if models is not None:
            kept = np.asarray(models)[finite]
            test.per_model = {str(m): float(values[kept == m].mean()) for m in np.unique(kept)}
        if values.size >= 2:
            test.sd = float(values.std(ddof=1))
            se = test.sd / math.sqrt(values.size)
            half = float(stats.t.ppf(1 - alpha / 2, values.size - 1)) * se
            test.ci = (test.mean - half, test.mean + half)
            test.p = sign_flip_test(values, (0.0,), draws, seed)[0].two_sided
        return test

    def significant(self, alpha: float) -> int:
        """+1 / -1 when the mean is significantly above / below 0 at level alpha (by the adjusted p-value where
        there is one), else 0."""
        p = self.p if self.adjusted is None else self.adjusted
        if p is None or self.mean is None or p >= alpha:
            return 0
        return 1 if self.mean > 0 else -1

    def agrees(self) -> bool:
        """Every model's own mean has the sign of the pooled mean (a difference one model drives is not claimed)."""
        if self.mean is None:
            return False
        return all(np.sign(v) == np.sign(self.mean) for v in self.per_model.values())


@dataclass
class ObjectivePath:
    """One objective's fusion paths, summarised: means per alpha and the best alpha with its tests."""

    objective: str
    units: int
    alphas: list[float]
    forgetting: dict[float, float]
    reduction: dict[float, float]
    downstream: dict[float, float | None]
    best: float | None = None
    reason: str = ""
    # the weights the selection could choose (K of the selection adjustment)
    candidates: int = 0
    best_reduction: MeanTest | None = None
    best_forgetting: MeanTest | None = None
    best_downstream: MeanTest | None = None
    # best alpha vs alpha = 1, per unit: forgetting undone and bias reduction given up
    forgetting_vs_unfused: MeanTest | None = None
    reduction_vs_unfused: MeanTest | None = None


@dataclass
class RemedyComparison:
    """The fused point at the best alpha vs another remedy's unfused checkpoint of the same model, objective,
    size and seed: paired differences (fused - remedy) and the frontier verdict."""

    objective: str
    remedy: str
    forgetting: MeanTest
    reduction: MeanTest
    candidates: int
    verdict: str = "inconclusive"
    reason: str = ""
    # minimum detectable mean differences (80% power at the smallest Holm threshold), per axis
    forgetting_mde: float | None = None
    reduction_mde: float | None = None


@dataclass
class FusionResult:
    columns: Columns
    share: float
    paths: list[ObjectivePath] = field(default_factory=list)
    comparisons: list[RemedyComparison] = field(default_factory=list)
    min_units_to_detect: int = 0
    # the smallest Holm threshold alpha / (K x tests) and whether the study's tests can reach it
    smallest_level: float = 0.0
    undetectable: str = ""
    # the largest absolute value per axis, for showing values that are 0 up to float error as 0
    scale: dict[str, float] = field(default_factory=dict)


def _with_reduction(frame: pl.DataFrame, c: Columns) -> pl.DataFrame:
    return frame.with_columns(
        (c.distance(pl.col(f"{c.bias}.base")) - c.distance(pl.col(c.bias))).alias("bias_reduction")
    )


def best_alpha(forgetting: dict[float, float], reduction: dict[float, float], share: float) -> tuple[float, str]:
    """The weight with the largest mean bias reduction among those whose mean overall forgetting is at most
    `share` x that of alpha = 1 (ties: the smaller weight, i.e. less of the debiased model); with no forgetting
    at alpha = 1 there is none to undo, and the best weight is 1."""
    unfused = forgetting[1.0]
    if unfused <= 0:
        return 1.0, f"the unfused checkpoints forgot nothing on average ({unfused:.4g}): nothing to undo"
    allowed = sorted(a for a in forgetting if forgetting[a] <= share * unfused)
    best = max(allowed, key=lambda a: (reduction[a], -a))
    return best, f"{len(allowed)} of {len(forgetting)} weights keep forgetting <= {share:g} x alpha=1's"


def frontier_verdict(forgetting: MeanTest, reduction: MeanTest, alpha: float) -> tuple[str, str]:
    """Frontier dominance as a decision: fusion (remedy) dominates when it is significantly better on one axis
    (less forgetting, or more bias reduction), with every model's own mean difference on that axis agreeing in
    sign, and not significantly worse on the other (any significant difference against it blocks, agreeing or
    not); each better on one, with agreeing models, is a trade-off; otherwise inconclusive. Significance is by the
    adjusted p-values where set."""
    if forgetting.p is None or reduction.p is None:
        return "inconclusive", f"{forgetting.n} matched pair(s): no test"
    # fusion is better when its forgetting is lower (difference < 0) or its bias reduction higher (> 0)
    tests = {"forgetting": (-1, forgetting), "bias reduction": (1, reduction)}
    better = {axis: sign * test.significant(alpha) for axis, (sign, test) in tests.items()}
    wins = [axis for axis, b in better.items() if b > 0 and tests[axis][1].agrees()]
    losses = [axis for axis, b in better.items() if b < 0 and tests[axis][1].agrees()]
    split = [axis for axis, b in better.items() if b != 0 and not tests[axis][1].agrees()]
    if wins and not any(b < 0 for b in better.values()):
        return "fusion dominates", f"fusion better on {_axes(wins)}"
    if losses and not any(b > 0 for b in better.values()):
        return "remedy dominates", f"the remedy better on {_axes(losses)}"
    if wins and losses:
        return "trade-off", f"fusion better on {wins[0]}, the remedy on {losses[0]}"
    if split:
        means = "; ".join(
            f"{axis}: " + ", ".join(f"{m} {v:.3g}" for m, v in tests[axis][1].per_model.items()) for axis in split
        )
        return "inconclusive", f"significant on {' and '.join(split)}, but the models disagree in sign ({means})"
    return "inconclusive", f"neither difference significant at alpha={alpha:g}"


def _axes(axes: list[str]) -> str:
    """What was shown: better on the significant axis; on the other only that no loss was detected (not shown
    equal: that would need an equivalence test)."""
    if len(axes) == 2:
        return "both axes"
    other = "bias reduction" if axes[0] == "forgetting" else "forgetting"
    return f"{axes[0]}, no loss detected on {other}"


def analyse_fusion(
    fusion_frame: pl.DataFrame, run_frame: pl.DataFrame, settings: AnalysisSettings, fusion: FusionSettings
) -> FusionResult:
    c = Columns.of(run_frame, settings)
    result = FusionResult(columns=c, share=fusion.forgetting_share)
    frame = _with_reduction(fusion_frame, c)
    runs = _with_reduction(run_frame, c)
    result.scale = _scales(frame, runs, c)
    draws, seed = settings.permutations, settings.seed
    for objective in sorted(frame["objective"].unique()):
        part = frame.filter(pl.col("objective") == objective)
        # units with a complete path only, so that every weight is averaged over the same units
        alphas = sorted(part[ALPHA].unique())
        complete = (
            part.drop_nulls([c.forgetting, "bias_reduction"])
            .group_by(UNIT_KEYS)
            .agg(pl.len().alias("points"))
            .filter(pl.col("points") == len(alphas))
        )
        part = part.join(complete.select(UNIT_KEYS), on=UNIT_KEYS, how="inner").sort([*UNIT_KEYS, ALPHA])
        path = ObjectivePath(
            objective=objective, units=complete.height, alphas=alphas, forgetting={}, reduction={}, downstream={}
        )
        result.paths.append(path)
        if complete.is_empty() or 1.0 not in alphas:
            path.reason = "no unit with a complete path (every weight, both metrics)"
            continue
        means = part.group_by(ALPHA).agg(
            pl.col(c.forgetting).mean(),
            pl.col("bias_reduction").mean(),
            *([pl.col(c.downstream).mean()] if c.downstream else []),
        )
        for row in means.iter_rows(named=True):
            a = row[ALPHA]
            path.forgetting[a], path.reduction[a] = row[c.forgetting], row["bias_reduction"]
            path.downstream[a] = row[c.downstream] if c.downstream else None
        path.best, path.reason = best_alpha(path.forgetting, path.reduction, fusion.forgetting_share)
        path.candidates = len(alphas)
        at_best = part.filter(pl.col(ALPHA) == path.best).sort(UNIT_KEYS)
        unfused = part.filter(pl.col(ALPHA) == 1.0).sort(UNIT_KEYS)
        path.best_reduction = MeanTest.of(at_best["bias_reduction"].to_numpy(), settings.alpha, draws, seed)
        path.best_forgetting = MeanTest.of(at_best[c.forgetting].to_numpy(), settings.alpha, draws, seed)
        if c.downstream:
            path.best_downstream = MeanTest.of(
                at_best[c.downstream].cast(pl.Float64).to_numpy(), settings.alpha, draws, seed
            )
        path.forgetting_vs_unfused = MeanTest.of(
            (at_best[c.forgetting] - unfused[c.forgetting]).to_numpy(), settings.alpha, draws, seed
        )
        path.reduction_vs_unfused = MeanTest.of(
            (at_best["bias_reduction"] - unfused["bias_reduction"]).to_numpy(), settings.alpha, draws, seed
        )
        for test in (path.best_reduction, path.best_forgetting, path.best_downstream):
            _adjust_for_selection(test, path.candidates)
        for test in (path.forgetting_vs_unfused, path.reduction_vs_unfused):
            _adjust_for_selection(test, path.candidates)
        result.comparisons += _compare_remedies(objective, at_best, runs, c, settings, path.candidates)
    _decide(result, settings)
    return result


def _scales(frame: pl.DataFrame, runs: pl.DataFrame, c: Columns) -> dict[str, float]:
    out = {}
    for axis in (c.forgetting, "bias_reduction", c.downstream):
        if axis is None:
            continue
        largest = [part[axis].cast(pl.Float64).abs().max() for part in (frame, runs) if axis in part.columns]
        out[axis] = max([float(v) for v in largest if isinstance(v, float)] or [0.0])
    return out


def _adjust_for_selection(test: MeanTest | None, candidates: int) -> None:
    """Bonferroni over the K weights the best alpha was chosen from: K x p is a valid p-value for the selected
    weight's null (module docstring)."""
    if test is not None and test.p is not None:
        test.adjusted = min(1.0, candidates * test.p)


def _decide(result: FusionResult, settings: AnalysisSettings) -> None:
    """Selection adjustment (K x p) of every fused-vs-remedy test, Holm over all of them, the verdicts, the
    minimum detectable differences, and what no test of this study could detect."""
    tests = [t for comp in result.comparisons for t in (comp.forgetting, comp.reduction) if t.p is not None]
    for comp in result.comparisons:
        _adjust_for_selection(comp.forgetting, comp.candidates)
        _adjust_for_selection(comp.reduction, comp.candidates)
    selection_adjusted = [t.adjusted if t.adjusted is not None else 1.0 for t in tests]
    for tested, adjusted in zip(tests, holm(selection_adjusted)):
        tested.adjusted = adjusted
    candidates = max([comp.candidates for comp in result.comparisons] or [1])
    level = settings.alpha / (candidates * max(1, len(tests)))
    result.smallest_level = level
    # exact sign flips: the smallest two-sided p with n units is 2 / 2^n, so n > log2(2 / level) is needed
    result.min_units_to_detect = int(math.floor(math.log2(2 / level))) + 1
    random_floor = 1 / (settings.permutations + 1)
    for comp in result.comparisons:
        comp.verdict, comp.reason = frontier_verdict(comp.forgetting, comp.reduction, settings.alpha)
        for axis in ("forgetting", "reduction"):
            axis_test: MeanTest = getattr(comp, axis)
            if axis_test.sd is not None:
                setattr(comp, f"{axis}_mde", sign_flip_mde(axis_test.sd, axis_test.n, level))
    smallest = min([comp.forgetting.n for comp in result.comparisons] or [0])
    if result.comparisons and smallest < result.min_units_to_detect:
        result.undetectable = (
            f"with {smallest} matched unit(s) the exact sign-flip test cannot reach p < {level:.3g} (smallest p = "
            f"2^(1−n)), the smallest Holm threshold ({settings.alpha:g} / ({candidates} weights × {len(tests)} "
            f"tests)); at least {result.min_units_to_detect} units (models × seeds × sizes per objective) are "
            "needed for any fused-vs-remedy test to reject."
        )
    elif any(comp.forgetting.n > MAX_EXACT_PAIRS for comp in result.comparisons) and random_floor >= level:
        result.undetectable = (
            f"with {settings.permutations} random sign flips the smallest p is {random_floor:.3g}, not below the "
            f"smallest Holm threshold {level:.3g}: raise `analysis.permutations` above {math.ceil(1 / level)}."
        )
    # the best-alpha rows: selection-adjusted only, threshold alpha / K
    chosen = [p for p in result.paths if p.best is not None and p.candidates]
    if chosen:
        k = max(p.candidates for p in chosen)
        needed = int(math.floor(math.log2(2 * k / settings.alpha))) + 1
        fewest = min(p.units for p in chosen)
        if fewest < needed:
            # "either" only after the fused-vs-remedy sentence (a study with one remedy has no comparison)
            either = " either" if result.undetectable else ""
            result.undetectable += (" " if result.undetectable else "") + (
                f"The best-α rows' tests (threshold {settings.alpha:g} / {k} weights) cannot reject with {fewest} "
                f"unit(s){either}: at least {needed} are needed."
            )


def _compare_remedies(
    objective: str,
    at_best: pl.DataFrame,
    runs: pl.DataFrame,
    c: Columns,
    settings: AnalysisSettings,
    candidates: int,
) -> list[RemedyComparison]:
    """The best fused point vs every remedy the fused units were not trained with, matched on model, size, seed."""
    match = ["model", "size", "seed"]
    fused = at_best.select([*match, pl.col(c.forgetting).alias("f_fused"), pl.col("bias_reduction").alias("r_fused")])
    fused_remedies = set(at_best["remedy"].unique())
    if len(fused_remedies) != 1:
        return []  # a match key would pair several fused points with one remedy run
    out = []
    others = runs.filter((pl.col("objective") == objective) & ~pl.col("remedy").is_in(list(fused_remedies)))
    for remedy in sorted(others["remedy"].unique()):
        rows = others.filter(pl.col("remedy") == remedy).select(
            [*match, pl.col(c.forgetting).alias("f_remedy"), pl.col("bias_reduction").alias("r_remedy")]
        )
        pairs = fused.join(rows, on=match, how="inner").drop_nulls()
        models = pairs["model"].cast(pl.Utf8).to_numpy()
        forgetting, reduction = (
            MeanTest.of(
                (pairs[f"{axis}_fused"] - pairs[f"{axis}_remedy"]).to_numpy(),
                settings.alpha,
                settings.permutations,
                settings.seed,
                models,
            )
            for axis in ("f", "r")
        )
        out.append(RemedyComparison(objective, remedy, forgetting, reduction, candidates))
    return out


# ------------------------------------------------------------------------------------------------ findings.md


# Values within this share of their axis's largest absolute value are 0 up to float error (sums and means of
# thousands of values lose at most a few thousand ulps), shown as 0.
ZERO_TOLERANCE = 1e-12


def snap_zero(value: float | None, scale: float) -> float | None:
    """`value`, or 0.0 when it is 0 up to float error relative to `scale` (for rendering only)."""
    if value is None or not math.isfinite(value):
        return value
    return 0.0 if abs(value) <= ZERO_TOLERANCE * scale else value


def _num(value: float | None, digits: int = 3, scale: float = 0.0) -> str:
    value = snap_zero(value, scale)
    return "–" if value is None else f"{value:.{digits}g}"


def _test(test: MeanTest | None, scale: float) -> str:
    if test is None or test.mean is None:
        return "–"
    ci = f" [{_num(test.ci[0], scale=scale)}, {_num(test.ci[1], scale=scale)}]" if test.ci else ""
    p = f", p={_num(test.p, 2)}" if test.p is not None else ""
    adjusted = f", adj. p={_num(test.adjusted, 2)}" if test.adjusted is not None else ""
    return f"{_num(test.mean, scale=scale)}{ci}{p}{adjusted}"


def _share(part: float | None, whole: float | None, scale: float) -> str:
    part, whole = snap_zero(part, scale), snap_zero(whole, scale)
    if part is None or whole is None or whole == 0:
        return "–"
    return f"{part / whole:.0%}"


def render_fusion(result: FusionResult, settings: AnalysisSettings) -> str:
    c = result.columns
    level = f"{1 - settings.alpha:.0%}"
    bias = c.bias if c.ideal is None else f"|{c.bias} − {c.ideal:g}|"
    sf, sr = result.scale.get(c.forgetting, 0.0), result.scale.get("bias_reduction", 0.0)
    sy = result.scale.get(c.downstream, 0.0) if c.downstream else 0.0
    lines = [
        "## Fusion: base and debiased weights interpolated (WiSE-FT)",
        "",
        "θ(α) = (1 − α)·θ_base + α·θ_debiased (Wortsman et al. 2022); α = 0 is the base model, α = 1 the debiased "
        "checkpoint (docs/metrics.md, section 11). Bias reduction = base − fused value of "
        f"{bias}; overall forgetting = `{c.forgetting}`"
        + (f"; downstream change = `{c.downstream}`" if c.downstream else "")
        + f". **Best α**: the largest mean bias reduction among the weights whose mean overall forgetting is at "
        f"most {result.share:g} × that of α = 1. Means over the fused runs (units) with {level} t intervals "
        "(per comparison, not adjusted) and sign-flip p-values over units. The best α is chosen on the same "
        "units it is tested on: every test at the best α carries an adjusted p-value (adj. p), Bonferroni over "
        "the weights it was chosen from (K × p), and the fused-vs-remedy tests are further Holm-adjusted together, "
        f"so the verdicts below hold a family-wise error rate of {settings.alpha:g} (calibrated on simulated "
        "fusion tables, docs/metrics.md section 11).",
        "",
        "Mean over units per α (overall forgetting / bias reduction"
        + (" / downstream change" if c.downstream else "")
        + "):",
        "",
        "| objective | units | "
        + " | ".join("α=" + _num(a, 3) for a in (result.paths[0].alphas if result.paths else []))
        + " |",
        "|---|---|" + "---|" * (len(result.paths[0].alphas) if result.paths else 0),
    ]
    for p in result.paths:
        cells = [
            " / ".join(
                [_num(p.forgetting.get(a), scale=sf), _num(p.reduction.get(a), scale=sr)]
                + ([_num(p.downstream.get(a), scale=sy)] if c.downstream else [])
            )
            for a in p.alphas
        ]
        lines.append(f"| {p.objective} | {p.units} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| objective | units | best α | bias reduction at best α | kept of α=1's | overall forgetting at best α | "
        "of α=1's | forgetting change vs α=1 | bias reduction change vs α=1 | downstream change at best α |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result.paths:
        if p.best is None:
            lines.append(f"| {p.objective} | {p.units} | – ({p.reason}) | | | | | | | |")
            continue
        lines.append(
            f"| {p.objective} | {p.units} | {_num(p.best)} ({p.reason}) | {_test(p.best_reduction, sr)} | "
            f"{_share(p.reduction.get(p.best), p.reduction.get(1.0), sr)} | {_test(p.best_forgetting, sf)} | "
            f"{_share(p.forgetting.get(p.best), p.forgetting.get(1.0), sf)} | {_test(p.forgetting_vs_unfused, sf)} | "
            f"{_test(p.reduction_vs_unfused, sr)} | {_test(p.best_downstream, sy)} |"
        )
    if result.comparisons:
        lines += [
            "",
            "Fusion at the best α vs the other remedies' unfused checkpoints (same model, size and seed; "
            "differences fused − remedy): on the bias–forgetting frontier, fusion **dominates** when it is "
            f"significantly better (adj. p < {settings.alpha:g}) on one axis, every model's own mean difference "
            "agreeing in sign, and not significantly worse on the other (absence of evidence, not equivalence). "
            "MDD: the smallest mean difference each test detects "
            f"with 80% power at the smallest Holm threshold ({result.smallest_level:.3g}).",
            "",
            "| objective | remedy | pairs | overall forgetting difference | MDD | bias reduction difference | MDD | "
            "verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for comp in result.comparisons:
            lines.append(
                f"| {comp.objective} | {comp.remedy} | {comp.forgetting.n} | {_test(comp.forgetting, sf)} | "
                f"{_num(comp.forgetting_mde)} | {_test(comp.reduction, sr)} | {_num(comp.reduction_mde)} | "
                f"**{comp.verdict}** ({comp.reason}) |"
            )
    else:
        lines += [
            "",
            "No comparison with the remedies: the study has no remedy besides the fused runs' one (or the fused "
            "runs have several).",
        ]
    if result.undetectable:
        lines += ["", f"Not detectable here: {result.undetectable}"]
    return "\n".join(lines) + "\n"
