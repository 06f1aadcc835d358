"""findings.md: per claim the verdict, the rule, the tests used, n, estimates, CIs, p-values, power and what
would settle an open verdict; after the claims, any further sections (the bias section, the fusion section), so
that the file is written once."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from fairforget.analysis.claims import ArmTest, Finding, Power, SignTest
from fairforget.analysis.findings import compute_findings
from fairforget.analysis.numbers import MISSING, interval, number, relabellings
from fairforget.analysis.permutation import CoefficientTest
from fairforget.analysis.reach import MAX_UNITS, Reach
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.unique import UniqueContribution
from fairforget.io import atomic_write_text

log = logging.getLogger(__name__)


def settle_text(power: Power, n: int, seeds: int, objectives: int, reach: list[Reach]) -> str:
    """What would detect an effect the size of the estimate at 80% power, naming only the levers that move the
    rule: the estimate's variance is taken as (sigma_o^2 + sigma_r^2 k / n) / k (objective-level noise sigma_o,
    run-level sigma_r, k objectives, n runs); more objectives (with their runs) divide all of it, more seeds only
    the run-level part. Seeds never lower the relabelling floor 1/k!: where no verdict is reachable with these
    objectives (`reach`), seeds are not offered, and the objectives named are at least those the floor needs."""
    scale = power.scale_needed
    if scale is None:
        return ""
    floor_bound = not any(r.reachable for r in reach) if reach else False
    floor_needed = min((r.needed for r in reach if r.needed), default=None) if floor_bound else None
    if floor_bound and floor_needed is None:
        return f" No grid of up to {MAX_UNITS} objectives makes a verdict of this rule reachable (see above)."
    if scale <= 1 and not floor_bound:
        return (
            " The grid is powered (80%) for an effect the size of the estimate; the verdict is open because of this "
            "test's outcome or a model's disagreement, not for want of runs."
        )
    k_needed = max(math.ceil(scale * objectives), floor_needed or 0)
    text = f" To detect an effect the size of the estimate at 80% power: ≈ {k_needed} objectives (with their runs)"
    if floor_bound:
        # seeds shrink run-level noise only; the permutation floor 1/k! is set by the objectives alone
        return text + f"; more seeds cannot: no verdict is reachable with {objectives} objectives."
    sigma_o, sigma_r = power.noise_sd if power.noise_sd is not None else (0.0, 1.0)
    per_objective = sigma_r**2 * objectives / max(n, 1)
    allowed = (sigma_o**2 + per_objective) / scale - sigma_o**2
    if allowed > 0 and per_objective > 0:
        text += f", or ≈ {math.ceil(seeds * per_objective / allowed)} seeds instead of {seeds} with these objectives"
    else:
        text += (
            f"; more seeds alone cannot: the objective-level noise (estimated sd {sigma_o:.3g}; run-level "
            f"{sigma_r:.3g}) does not shrink with seeds"
        )
    return text + "."


def _reach_lines(reach: list[Reach]) -> list[str]:
    if not reach:
        return []
    return ["Reachable on this grid:", "", *(f"- {r.describe()}." for r in reach), ""]


def _coefficient_row(label: str, test: CoefficientTest, r: float | None, alpha: float, how: str) -> str:
    if not test.defined:
        return f"| {label} | {test.n} | undefined ({test.reason}) | {MISSING} | {MISSING} | {MISSING} |"
    return (
        f"| {label} | {test.n} | {number(test.estimate)}{interval(test.ci(alpha))} | {number(r, 2)} | "
        f"{number(test.p_two_sided)} | {how} |"
    )


def _slope_table(test: SignTest, alpha: float, permutations: int) -> list[str]:
    fit = test.slope
    fe = " × ".join(fit.strata) + (f"; {', '.join(fit.controls)} within each model" if fit.controls else "")
    run_level = fit.run_level.p_two_sided if fit.run_level is not None else None
    lines = [
        f"x = `{fit.x}`, y = `{fit.y}`.",
        "",
        "| estimate | n runs | slope [95% CI] | r | p (two-sided) | fit and test |",
        "|---|---|---|---|---|---|",
        _coefficient_row(
            "pooled (ignores the model; not used for the verdict)",
            fit.pooled,
            fit.pooled_r,
            alpha,
            f"OLS over all runs; {permutations} unstratified run permutations",
        ),
        _coefficient_row(
            f"**within model** ({fit.strata_count} strata, {fit.objectives} objectives)",
            fit.within,
            fit.within.partial_r,
            alpha,
            f"fixed effects {fe}; Freedman–Lane, {relabellings(fit.within.draws, fit.exact)} "
            f"(jointly in all models); run-level p (objectives taken as fixed, not used) "
            f"{number(run_level)}",
        ),
    ]
    for model, part in fit.per_model.items():
        lines.append(_coefficient_row(f"model={model}", part, part.partial_r, alpha, "same fit in this model alone"))
    lines.append("")
    lines.append(
        "r: Pearson r (pooled) or partial r (within / per model). Slope CIs: classical t intervals of the "
        "fixed-effects fit, treating runs as independent given the strata (too narrow when objectives "
        "differ in ways of their own); the p-values are the permutation tests'."
        + (f" {fit.left_out} run(s) of cells not observed for every objective left out." if fit.left_out else "")
    )
    lines.append("")
    return lines


def _power_line(
    power: Power, estimate: float | None, n: int, seeds: int, objectives: int, what: str, reach: list[Reach]
) -> str:
    if power.mde is None:
        return f"Power: n = {n} runs; MDE {power.note}."
    note = f" ({power.note})" if power.note else ""
    return (
        f"Power: n = {n} runs; the smallest {what} this rule detects with 80% power (MDE) is "
        f"{number(power.mde)}{note}; estimate {number(estimate)}." + settle_text(power, n, seeds, objectives, reach)
    )


def _unique_table(u: UniqueContribution, alpha: float, permutations: int) -> list[str]:
    lines = [
        "| predictor (within model, other held fixed) | coefficient [95% CI], within-model sd units | standardized "
        "b* | unique ΔR² [95% CI] | per model b* (ΔR²) |",
        "|---|---|---|---|---|",
    ]
    b = u.standardized()
    for j, name in enumerate(u.predictors):
        c = u.coefficients[j]
        per = "; ".join(f"{m} {number(v[j])} ({number(u.per_model_unique[m][j], 2)})" for m, v in u.per_model.items())
        lines.append(
            f"| `{name}` | {number(c.estimate)}{interval(c.ci(alpha))} | {number(b[j] if b else None)} | "
            f"{number(u.unique[j], 2)}{interval(u.unique_ci[j])} | {per} |"
        )
    lines.append("")
    if u.sum_test is not None and u.difference_test is not None and u.sum_test.defined:
        per_r = ", ".join(f"{m} {number(r, 2)}" for m, r in u.r12_per_model.items())
        controls = f" and {', '.join(u.controls)} within each model" if u.controls else ""
        lines.append(
            f"n = {u.n} runs, within-model R² of both predictors {number(u.within_r2, 2)}. Every variable is "
            f"standardized within its model (fixed effects{controls} removed first), so each model weighs alike. "
            f"Contrasts (Freedman–Lane, {relabellings(u.sum_test.draws, u.exact)}): b1*+b2* two-sided p = "
            f"{number(u.sum_test.p_two_sided)}; b1*−b2* two-sided p = {number(u.difference_test.p_two_sided)}. "
            f"Correlation of the two predictors within model r12 = {number(u.r12, 2)} (per model: {per_r}); it "
            f"inflates the variance of b1*−b2* by 1/(1 − r12) = {number(u.vif_difference, 3)} (of b1*+b2* by "
            f"1/(1 + r12) = {number(u.vif_sum, 3)}) against uncorrelated predictors: as r12 → 1 the two "
            "contributions cannot be told apart and 'supports' becomes unreachable. "
            "b* = coefficient × root mean square of the predictor within strata, so |b1*| > |b2*| "
            "exactly when the first predictor's unique ΔR² is larger. ΔR² CIs map the coefficient's t-CI "
            "(approximate: the total within-model variance is held fixed); coefficient CIs are classical t "
            "intervals (descriptive: the verdict rests on the permutation tests)."
        )
        lines.append("")
    return lines


def _arm_row(a: ArmTest) -> str:
    direction = "lower" if a.helpful_sign < 0 else "higher"
    if a.estimate is None:
        return f"| {a.arm} | `{a.metric}` | {direction} | {a.n} | 0 | {a.note} | | | | | | |"
    per = "; ".join(f"{m} {v:+.3g}" for m, v in a.per_model.items())
    test = "exact" if a.exact else "random"
    tost = "; ".join(
        f"{m} {number(p)} (±{number(a.margins.get(m))})" if a.margins.get(m) is not None else f"{m} no margin"
        for m, p in a.per_model_tost.items()
    )
    mde = number(a.mde) if a.mde is not None else (a.mde_note or MISSING)
    if a.seeds_needed:
        settle = f"≈ {a.seeds_needed} seeds"
    elif a.units < 2 and any(r.needed for r in a.reach):
        # no spread between seeds to size an effect by: only the floor says how many seeds any verdict needs
        settle = f"≥ {min(r.needed for r in a.reach if r.needed)} seeds before any verdict is reachable"
    else:
        settle = ""
    note = f" ({a.note})" if a.note else ""
    return (
        f"| {a.arm} | `{a.metric}` | {direction} | {a.n} | {a.units} | {a.estimate:+.3g}{interval(a.ci)}{note} | "
        f"{per} | "
        f"{number(a.p)} ({test}) | {number(a.p_holm)} | {tost} | {mde} | {settle} |"
    )


def _f3_reach(arms: list[ArmTest]) -> list[str]:
    """One reachability line per distinct (verdict, units) over the arms (they usually share their seeds)."""
    seen: dict[str, list[str]] = {}
    for a in arms:
        for r in a.reach:
            seen.setdefault(r.describe(), []).append(f"{a.arm}/{a.metric.split('.')[0]}")
    lines = ["Reachable on this grid (per arm):", ""]
    for text, where in seen.items():
        lines.append(f"- {text} ({'every arm' if len(where) == len(arms) else ', '.join(where)}).")
    return [*lines, ""]


INTRO = (
    "How to read this: each verdict is a statistical decision at alpha = {alpha} whose error rates are checked on "
    "simulated tables with known truth (docs/metrics.md, section 9). Every test names its **unit of replication** "
    "— the independent units its p-value counts — and no p-value can be smaller than its permutation floor: "
    "*F1 and F2* relabel whole objectives (jointly in all models), so with k objectives no p is below 1/k! (4 "
    "objectives: 1/24 = 0.042); *F3* flips the signs of whole seeds, because everything a seed draws (data "
    "subsample and order, nested across sizes; replay texts, Fisher texts, LoRA's initialisation) is shared by "
    "its runs across models and sizes, so with c seeds no two-sided p is below 2/2^c, no TOST p below 1/2^c. "
    "Each finding lists whether 'supports' and 'contradicts' are reachable on this grid (smallest attainable p "
    "against the threshold it must beat after the rule's correction) and the grid that would reach them. "
    "*Within model* means fixed effects for every (model, data size, seed) stratum — runs that share the base "
    "checkpoint, the data subsample and the seed — so differences between models (e.g. their loss scales) or "
    "between seeds never drive a verdict. *Pooled* ignores the model; it is shown next to the within-model and "
    "per-model estimates so that a Simpson's paradox is visible, and is never used for a verdict. Every model's own "
    "point estimate must agree with an F1/F2 verdict's sign (a condition on estimates, not a test per model). F1 "
    "and F2 each rest on one decision (not corrected across claims); F3's tests are Holm-corrected. MDE = minimum "
    "detectable effect at 80% power of the verdict rule on this grid, given the noise the grid showed (F1/F2: the "
    "rule's own permutation tests under simulated noise with the estimated objective- and run-level variances; "
    "F3: the sign-flip test over the seeds at Holm's first threshold, normal approximation). Confidence intervals "
    "are classical t intervals, descriptive only: a verdict rests on its permutation tests. Sign convention: larger "
    "forgetting statistic = more forgetting; downstream change = tuned minus base (WNLI left out of the mean, as "
    "in the GLUE baselines)."
)


def _margin_lines(f: Finding, settings: AnalysisSettings) -> list[str]:
    """F3's equivalence margins per model and metric."""
    if not f.margins:
        return []
    text = [
        f"`{metric}`: " + ", ".join(f"{m} ±{number(v)}" if v is not None else f"{m} none" for m, v in per_model.items())
        for metric, per_model in f.margins.items()
    ]
    return [
        f"Equivalence margins per model (TOST at alpha = {settings.alpha}, every model must pass): "
        + "; ".join(text)
        + f" (overall: {settings.equivalence_margin} × that model's own mean overall forgetting of the "
        f"'{settings.baseline_remedy}' runs, `analysis.equivalence_margin`, since models differ in loss "
        "scale; downstream: `analysis.downstream_equivalence_margin`).",
        "",
    ]


def _arms_lines(f: Finding, settings: AnalysisSettings) -> list[str]:
    """F3's table: one row per arm and metric, with what each needs to settle."""
    if not f.arms:
        return []
    lines = _f3_reach(f.arms)
    lines += [
        "| arm | metric | helpful | n | seeds (units) | estimate [95% t CI over seeds] | per model | "
        "p (sign-flip over seeds) | Holm p | TOST p per model (margin) | MDE (80%, Holm's first step) | "
        "to settle |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_arm_row(a) for a in f.arms]
    lines += [
        "",
        "Estimates: per seed, the mean over models of each (model, seed)'s mean paired difference (remedy "
        f"minus '{settings.baseline_remedy}'), or for 'more data' of its slope on log2 data size within "
        "(objective, remedy), as the fitted change from the smallest to the largest size; the table gives the "
        "mean over seeds. n: matched pairs (runs for 'more data'). The CI is a t interval over the seeds "
        "(descriptive). To settle: the seeds at which a helpful estimate would be detected, or equivalence "
        "shown in every model, at 80% power with this grid's noise per seed.",
        "",
    ]
    return lines


def _finding_lines(f: Finding, settings: AnalysisSettings, seeds: int) -> list[str]:
    """One claim's section of findings.md."""
    lines = [
        f"## {f.key}: {f.claim}",
        "",
        f"**Verdict: {f.verdict}** — {f.reason}.",
        "",
        f"Rule: {f.rule}",
        "",
        f"Tests: {f.tests}",
        "",
    ]
    lines += _reach_lines(f.reach)
    if f.unique is not None:
        lines += ["### Unique contributions of overall and selective forgetting (within model)", ""]
        lines += _unique_table(f.unique, settings.alpha, settings.permutations)
        lines += [
            _power_line(
                f.unique_power,
                f.unique.coefficients[0].estimate,
                f.unique.n,
                seeds,
                f.unique.objectives,
                "downstream-on-overall slope",
                f.reach,
            ),
            "",
        ]
    if f.sign_test is not None:
        if f.key == "F1":
            lines += [
                f"### Plain association: downstream change vs overall forgetting — within-model verdict: "
                f"{f.sign_test.verdict}",
                "",
                f"{f.sign_test.reason}.",
                "",
            ]
            lines += _reach_lines(f.plain_reach)
        lines += _slope_table(f.sign_test, settings.alpha, settings.permutations)
        lines += [
            _power_line(
                f.sign_test.power,
                f.sign_test.slope.within.estimate,
                f.sign_test.slope.within.n,
                seeds,
                f.sign_test.slope.objectives,
                "within-model slope",
                f.plain_reach if f.key == "F1" else f.reach,
            ),
            "",
        ]
    lines += _margin_lines(f, settings) + _arms_lines(f, settings)
    lines += [f"{note}" for note in f.notes] + ([""] if f.notes else [])
    return lines


def render_findings(findings: list[Finding], frame: pl.DataFrame, settings: AnalysisSettings) -> str:
    def levels(column: str) -> str:
        return ", ".join(str(v) for v in sorted(frame[column].unique().to_list(), key=str))

    seeds = frame["seed"].n_unique()
    lines = [
        "# Findings",
        "",
        f"Computed from {frame.height} fine-tuning runs (tables/runs.parquet). Models: {levels('model')}; "
        f"objectives: {levels('objective')}; remedies: {levels('remedy')}; data sizes: {levels('size')}; "
        f"seeds: {levels('seed')}.",
        "",
        INTRO.format(alpha=settings.alpha),
        "",
    ]
    for f in findings:
        lines += _finding_lines(f, settings, seeds)
    return "\n".join(lines)


def write_findings(
    frame: pl.DataFrame, settings: AnalysisSettings, out: str | Path, sections: Sequence[str] = ()
) -> list[Finding]:
    """Compute the findings and write findings.md once: the claims, then each of `sections` (Markdown) after a
    blank line."""
    findings = compute_findings(frame, settings)
    atomic_write_text(out, render_findings(findings, frame, settings) + "".join("\n" + s for s in sections))
    for f in findings:
        log.info("%s: %s (%s)", f.key, f.verdict, f.reason)
    return findings
