"""The fusion analysis: per objective the mean path over its fused runs, the best weight alpha, and the best fused
point vs the other remedies as a frontier verdict (fusion / remedy dominates, trade-off, inconclusive).

Sign-flip tests over units; the best alpha's tests are Bonferroni-adjusted over the K weights it was chosen from,
then Holm-adjusted together with every fused-vs-remedy test, so the section holds the family-wise error rate
`analysis.alpha`. Why this is valid, what it approximates and its calibration: docs/metrics.md, section 11.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fairforget.analysis.permutation import MAX_EXACT_PAIRS, sign_flip_test
from fairforget.analysis.power import sign_flip_mde
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.stats import holm, t_quantile
from fairforget.fusion.settings import FusionSettings
from fairforget.fusion.table import ALPHA, UNIT_KEYS, Columns


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
            half = t_quantile(1 - alpha / 2, values.size - 1) * se
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
