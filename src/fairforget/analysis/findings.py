"""The paper's three claims tested on the tidy table; each verdict is a statistical decision with a stated error
rate (docs/metrics.md, section 9, has the rules, their sources and the calibration that checks them).

Sign convention: every forgetting statistic is read as "larger = more forgetting" (the producers' contract);
`downstream.mean_change` is tuned minus base, so negative = the debiased model got worse downstream.

- F1 (downstream is driven by overall forgetting rather than by selective forgetting): both forgetting measures
  predict the downstream change in one within-model fit; "supports" needs overall forgetting's unique
  contribution to exceed selective forgetting's, with a negative sign, shown at level alpha, and every model's
  own estimate agreeing. The plain association (downstream vs overall forgetting) is reported with its own verdict.
- F2 (selective forgetting increases overall forgetting): within-model slope of overall on selective forgetting,
  controlling for data size (in the strata) and remedy.
- F3 (remedies neither reduce overall forgetting nor help downstream): per remedy x metric paired tests against
  the baseline remedy, Holm-corrected; "more data" as the slope on log data size; "supports" needs equivalence
  (TOST) within the configured margins for every arm and metric.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats

from fairforget.analysis import columns as cols
from fairforget.analysis.permutation import (
    MAX_EXACT_PAIRS,
    CoefficientTest,
    block_permutations,
    freedman_lane,
    sign_flip_test,
)
from fairforget.analysis.power import n_for_equivalence, paired_mde, scale_to_detect
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.stats import holm
from fairforget.analysis.table import EXCLUDED_FROM_MEAN, N_DEBIAS_TEXTS
from fairforget.analysis.within import (
    SHARED_NOISE_STRATA,
    Slope,
    UniqueContribution,
    nuisance_for,
    slope,
    unique_contributions,
)
from fairforget.data.sizes import size_rank

log = logging.getLogger(__name__)

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
GRID_FACTORS = ("model", "objective", "remedy", "size", "seed")
MORE_DATA = "more data"
# Strata of the "more data" slope: everything but the size fixed, so only data size varies inside a stratum.
SIZE_STRATA = ("model", "objective", "remedy", "seed")
# Offsets of the permutation seeds per claim, so the claims' draws differ but reruns are identical.
_SEED_F1, _SEED_F2, _SEED_F3 = 1000, 2000, 3000


@dataclass
class Power:
    """Minimum detectable effect (MDE) at 80% power of the verdict rule, and how much more information (runs or
    pairs, as a multiple of this grid's) would detect an effect the size of the estimate."""

    mde: float | None = None
    scale_needed: float | None = None
    note: str = ""
    # estimated noise standard deviations (objective level, run level) that the MDE rests on
    noise_sd: tuple[float, float] | None = None


@dataclass
class SignTest:
    """A within-model slope with the claimed sign, its verdict and power."""

    slope: Slope
    claimed_sign: int
    verdict: str = INCONCLUSIVE
    reason: str = ""
    power: Power = field(default_factory=Power)


@dataclass
class ArmTest:
    """One F3 test: a remedy (paired differences vs the baseline remedy) or "more data" (slope on log2 data size,
    reported as the change over the grid's size range) on one metric."""

    arm: str
    metric: str
    helpful_sign: int  # -1: a helpful remedy lowers the metric, +1: raises it
    kind: str  # "paired" or "slope"
    n: int
    replicates: int = 0  # independent units behind `se`: pairs, or seeds for "more data"
    estimate: float | None = None
    se: float | None = None
    ci: tuple[float, float] | None = None
    p: float | None = None  # two-sided permutation / sign-flip p
    p_t: float | None = None  # two-sided t-test p (paired t, or classical t of the slope), for reference
    p_holm: float | None = None
    margin: float | None = None
    p_tost: float | None = None
    exact: bool = False
    per_model: dict[str, float] = field(default_factory=dict)
    mde: float | None = None
    scale_needed: float | None = None
    note: str = ""

    @property
    def helpful(self) -> bool:
        return self.estimate is not None and self.estimate * self.helpful_sign > 0


@dataclass
class Finding:
    key: str
    claim: str
    rule: str
    tests: str = ""
    verdict: str = INCONCLUSIVE
    reason: str = ""
    x: str | None = None
    y: str | None = None
    sign_test: SignTest | None = None  # F2; F1's plain association
    unique: UniqueContribution | None = None  # F1 as stated
    unique_power: Power = field(default_factory=Power)
    arms: list[ArmTest] = field(default_factory=list)
    margins: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ sign rules


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def sign_verdict(
    within: CoefficientTest, per_model: dict[str, CoefficientTest], claimed_sign: int, alpha: float
) -> tuple[str, str]:
    """supports: within-model estimate of the claimed sign with two-sided permutation p < alpha and every model's
    own estimate of that sign; contradicts: the same with the opposite sign; otherwise inconclusive."""
    estimate, p = within.estimate, within.p
    if estimate is None or p is None:
        return INCONCLUSIVE, f"within-model slope undefined: {within.reason}"
    sign = 1 if estimate > 0 else -1 if estimate < 0 else 0
    text = f"within-model slope {_fmt(estimate)} (p={_fmt(p.two_sided)})"
    if p.two_sided >= alpha or sign == 0:
        return INCONCLUSIVE, f"{text}: not significant at alpha={alpha}"
    disagree = [m for m, t in per_model.items() if t.estimate is None or np.sign(t.estimate) != sign]
    per = ", ".join(f"{m} {_fmt(t.estimate)}" for m, t in per_model.items())
    if disagree:
        return INCONCLUSIVE, (
            f"{text} but the model(s) {', '.join(disagree)} disagree in sign or are undefined ({per})"
        )
    verdict = SUPPORTS if sign == claimed_sign else CONTRADICTS
    side = "the claimed sign" if verdict == SUPPORTS else "the sign opposite to the claim"
    return verdict, f"{text} has {side}, and every model agrees ({per})"


NO_MDE = (
    "none: no effect reaches 80% power (with {k} objectives the permutation test cannot reach p < alpha, or "
    "a model has no variation of its own)"
)


def _sign_power(test: SignTest, alpha: float) -> Power:
    function = test.slope.power(test.claimed_sign, alpha)
    if function is None or test.slope.within.se is None:
        return Power(note="undefined (no within-model fit)")
    mde = function.minimum_detectable_effect(test.slope.within.se)
    if mde is None:
        return Power(note=NO_MDE.format(k=test.slope.objectives))
    power = Power(mde=mde, noise_sd=test.slope.noise_sd)
    estimate = test.slope.within.estimate
    if test.verdict == INCONCLUSIVE and estimate is not None:
        power.scale_needed = scale_to_detect(mde, estimate)
    return power


def _sign_test(
    frame: pl.DataFrame,
    x: str,
    y: str,
    controls: Sequence[str],
    sign: int,
    s: AnalysisSettings,
    seed: int,
    with_power: bool,
) -> SignTest:
    fit = slope(frame, x, y, SHARED_NOISE_STRATA, controls, s.permutations, seed)
    test = SignTest(slope=fit, claimed_sign=sign)
    test.verdict, test.reason = sign_verdict(fit.within, fit.per_model, sign, s.alpha)
    if with_power:
        test.power = _sign_power(test, s.alpha)
    return test


def _t_and_p(test: CoefficientTest | None) -> tuple[float, float] | None:
    """A defined test's t statistic and two-sided p; None when the test is missing or undefined."""
    if test is None or test.t is None or test.p is None:
        return None
    return test.t, test.p.two_sided


def comparative_verdict(unique: UniqueContribution, alpha: float) -> tuple[str, str]:
    """F1 as stated. Claim C: overall forgetting's unique contribution exceeds selective forgetting's and its
    coefficient is negative, i.e. b1* < -|b2*| (standardized within-model coefficients), the intersection of
    b1* + b2* < 0 and b1* - b2* < 0.
    supports: both contrasts shown negative (two-sided p < alpha each; intersection-union test, level alpha/2)
    and every model's own standardized estimates lie in C.
    contradicts: either contrast shown positive (two-sided p < alpha/2 each, Bonferroni over the two; level
    alpha/2) and every model's own estimates lie outside C."""
    total, diff = _t_and_p(unique.sum_test), _t_and_p(unique.difference_test)  # diff tests b2* - b1*
    b = unique.standardized()
    if total is None or diff is None or b is None:
        return INCONCLUSIVE, f"the two-predictor within-model fit is undefined: {unique.reason}"
    sum_value, gap_value = b[0] + b[1], b[0] - b[1]
    in_claim = {
        m: (v[0] is not None and v[1] is not None and v[0] + v[1] < 0 and v[0] - v[1] < 0)
        for m, v in unique.per_model.items()
    }
    text = (
        f"standardized coefficients overall {_fmt(b[0])}, selective {_fmt(b[1])}; b1*+b2* = {_fmt(sum_value)} "
        f"(p={_fmt(total[1])}), b1*-b2* = {_fmt(gap_value)} (p={_fmt(diff[1])})"
    )
    supports_within = (total[0] < 0 and total[1] < alpha) and (diff[0] > 0 and diff[1] < alpha)
    contradicts_within = (total[0] > 0 and total[1] < alpha / 2) or (diff[0] < 0 and diff[1] < alpha / 2)
    if supports_within:
        if all(in_claim.values()):
            return SUPPORTS, f"{text}: overall forgetting's unique contribution exceeds selective's in every model"
        return INCONCLUSIVE, (
            f"{text}: shown within model, but not in model(s) {', '.join(m for m, ok in in_claim.items() if not ok)}"
        )
    if contradicts_within:
        if not any(in_claim.values()):
            return CONTRADICTS, (
                f"{text}: overall forgetting does not dominate with a negative sign, and no model's "
                "own estimate says it does"
            )
        return INCONCLUSIVE, (
            f"{text}: the claim is rejected within model, but model(s) "
            f"{', '.join(m for m, ok in in_claim.items() if ok)} agree with it"
        )
    return INCONCLUSIVE, f"{text}: neither shown at alpha={alpha}"


def _unique_power(unique: UniqueContribution, verdict: str, alpha: float, objectives: int) -> Power:
    """MDE: the slope of downstream on overall forgetting (selective without effect) that "supports" detects."""
    function = unique.power(alpha)
    if function is None or unique.coefficients[0].se is None:
        return Power(note="undefined (no two-predictor fit)")
    mde = function.minimum_detectable_effect(unique.coefficients[0].se)
    if mde is None:
        return Power(note=NO_MDE.format(k=objectives))
    power = Power(
        mde=mde,
        note="slope of downstream change on overall forgetting when selective forgetting has no effect",
        noise_sd=unique.noise_sd,
    )
    estimate = unique.coefficients[0].estimate
    if verdict == INCONCLUSIVE and estimate is not None and estimate < 0:
        power.scale_needed = scale_to_detect(mde, estimate)
    return power


# ------------------------------------------------------------------------------------------------ F1, F2


def wnli_summary(frame: pl.DataFrame) -> list[str]:
    """WNLI on its own (it is left out of downstream.mean_change): mean change per model per metric."""
    lines = []
    for task in EXCLUDED_FROM_MEAN:
        for column in sorted(c for c in frame.columns if c.startswith(f"downstream.{task}.") and c.endswith(".change")):
            per_model = (
                frame.filter(pl.col(column).is_not_null())
                .group_by("model")
                .agg(pl.col(column).mean().alias("mean"), pl.len().alias("n"))
                .sort("model")
            )
            if per_model.height:
                lines.append(
                    f"`{column}` (left out of the downstream mean, as in the GLUE baselines): mean "
                    + "; ".join(f"{r['model']} {r['mean']:+.3g} (n={r['n']})" for r in per_model.iter_rows(named=True))
                )
    return lines


def finding_downstream(frame: pl.DataFrame, s: AnalysisSettings, with_power: bool = True) -> Finding:
    finding = Finding(
        key="F1",
        claim="Downstream performance is driven by overall forgetting rather than by selective forgetting "
        "of stereotypes: with both in one within-model analysis, overall forgetting explains more of the downstream "
        "change than selective forgetting does, and more overall forgetting means a larger downstream loss.",
        rule="supports if, within model, overall forgetting's unique contribution exceeds selective forgetting's "
        "with a negative coefficient (both contrasts b1*+b2* < 0 and b1*-b2* < 0 of the standardized coefficients "
        "significant, two-sided p < alpha each) and every model's own estimates agree; contradicts if either "
        "contrast is significant the other way (p < alpha/2 each) and no model's estimates lie in the claim; "
        "otherwise inconclusive. The plain association (downstream change vs overall forgetting alone) gets its own "
        "within-model verdict, reported below.",
        tests="fixed effects per (model, size, seed) stratum; Freedman–Lane permutation tests of the two contrasts "
        "that relabel whole objectives, jointly in all models (the objectives are the replicates of an across-"
        "objective association); unique contributions as semi-partial R² within model.",
    )
    x = cols.overall_forgetting_column(frame, s)
    y = cols.downstream_change_column(frame)
    selective = cols.selective_forgetting_column(frame, s)
    finding.x, finding.y = x, y
    finding.notes += wnli_summary(frame)
    if x is None or y is None:
        finding.reason = "the table has no overall forgetting or no downstream change column"
        return finding
    finding.sign_test = _sign_test(frame, x, y, (), -1, s, s.seed + _SEED_F1, with_power)
    if selective is None:
        finding.reason = (
            "the claim compares overall with selective forgetting, and the table has no selective "
            f"forgetting column; the plain association alone says: {finding.sign_test.verdict}"
        )
        return finding
    finding.unique = unique_contributions(
        frame, y, x, selective, SHARED_NOISE_STRATA, s.permutations, s.seed + _SEED_F1 + 1, s.alpha
    )
    finding.verdict, finding.reason = comparative_verdict(finding.unique, s.alpha)
    if with_power:
        finding.unique_power = _unique_power(
            finding.unique, finding.verdict, s.alpha, finding.sign_test.slope.objectives
        )
    return finding


def finding_selective(frame: pl.DataFrame, s: AnalysisSettings, with_power: bool = True) -> Finding:
    finding = Finding(
        key="F2",
        claim="Selective forgetting of stereotypes increases overall forgetting (positive within-model "
        "association across objectives, data size and remedy held fixed).",
        rule="supports if the within-model slope of overall on selective forgetting (fixed effects for model x "
        "size x seed, remedy controlled within each model) is positive with two-sided permutation p < alpha and "
        "every model's own slope is positive; contradicts if the same holds with a negative sign; otherwise "
        "inconclusive.",
        tests="fixed effects per (model, size, seed) stratum and remedy indicators within each model; Freedman–Lane "
        "permutation test that relabels whole objectives, jointly in all models.",
    )
    x = cols.selective_forgetting_column(frame, s)
    y = cols.overall_forgetting_column(frame, s)
    finding.x, finding.y = x, y
    if x is None or y is None:
        finding.reason = "the table has no selective or no overall forgetting column"
        return finding
    # Objective is not controlled for: objectives are what moves selective forgetting, the variation F2 is about.
    finding.sign_test = _sign_test(frame, x, y, ("remedy",), +1, s, s.seed + _SEED_F2, with_power)
    finding.verdict, finding.reason = finding.sign_test.verdict, finding.sign_test.reason
    return finding


# ------------------------------------------------------------------------------------------------ F3


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


def _scale_for_settling(test: ArmTest, alpha_detect: float, alpha: float) -> float | None:
    """Multiple of the current pairs/runs that would settle an inconclusive test at 80% power: enough to detect
    the estimate (if it is helpful) at the Bonferroni level, or to show equivalence (if inside the margin);
    the smaller of the two (normal approximation)."""
    if test.estimate is None or test.se is None or test.se <= 0:
        return None
    options = []
    z_power = stats.norm.ppf(0.8)
    if test.helpful:
        options.append(((stats.norm.ppf(1 - alpha_detect / 2) + z_power) * test.se / abs(test.estimate)) ** 2)
    if test.margin is not None:
        needed = n_for_equivalence(test.se, test.estimate, test.margin, alpha)  # a multiple already
        if needed is not None:
            options.append(needed)
    return min(options) if options else None


def _paired_test(
    d: np.ndarray,
    models: np.ndarray,
    arm: str,
    metric: str,
    helpful: int,
    margin: float | None,
    s: AnalysisSettings,
    seed: int,
) -> ArmTest:
    """Sign-flip test (two-sided) and TOST of the mean paired difference `d` (per-model means for the report)."""
    test = ArmTest(arm=arm, metric=metric, helpful_sign=helpful, kind="paired", n=int(d.size), margin=margin)
    if d.size < 2:
        test.note = f"{d.size} matched pair(s): no test"
        return test
    test.estimate = float(d.mean())
    test.replicates = int(d.size)
    test.per_model = {str(m): float(d[models == m].mean()) for m in np.unique(models)}
    sd = float(d.std(ddof=1))
    test.se = sd / math.sqrt(d.size)
    half = float(stats.t.ppf(1 - s.alpha / 2, d.size - 1)) * test.se
    test.ci = (test.estimate - half, test.estimate + half)
    shifts = [0.0] + ([-margin, margin] if margin is not None else [])
    results = sign_flip_test(d, shifts, s.permutations, seed)
    test.exact = d.size <= MAX_EXACT_PAIRS
    test.p = results[0].two_sided
    test.p_t = (
        float(2 * stats.t.sf(abs(test.estimate) / test.se, d.size - 1))
        if sd > 0
        else (1.0 if test.estimate == 0 else 0.0)
    )
    if margin is not None:
        # TOST: H0 mean <= -margin rejected (greater than -margin) and H0 mean >= margin rejected (less than margin)
        test.p_tost = max(results[1].greater, results[2].less)
    return test


def _mean(values: pl.Series) -> float | None:
    """The mean of the non-null values; None when there are none."""
    present = values.drop_nulls().cast(pl.Float64).to_numpy()
    return float(present.mean()) if present.size else None


def _numeric_sizes(frame: pl.DataFrame) -> pl.Series:
    """Each run's number of debiasing texts: the integer size, or for `full` the training summary's count."""
    sized = pl.col("size_n").cast(pl.Float64)
    if N_DEBIAS_TEXTS in frame.columns:
        sized = sized.fill_null(pl.col(N_DEBIAS_TEXTS).cast(pl.Float64))
    return frame.select(sized.alias("n"))["n"]


def _complete_size_groups(data: pl.DataFrame) -> pl.DataFrame:
    """Runs of the (model, objective, remedy, seed) groups observed at every data size of their seed, sorted so
    that blocks (one per size and seed) list the same groups in the same order."""
    per_seed = data.group_by("seed").agg(pl.col("_n").n_unique().alias("_sizes"))
    group = ["model", "objective", "remedy", "seed"]
    counts = data.group_by(group).agg(pl.col("_n").n_unique().alias("_k"), pl.len().alias("_rows"))
    complete = counts.join(per_seed, on="seed").filter(
        (pl.col("_k") == pl.col("_sizes")) & (pl.col("_rows") == pl.col("_sizes"))
    )
    return data.join(complete.select(group), on=group).sort(["seed", "_n", "model", "objective", "remedy"])


def _slope_test(
    frame: pl.DataFrame, metric: str, helpful: int, margin: float | None, s: AnalysisSettings, seed: int
) -> ArmTest:
    """ "More data": slope of the metric on log2(data size) with fixed effects per (model, objective, remedy,
    seed), reported as the change over the grid's size range. Runs at one (size, seed) share the data subsample
    whatever their model, objective or remedy, so the permutation moves whole (size, seed) blocks: within each
    seed the size labels are permuted for all runs at once (exact when there are at most `permutations` such
    relabellings). The seeds are the replicates of a data-size effect."""
    sized = frame.with_columns(_numeric_sizes(frame).alias("_n")).filter(
        pl.col("_n").is_not_null() & pl.col(metric).is_not_null()
    )
    data = _complete_size_groups(sized)
    test = ArmTest(arm=MORE_DATA, metric=metric, helpful_sign=helpful, kind="slope", n=data.height, margin=margin)
    notes = []
    if frame.height > sized.height and frame["size_n"].null_count():
        notes.append(f"{frame.height - sized.height} run(s) without a numeric data size or value left out")
    if sized.height > data.height:
        notes.append(f"{sized.height - data.height} run(s) of groups not observed at every size left out")
    if data.height < 3 or data["_n"].n_unique() < 2:
        test.note = "; ".join(notes + ["fewer than two numeric data sizes: no test"])
        return test
    texts = data["_n"].to_numpy()
    logs = np.log2(texts)
    span = float(logs.max() - logs.min())
    y = data[metric].to_numpy().astype(float)
    nuisance = nuisance_for(data, SIZE_STRATA)
    perms, exact = block_permutations(data["seed"].to_numpy(), data["_n"].to_numpy(), s.permutations, seed)
    fit = freedman_lane(y, logs, nuisance, perms, exact)
    if fit.estimate is None or fit.p is None:
        test.note = "; ".join(notes + [fit.reason or ""])
        return test
    test.exact = exact
    test.estimate = estimate = fit.estimate * span
    test.p = fit.p.two_sided
    # Uncertainty from the replicates of a data-size effect, the seeds: the slope fitted in each seed alone.
    seeds = data["seed"].to_numpy()
    per_seed = []
    for value in np.unique(seeds):
        rows = np.flatnonzero(seeds == value)
        part = freedman_lane(y[rows], logs[rows], nuisance.subset(rows), np.arange(rows.size)[None, :])
        if part.estimate is not None:
            per_seed.append(part.estimate * span)
    if len(per_seed) >= 2:
        k = test.replicates = len(per_seed)
        test.se = float(np.std(per_seed, ddof=1)) / math.sqrt(k)
        half = float(stats.t.ppf(1 - s.alpha / 2, k - 1)) * test.se
        test.ci = (estimate - half, estimate + half)
        mean = float(np.mean(per_seed))
        test.p_t = float(2 * stats.t.sf(abs(mean) / test.se, k - 1)) if test.se > 0 else (1.0 if mean == 0 else 0.0)
    else:
        notes.append("one seed: no standard error of the data-size effect")
    models = data["model"].cast(pl.Utf8).to_numpy()
    for model in np.unique(models):
        rows = np.flatnonzero(models == model)
        part = freedman_lane(y[rows], logs[rows], nuisance.subset(rows), np.arange(rows.size)[None, :])
        if part.estimate is not None:
            test.per_model[str(model)] = part.estimate * span
    if margin is not None:
        lower = freedman_lane(y + margin / span * logs, logs, nuisance, perms, exact)  # H0: slope = -margin/span
        upper = freedman_lane(y - margin / span * logs, logs, nuisance, perms, exact)  # H0: slope = +margin/span
        if lower.p is not None and upper.p is not None:
            test.p_tost = max(lower.p.greater, upper.p.less)
    relabellings = f"{perms.shape[0]} {'(all)' if exact else 'random'} size relabellings"
    test.note = "; ".join(
        notes + [f"slope {fit.estimate:.3g} per doubling, {texts.min():.0f}–{texts.max():.0f} texts, {relabellings}"]
    )
    return test


def remedies_verdict(arms: list[ArmTest], alpha: float) -> tuple[str, str]:
    """contradicts: a Holm-corrected test (over all arm x metric tests) rejects with the helpful sign;
    supports: every arm x metric is shown equivalent to no effect (TOST at alpha; an intersection-union test,
    so no correction); otherwise inconclusive."""
    helpful = [a for a in arms if a.p_holm is not None and a.p_holm < alpha and a.helpful]
    if helpful:
        return CONTRADICTS, "; ".join(
            f"{a.arm} {'lowers' if a.helpful_sign < 0 else 'raises'} `{a.metric}` by {abs(a.estimate or 0.0):.3g} "
            f"(Holm p={_fmt(a.p_holm)})"
            for a in helpful
        )
    if arms and all(a.p_tost is not None and a.p_tost < alpha for a in arms):
        return SUPPORTS, "every arm is equivalent to no effect within its margin on every metric (TOST p < alpha)"
    open_arms = [a for a in arms if not (a.p_tost is not None and a.p_tost < alpha)]
    parts = []
    for a in open_arms:
        if a.estimate is None:
            parts.append(f"{a.arm}/`{a.metric}`: {a.note or 'no test'}")
        elif a.margin is None:
            parts.append(f"{a.arm}/`{a.metric}`: no equivalence margin")
        else:
            parts.append(
                f"{a.arm}/`{a.metric}`: not shown equivalent (TOST p={_fmt(a.p_tost)}, estimate "
                f"{a.estimate:+.3g}, margin ±{a.margin:.3g})"
            )
    return INCONCLUSIVE, "no helpful effect after Holm correction; " + "; ".join(parts)


def finding_remedies(frame: pl.DataFrame, s: AnalysisSettings) -> Finding:
    finding = Finding(
        key="F3",
        claim="General anti-forgetting remedies (more data, regularisation) neither reduce overall "
        "forgetting nor help downstream performance.",
        rule="per remedy x metric (overall forgetting, downstream change): paired differences remedy minus "
        f"'{s.baseline_remedy}' matched on model, objective, size and seed; 'more data': slope on log2 data size "
        "within (model, objective, remedy, seed), as the change over the size range, permuting sizes in whole "
        "(size, seed) blocks. contradicts if a Holm-"
        "corrected test (all arm x metric tests) rejects with the helpful sign (lower forgetting, higher downstream "
        "change); supports if every arm x metric is equivalent to no effect by TOST within the margins; otherwise "
        "inconclusive.",
        tests="exact sign-flip test of the mean paired difference (all 2^n sign vectors up to n = 16 pairs, else "
        f"{s.permutations} random ones; paired t p for reference); for the slope, relabelling the data sizes of "
        "whole (size, seed) blocks; TOST with the same tests on shifted differences; Holm over all arm x metric "
        "tests.",
    )
    overall = cols.overall_forgetting_column(frame, s)
    downstream = cols.downstream_change_column(frame)
    metrics = [(m, helpful) for m, helpful in ((overall, -1), (downstream, +1)) if m is not None]
    remedies = sorted(set(frame["remedy"].to_list()) - {s.baseline_remedy})
    sizes = size_order(frame["size"].to_list())
    baseline_rows = frame.filter(pl.col("remedy") == s.baseline_remedy)
    margins: dict[str, float | None] = {}
    if overall is not None:
        reference = _mean(baseline_rows[overall])
        margins[overall] = s.equivalence_margin * reference if reference is not None and reference > 0 else None
        if margins[overall] is None:
            finding.notes.append(
                f"no overall-forgetting margin: the '{s.baseline_remedy}' runs' mean overall "
                f"forgetting is {_fmt(reference)} (must be > 0)"
            )
    if downstream is not None:
        margins[downstream] = s.downstream_equivalence_margin
    finding.margins = margins
    if not remedies and len(sizes) < 2:
        finding.reason = f"the study has no remedy besides '{s.baseline_remedy}' and a single data size"
        return finding
    seed = s.seed + _SEED_F3
    keys = [k for k in GRID_FACTORS if k != "remedy"]
    baseline = frame.filter(pl.col("remedy") == s.baseline_remedy).select(
        [*keys, *(pl.col(m).alias(f"_base:{m}") for m, _ in metrics)]
    )
    for arm in remedies:
        pairs = frame.filter(pl.col("remedy") == arm).join(baseline, on=keys, how="inner")
        for metric, helpful in metrics:
            matched = pairs.filter(pl.col(metric).is_not_null() & pl.col(f"_base:{metric}").is_not_null())
            d = (matched[metric] - matched[f"_base:{metric}"]).to_numpy().astype(float)
            finding.arms.append(
                _paired_test(
                    d, matched["model"].cast(pl.Utf8).to_numpy(), arm, metric, helpful, margins[metric], s, seed
                )
            )
            seed += 1
    if len(sizes) > 1:
        for metric, helpful in metrics:
            finding.arms.append(_slope_test(frame, metric, helpful, margins[metric], s, seed))
            seed += 1
    if not finding.arms:
        finding.reason = "the table has no overall forgetting and no downstream change column"
        return finding
    tested = [a for a in finding.arms if a.p is not None]
    for a, adjusted in zip(tested, holm([a.p for a in tested if a.p is not None])):
        a.p_holm = adjusted
    bonferroni = s.alpha / max(1, len(tested))
    for a in tested:
        if a.se is not None:
            a.mde = paired_mde(a.se * math.sqrt(a.replicates), a.replicates, bonferroni)
    finding.verdict, finding.reason = remedies_verdict(finding.arms, s.alpha)
    if finding.verdict == INCONCLUSIVE:
        for a in tested:
            if a.p_tost is not None and a.p_tost < s.alpha:
                continue  # already shown equivalent
            a.scale_needed = _scale_for_settling(a, bonferroni, s.alpha)
    return finding


def compute_findings(frame: pl.DataFrame, settings: AnalysisSettings) -> list[Finding]:
    return [finding_downstream(frame, settings), finding_selective(frame, settings), finding_remedies(frame, settings)]
