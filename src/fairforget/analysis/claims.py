"""The paper's three claims as decision rules: what each claims, its rule and tests (the text findings.md and
the verdicts figure print), the result types, and the verdict functions. docs/metrics.md, section 9, has the
rules' sources and the calibration that checks their error rates; `findings` computes the tests they decide on.

Sign convention: every forgetting statistic is read as "larger = more forgetting" (the producers' contract);
`downstream.mean_change` is tuned minus base, so negative = the debiased model got worse downstream.

- F1 (downstream goes with overall rather than selective forgetting): both forgetting measures, standardized
  within model, in one within-model fit; unit: the objective. Its plain association gets its own verdict.
- F2 (selective forgetting goes with more overall forgetting): within-model slope; unit: the objective.
- F3 (remedies neither reduce overall forgetting nor help downstream): sign flips over the seeds, Holm-corrected,
  and TOST equivalence within each model's own margin; unit: the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fairforget.analysis.numbers import number
from fairforget.analysis.permutation import CoefficientTest
from fairforget.analysis.reach import Reach, objectives_reach
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.unique import UniqueContribution
from fairforget.analysis.within import Slope

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"


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


# ------------------------------------------------------------------------------------------------ the claims


def f1_claim() -> Finding:
    """F1 before its tests: the claim, its rule and the tests it rests on."""
    return Finding(
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


def f2_claim() -> Finding:
    """F2 before its tests."""
    return Finding(
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


def f3_claim(s: AnalysisSettings) -> Finding:
    """F3 before its tests (the rule names the baseline remedy and the number of random sign flips)."""
    return Finding(
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


# ------------------------------------------------------------------------------------------------ verdict rules


def sign_verdict(
    within: CoefficientTest, per_model: dict[str, CoefficientTest], claimed_sign: int, alpha: float
) -> tuple[str, str]:
    """supports: within-model estimate of the claimed sign with two-sided permutation p < alpha and every model's
    own estimate of that sign; contradicts: the same with the opposite sign; otherwise inconclusive."""
    estimate, p = within.estimate, within.p
    if estimate is None or p is None:
        return INCONCLUSIVE, f"within-model slope undefined: {within.reason}"
    sign = 1 if estimate > 0 else -1 if estimate < 0 else 0
    text = f"within-model slope {number(estimate)} (p={number(p.two_sided)})"
    if p.two_sided >= alpha or sign == 0:
        return INCONCLUSIVE, f"{text}: not significant at alpha={alpha}"
    disagree = [m for m, t in per_model.items() if t.estimate is None or np.sign(t.estimate) != sign]
    per = ", ".join(f"{m} {number(t.estimate)}" for m, t in per_model.items())
    if disagree:
        return INCONCLUSIVE, (
            f"{text} but the model(s) {', '.join(disagree)} disagree in sign or are undefined ({per})"
        )
    verdict = SUPPORTS if sign == claimed_sign else CONTRADICTS
    side = "the claimed sign" if verdict == SUPPORTS else "the sign opposite to the claim"
    return verdict, f"{text} has {side}, and every model's own point estimate has it too ({per})"


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
        f"standardized coefficients overall {number(b[0])}, selective {number(b[1])}; b1*+b2* = {number(sum_value)} "
        f"(p={number(total[1])}), b1*-b2* = {number(gap_value)} (p={number(diff[1])})"
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


def remedies_verdict(arms: list[ArmTest], alpha: float) -> tuple[str, str]:
    """contradicts: a Holm-corrected test (over all arm x metric tests) rejects with the helpful sign;
    supports: every arm x metric is shown equivalent to no effect in every model (TOST at alpha against the
    model's margin; an intersection-union test, so no correction); otherwise inconclusive."""
    helpful = [a for a in arms if a.p_holm is not None and a.p_holm < alpha and a.helpful]
    if helpful:
        return CONTRADICTS, "; ".join(
            f"{a.arm}: `{a.metric}` {'lower' if a.helpful_sign < 0 else 'higher'} by {abs(a.estimate or 0.0):.3g} "
            f"on average over the models and {a.units} seeds (Holm p={number(a.p_holm)})"
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
                f"{a.arm}/`{a.metric}`: not shown equivalent in every model (TOST p={number(a.p_tost)}, estimate "
                f"{a.estimate:+.3g})"
            )
    return INCONCLUSIVE, "no helpful effect after Holm correction; " + "; ".join(parts)


def no_mde(k: int) -> str:
    """Why a rule has no MDE: its floor 1/k! is at or above the threshold, or it is below it but too few
    relabellings lie beyond any effect's observed one for 80% power (F1 as stated: both contrasts at the floor)."""
    floor = 1.0 / math.factorial(max(k, 1))
    return (
        f"none: no effect reaches 80% power with {k} objectives (smallest attainable p 1/{k}! = {floor:.3g}, "
        "see 'Reachable on this grid'), or a model has no variation of its own"
    )


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
