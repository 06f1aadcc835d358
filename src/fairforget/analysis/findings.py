"""The paper's three claims tested on the tidy table; each verdict is a statistical decision with a stated error
rate (docs/metrics.md, section 9, has the rules, their sources and the calibration that checks them).

Sign convention: every forgetting statistic is read as "larger = more forgetting" (the producers' contract);
`downstream.mean_change` is tuned minus base, so negative = the debiased model got worse downstream.

- F1 (the paper: downstream is driven by overall forgetting rather than by selective forgetting; tested as an
  association): both forgetting measures, standardized within model, predict the downstream change in one
  within-model fit with remedy controlled; "supports" needs overall forgetting's unique contribution to exceed
  selective forgetting's, with a negative sign, shown at level alpha, and every model's own point estimates
  agreeing. The plain association (downstream vs overall forgetting) is reported with its own verdict. Unit of
  replication: the objective.
- F2 (the paper: selective forgetting increases overall forgetting; tested as an association): within-model slope
  of overall on selective forgetting, controlling for data size (in the strata) and remedy. Unit: the objective.
- F3 (remedies neither reduce overall forgetting nor help downstream): per remedy x metric, sign flips over the
  seeds (the unit of replication) of the per-seed mean paired difference against the baseline remedy, Holm-
  corrected; "more data" as the per-seed slope on log data size; "supports" needs equivalence (TOST) within each
  model's own margin, in every model, for every arm and metric.
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
from fairforget.analysis.permutation import MAX_EXACT_PAIRS, CoefficientTest, Nuisance, sign_flip_test
from fairforget.analysis.power import n_for_equivalence, scale_to_detect, sign_flip_mde
from fairforget.analysis.reach import MAX_UNITS, Reach, count, objectives_reach, seeds_reach, sign_flip_floor
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
    reported as the change over the grid's size range) on one metric, with the seed as the unit: the estimate
    per seed is the mean over the models of each (model, seed)'s estimate."""

    arm: str
    metric: str
    helpful_sign: int  # -1: a helpful remedy lowers the metric, +1: raises it
    kind: str  # "paired" or "slope"
    n: int  # matched pairs or runs behind the estimate
    units: int = 0  # seeds: the test's units of replication
    unit_values: list[float] = field(default_factory=list)  # the estimate per seed (mean over models)
    estimate: float | None = None
    sd: float | None = None  # of the per-seed estimates
    ci: tuple[float, float] | None = None  # t interval over the seeds (descriptive; the verdict uses p and p_tost)
    p: float | None = None  # two-sided sign-flip p over the seeds
    p_holm: float | None = None
    margins: dict[str, float | None] = field(default_factory=dict)  # per model
    p_tost: float | None = None  # the largest of the per-model TOST p-values (all must pass)
    per_model_tost: dict[str, float | None] = field(default_factory=dict)
    exact: bool = False
    per_model: dict[str, float] = field(default_factory=dict)  # mean over seeds, per model
    model_sd: dict[str, float | None] = field(default_factory=dict)  # sd of a model's per-seed estimates
    mde: float | None = None
    mde_note: str = ""
    seeds_needed: int | None = None
    reach: list[Reach] = field(default_factory=list)
    note: str = ""

    @property
    def helpful(self) -> bool:
        return self.estimate is not None and self.estimate * self.helpful_sign > 0

    @property
    def margin(self) -> float | None:
        """The smallest per-model margin (the one drawn in the figure); None when a model has none."""
        values = list(self.margins.values())
        return None if not values or any(v is None for v in values) else min(v for v in values if v is not None)


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
    margins: dict[str, dict[str, float | None]] = field(default_factory=dict)  # metric -> model -> margin
    notes: list[str] = field(default_factory=list)
    # F1/F2: whether each verdict can be reached on this grid (F3: per arm, ArmTest.reach)
    reach: list[Reach] = field(default_factory=list)
    plain_reach: list[Reach] = field(default_factory=list)  # F1's plain association


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
    return verdict, f"{text} has {side}, and every model's own point estimate has it too ({per})"


def no_mde(k: int) -> str:
    """Why a rule has no MDE: its floor 1/k! is at or above the threshold, or it is below it but too few
    relabellings lie beyond any effect's observed one for 80% power (F1 as stated: both contrasts at the floor)."""
    floor = 1.0 / math.factorial(max(k, 1))
    return (
        f"none: no effect reaches 80% power with {k} objectives (smallest attainable p 1/{k}! = {floor:.3g}, "
        "see 'Reachable on this grid'), or a model has no variation of its own"
    )


def _sign_power(test: SignTest, alpha: float) -> Power:
    function = test.slope.power(test.claimed_sign, alpha)
    if function is None or test.slope.within.se is None:
        return Power(note="undefined (no within-model fit)")
    mde = function.minimum_detectable_effect(test.slope.within.se)
    if mde is None:
        return Power(note=no_mde(test.slope.objectives))
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
            return SUPPORTS, (
                f"{text}: overall forgetting's unique contribution exceeds selective's within model, and every "
                "model's own point estimates lie in the claim"
            )
        return INCONCLUSIVE, (
            f"{text}: shown within model, but the point estimates of model(s) "
            f"{', '.join(m for m, ok in in_claim.items() if not ok)} lie outside the claim"
        )
    if contradicts_within:
        if not any(in_claim.values()):
            return CONTRADICTS, (
                f"{text}: overall forgetting's unique contribution is not the larger one with a negative sign, "
                "and no model's own point estimates say it is"
            )
        return INCONCLUSIVE, (
            f"{text}: the claim is rejected within model, but model(s) "
            f"{', '.join(m for m, ok in in_claim.items() if ok)} agree with it"
        )
    return INCONCLUSIVE, f"{text}: neither shown at alpha={alpha}"


def _unique_power(unique: UniqueContribution, verdict: str, alpha: float, objectives: int) -> Power:
    """MDE: the slope of downstream on overall forgetting (raw units; selective without effect) that "supports"
    detects. The fit runs on within-model scales; the mean ratio sd(downstream) / sd(overall) over the models
    converts its estimate and standard error to raw units."""
    function = unique.power(alpha)
    se = unique.coefficients[0].se
    if function is None or se is None or not unique.model_slope_factors:
        return Power(note="undefined (no two-predictor fit)")
    to_raw = 1.0 / float(np.mean(unique.model_slope_factors))
    mde = function.minimum_detectable_effect(se * to_raw)
    if mde is None:
        return Power(note=no_mde(objectives))
    power = Power(
        mde=mde,
        note="slope of downstream change on overall forgetting, raw units, when selective forgetting has no effect",
        noise_sd=unique.noise_sd,
    )
    estimate = unique.coefficients[0].estimate
    if verdict == INCONCLUSIVE and estimate is not None and estimate < 0:
        power.scale_needed = scale_to_detect(mde, estimate * to_raw)
    return power


def association_reach(k: int, draws: int, alpha: float) -> list[Reach]:
    """F1's plain association and F2: one two-sided test at alpha for either verdict."""
    test = "within-model slope, two-sided"
    return [objectives_reach(v, test, k, draws, alpha) for v in (SUPPORTS, CONTRADICTS)]


def comparative_reach(k: int, draws: int, alpha: float) -> list[Reach]:
    """F1 as stated: supports needs both contrasts at alpha, contradicts either at alpha/2."""
    return [
        objectives_reach(SUPPORTS, "b1*+b2* and b1*-b2*, two-sided, each", k, draws, alpha),
        objectives_reach(CONTRADICTS, "b1*+b2* or b1*-b2*, two-sided, Bonferroni over the two", k, draws, alpha / 2),
    ]


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
        claim="Downstream performance goes with overall forgetting rather than with selective forgetting of "
        "stereotypes (the paper says 'driven by'; this observational grid tests the association): with both in one "
        "within-model analysis, overall forgetting explains more of the downstream change than selective "
        "forgetting does, and runs with more overall forgetting have a larger downstream loss.",
        rule="supports if, within model, overall forgetting's unique contribution exceeds selective forgetting's "
        "with a negative coefficient (both contrasts b1*+b2* < 0 and b1*-b2* < 0 of the standardized coefficients "
        "significant, two-sided p < alpha each) and every model's own point estimates agree; contradicts if "
        "either contrast is significant the other way (p < alpha/2 each) and no model's point estimates lie in the "
        "claim; otherwise inconclusive. The plain association (downstream change vs overall forgetting alone) gets "
        "its own within-model verdict, reported below.",
        tests="unit of replication: the objective. Outcome and predictors standardized within model (each divided "
        "by its root mean square within its model after the fixed effects and controls, so the models weigh alike "
        "whatever their loss scales); fixed effects per (model, size, seed) stratum and remedy indicators within "
        "each model; Freedman–Lane permutation tests of the two contrasts that relabel whole objectives, jointly in "
        "all models (the objectives are the replicates of an across-objective association); unique contributions "
        "as semi-partial R² within model.",
    )
    x = cols.overall_forgetting_column(frame, s)
    y = cols.downstream_change_column(frame)
    selective = cols.selective_forgetting_column(frame, s)
    finding.x, finding.y = x, y
    finding.notes += wnli_summary(frame)
    if x is None or y is None:
        finding.reason = "the table has no overall forgetting or no downstream change column"
        return finding
    # Remedy is controlled within model (as in F2): a remedy that lowers forgetting and raises downstream would
    # otherwise pass for the across-objective association.
    finding.sign_test = _sign_test(frame, x, y, ("remedy",), -1, s, s.seed + _SEED_F1, with_power)
    finding.plain_reach = association_reach(finding.sign_test.slope.objectives, s.permutations, s.alpha)
    if selective is None:
        finding.reason = (
            "the claim compares overall with selective forgetting, and the table has no selective "
            f"forgetting column; the plain association alone says: {finding.sign_test.verdict}"
        )
        return finding
    finding.unique = unique_contributions(
        frame, y, x, selective, SHARED_NOISE_STRATA, s.permutations, s.seed + _SEED_F1 + 1, s.alpha, ("remedy",)
    )
    finding.reach = comparative_reach(finding.unique.objectives, s.permutations, s.alpha)
    finding.verdict, finding.reason = comparative_verdict(finding.unique, s.alpha)
    if with_power:
        finding.unique_power = _unique_power(
            finding.unique, finding.verdict, s.alpha, finding.sign_test.slope.objectives
        )
    return finding


def finding_selective(frame: pl.DataFrame, s: AnalysisSettings, with_power: bool = True) -> Finding:
    finding = Finding(
        key="F2",
        claim="Selective forgetting of stereotypes goes with more overall forgetting (the paper says "
        "'increases'; tested as a positive within-model association across objectives, data size and remedy held "
        "fixed).",
        rule="supports if the within-model slope of overall on selective forgetting (fixed effects for model x "
        "size x seed, remedy controlled within each model) is positive with two-sided permutation p < alpha and "
        "every model's own point estimate is positive; contradicts if the same holds with a negative sign; otherwise "
        "inconclusive.",
        tests="unit of replication: the objective. Fixed effects per (model, size, seed) stratum and remedy "
        "indicators within each model; Freedman–Lane permutation test that relabels whole objectives, jointly in "
        "all models.",
    )
    x = cols.selective_forgetting_column(frame, s)
    y = cols.overall_forgetting_column(frame, s)
    finding.x, finding.y = x, y
    if x is None or y is None:
        finding.reason = "the table has no selective or no overall forgetting column"
        return finding
    # Objective is not controlled for: objectives are what moves selective forgetting, the variation F2 is about.
    finding.sign_test = _sign_test(frame, x, y, ("remedy",), +1, s, s.seed + _SEED_F2, with_power)
    finding.reach = association_reach(finding.sign_test.slope.objectives, s.permutations, s.alpha)
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
    """Runs of the (model, objective, remedy, seed) groups observed at every data size of their seed."""
    per_seed = data.group_by("seed").agg(pl.col("_n").n_unique().alias("_sizes"))
    group = list(SIZE_STRATA)
    counts = data.group_by(group).agg(pl.col("_n").n_unique().alias("_k"), pl.len().alias("_rows"))
    complete = counts.join(per_seed, on="seed").filter(
        (pl.col("_k") == pl.col("_sizes")) & (pl.col("_rows") == pl.col("_sizes"))
    )
    return data.join(complete.select(group), on=group).sort(["seed", "_n", "model", "objective", "remedy"])


@dataclass
class UnitValues:
    """An arm's estimate in every (model, seed): rows = models, columns = seeds (the test's units)."""

    models: list[str]
    seeds: list[int]
    values: np.ndarray


def _unit_matrix(per: pl.DataFrame) -> tuple[UnitValues | None, list[str]]:
    """(model, seed, v) rows as a models x seeds matrix; seeds not observed in every model are left out."""
    per = per.filter(pl.col("v").is_not_null() & pl.col("v").is_finite())
    if per.height == 0:
        return None, []
    models = sorted(per["model"].cast(pl.Utf8).unique().to_list())
    lookup = {(str(r["model"]), r["seed"]): float(r["v"]) for r in per.iter_rows(named=True)}
    all_seeds = sorted(per["seed"].unique().to_list())
    seeds = [s for s in all_seeds if all((m, s) in lookup for m in models)]
    notes = (
        [f"{len(all_seeds) - len(seeds)} seed(s) not observed in every model left out"]
        if len(seeds) < len(all_seeds)
        else []
    )
    if not seeds:
        return None, notes
    values = np.array([[lookup[(m, s)] for s in seeds] for m in models], dtype=float)
    return UnitValues(models, seeds, values), notes


def _fixed_effects_slope(y: np.ndarray, x: np.ndarray, nuisance: Nuisance) -> float | None:
    """OLS slope of y on x with the nuisance regressors (fixed effects); None when x does not vary within them."""
    x_res = nuisance.residualise(x)
    sxx = float(x_res @ x_res)
    if sxx <= 1e-20 * max(1.0, float(x @ x)):
        return None
    return float(x_res @ nuisance.residualise(y)) / sxx


def _size_slopes(frame: pl.DataFrame, metric: str) -> tuple[UnitValues | None, int, list[str]]:
    """ "More data" per (model, seed): the slope of the metric on log2(data size) with fixed effects per
    (objective, remedy), as the change over the grid's size range; the runs used and notes."""
    sized = frame.with_columns(_numeric_sizes(frame).alias("_n")).filter(
        pl.col("_n").is_not_null() & pl.col(metric).is_not_null()
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
    rows = []
    for (model, seed), part in data.group_by(["model", "seed"], maintain_order=True):
        # one fixed effect per (objective, remedy): the model is constant within the part
        nuisance = nuisance_for(part, ("model", "objective", "remedy"))
        per_doubling = _fixed_effects_slope(
            part[metric].to_numpy().astype(float), np.log2(part["_n"].to_numpy()), nuisance
        )
        rows.append({"model": str(model), "seed": seed, "v": None if per_doubling is None else per_doubling * span})
    units, more = _unit_matrix(pl.DataFrame(rows, schema={"model": pl.Utf8, "seed": pl.Int64, "v": pl.Float64}))
    notes += more + [f"{texts.min():.0f}–{texts.max():.0f} texts, {span:.3g} doublings"]
    return units, data.height, notes


def _paired_units(pairs: pl.DataFrame) -> tuple[UnitValues | None, list[str]]:
    """Mean paired difference per (model, seed)."""
    per = pairs.group_by(["model", "seed"]).agg(pl.col("difference").mean().alias("v"))
    return _unit_matrix(per.with_columns(pl.col("model").cast(pl.Utf8), pl.col("seed").cast(pl.Int64)))


def _unit_test(
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
        half = float(stats.t.ppf(1 - s.alpha / 2, c - 1)) * test.sd / math.sqrt(c)
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


def _seeds_to_settle(test: ArmTest, level: float, s: AnalysisSettings) -> int | None:
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
        floor_seeds = next(c for c in range(1, MAX_UNITS + 1) if sign_flip_floor(c, s.permutations, sides=1) < s.alpha)
        options.append(max(floor_seeds, *needed))
    return min(options) if options else None


def remedies_verdict(arms: list[ArmTest], alpha: float) -> tuple[str, str]:
    """contradicts: a Holm-corrected test (over all arm x metric tests) rejects with the helpful sign;
    supports: every arm x metric is shown equivalent to no effect in every model (TOST at alpha against the
    model's margin; an intersection-union test, so no correction); otherwise inconclusive."""
    helpful = [a for a in arms if a.p_holm is not None and a.p_holm < alpha and a.helpful]
    if helpful:
        return CONTRADICTS, "; ".join(
            f"{a.arm}: `{a.metric}` {'lower' if a.helpful_sign < 0 else 'higher'} by {abs(a.estimate or 0.0):.3g} "
            f"on average over the models and {a.units} seeds (Holm p={_fmt(a.p_holm)})"
            for a in helpful
        )
    if arms and all(a.p_tost is not None and a.p_tost < alpha for a in arms):
        return SUPPORTS, (
            "every arm is equivalent to no effect within each model's margin on every metric (TOST p < alpha in "
            "every model)"
        )
    open_arms = [a for a in arms if not (a.p_tost is not None and a.p_tost < alpha)]
    parts = []
    for a in open_arms:
        if a.estimate is None:
            parts.append(f"{a.arm}/`{a.metric}`: {a.note or 'no test'}")
        elif any(m is None for m in a.margins.values()):
            parts.append(
                f"{a.arm}/`{a.metric}`: no equivalence margin in model(s) "
                + ", ".join(m for m, v in a.margins.items() if v is None)
            )
        else:
            parts.append(
                f"{a.arm}/`{a.metric}`: not shown equivalent in every model (TOST p={_fmt(a.p_tost)}, estimate "
                f"{a.estimate:+.3g})"
            )
    return INCONCLUSIVE, "no helpful effect after Holm correction; " + "; ".join(parts)


def _margins(
    frame: pl.DataFrame, metric: str, relative: bool, s: AnalysisSettings, finding: Finding
) -> dict[str, float | None]:
    """Per model: overall forgetting's margin is `equivalence_margin` x that model's own baseline-remedy mean
    (models differ in loss scale); downstream's is `downstream_equivalence_margin` in every model."""
    out: dict[str, float | None] = {}
    for model in sorted(frame["model"].cast(pl.Utf8).unique().to_list()):
        if not relative:
            out[model] = s.downstream_equivalence_margin
            continue
        reference = _mean(frame.filter((pl.col("model") == model) & (pl.col("remedy") == s.baseline_remedy))[metric])
        out[model] = s.equivalence_margin * reference if reference is not None and reference > 0 else None
        if out[model] is None:
            finding.notes.append(
                f"no overall-forgetting margin for {model}: its '{s.baseline_remedy}' runs' mean overall "
                f"forgetting is {_fmt(reference)} (must be > 0)"
            )
    return out


def finding_remedies(frame: pl.DataFrame, s: AnalysisSettings) -> Finding:
    finding = Finding(
        key="F3",
        claim="General anti-forgetting remedies (more data, regularisation) neither reduce overall "
        "forgetting nor help downstream performance.",
        rule="per remedy x metric (overall forgetting, downstream change): paired differences remedy minus "
        f"'{s.baseline_remedy}' matched on model, objective, size and seed, averaged per seed; 'more data': per "
        "model and seed the slope on log2 data size within (objective, remedy), as the change over the size range, "
        "averaged per seed. contradicts if a Holm-corrected test (all arm x metric tests) rejects with the helpful "
        "sign (lower forgetting, higher downstream change) on average over the models; supports if every arm x "
        "metric is equivalent to no effect by TOST within each model's own margin, in every model; otherwise "
        "inconclusive.",
        tests="unit of replication: the seed. Everything a seed draws (the data subsample and order, nested across "
        "sizes, the replay texts, EWC's Fisher texts, LoRA's initialisation) is shared by the seed's runs across "
        "models and sizes, so runs within a seed are not independent; the seeds are. Sign-flip test over the "
        "seeds of the per-seed estimate (exact: all 2^c sign vectors for c <= 16 seeds, else "
        f"{s.permutations} random ones); TOST per model by the same test on that model's per-seed estimates "
        "shifted by ± its margin; Holm over all arm x metric tests.",
    )
    overall = cols.overall_forgetting_column(frame, s)
    downstream = cols.downstream_change_column(frame)
    metrics = [(m, helpful) for m, helpful in ((overall, -1), (downstream, +1)) if m is not None]
    remedies = sorted(set(frame["remedy"].to_list()) - {s.baseline_remedy})
    sizes = size_order(frame["size"].to_list())
    margins = {m: _margins(frame, m, m == overall, s, finding) for m, _ in metrics}
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
            matched = matched.with_columns((pl.col(metric) - pl.col(f"_base:{metric}")).alias("difference"))
            units, notes = _paired_units(matched)
            finding.arms.append(
                _unit_test(arm, metric, helpful, "paired", matched.height, units, margins[metric], s, seed, notes)
            )
            seed += 1
    if len(sizes) > 1:
        for metric, helpful in metrics:
            units, n, notes = _size_slopes(frame, metric)
            finding.arms.append(
                _unit_test(MORE_DATA, metric, helpful, "slope", n, units, margins[metric], s, seed, notes)
            )
            seed += 1
    if not finding.arms:
        finding.reason = "the table has no overall forgetting and no downstream change column"
        return finding
    tested = [a for a in finding.arms if a.p is not None]
    for a, adjusted in zip(tested, holm([a.p for a in tested if a.p is not None])):
        a.p_holm = adjusted
    level = s.alpha / max(1, len(tested))  # Holm's first step: what the smallest p must beat
    for a in tested:
        a.reach = [
            seeds_reach(CONTRADICTS, f"Holm's first step over {len(tested)} tests", a.units, s.permutations, level),
            seeds_reach(SUPPORTS, "TOST per model, one-sided", a.units, s.permutations, s.alpha, sides=1),
        ]
        floor = sign_flip_floor(a.units, s.permutations)
        if floor >= level:
            a.mde_note = (
                f"none: with {count(a.units, 'seeds')} the smallest attainable p is {floor:.3g}, not below "
                f"Holm's first threshold {level:.3g}"
            )
        elif a.sd is not None:
            a.mde = sign_flip_mde(a.sd, a.units, level)
            if a.mde is None:
                a.mde_note = f"none: {count(a.units, 'seeds')} are too few for the sign-flip test at {level:.3g}"
    finding.verdict, finding.reason = remedies_verdict(finding.arms, s.alpha)
    if finding.verdict == INCONCLUSIVE:
        for a in tested:
            if a.p_tost is not None and a.p_tost < s.alpha:
                continue  # already shown equivalent
            a.seeds_needed = _seeds_to_settle(a, level, s)
    return finding


def compute_findings(frame: pl.DataFrame, settings: AnalysisSettings) -> list[Finding]:
    return [finding_downstream(frame, settings), finding_selective(frame, settings), finding_remedies(frame, settings)]
