"""findings.md and its plain-data twin (findings_as_dict): per claim the verdict, the rule, the tests used, n,
pooled / within-model / per-model estimates, (Holm-corrected) p-values, equivalence margins and the minimum
detectable effects."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from fairforget.analysis.findings import ArmTest, Finding, Power, SignTest, compute_findings
from fairforget.analysis.permutation import CoefficientTest
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.within import UniqueContribution
from fairforget.io import atomic_write_text

log = logging.getLogger(__name__)


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f" [{_num(ci[0])}, {_num(ci[1])}]"


def _settle(scale: float | None, n: int, seeds: int, unit: str, noise_sd: tuple[float, float] | None = None) -> str:
    if scale is None:
        return ""
    if scale <= 1:
        return (
            " The grid is already powered for an effect the size of the estimate; the verdict is open because "
            "of the test's outcome or a model's disagreement, which more seeds would settle."
        )
    runs = math.ceil(scale * n)
    text = (
        f" To detect an effect the size of the estimate at 80% power this needs ≈ {scale:.1f}× the {unit} "
        f"(≈ {runs} {unit}, e.g. ≈ {math.ceil(scale * seeds)} seeds instead of {seeds})"
    )
    if noise_sd is not None and noise_sd[0] > 0:
        text += (
            f", as far as run-level noise limits it; the objective-level noise (estimated sd {noise_sd[0]:.3g}, "
            f"run-level {noise_sd[1]:.3g}) shrinks only with more objectives"
        )
    return text + "."


def _coefficient_row(label: str, test: CoefficientTest, r: float | None, alpha: float, how: str) -> str:
    if not test.defined:
        return f"| {label} | {test.n} | undefined ({test.reason}) | — | — | — |"
    return (
        f"| {label} | {test.n} | {_num(test.estimate)}{_ci(test.ci(alpha))} | {_num(r, 2)} | "
        f"{_num(test.p_two_sided)} | {how} |"
    )


def _permutation_text(draws: int, exact: bool) -> str:
    return f"all {draws} objective relabellings" if exact else f"{draws} random objective relabellings"


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
            f"fixed effects {fe}; Freedman–Lane, {_permutation_text(fit.within.draws, fit.exact)} "
            f"(jointly in all models); run-level p (objectives taken as fixed, not used) "
            f"{_num(run_level)}",
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


def _power_line(power: Power, estimate: float | None, n: int, seeds: int, what: str) -> str:
    if power.mde is None:
        return f"Power: n = {n} runs; MDE {power.note}."
    note = f" ({power.note})" if power.note else ""
    return (
        f"Power: n = {n} runs; the smallest {what} this rule detects with 80% power (MDE) is "
        f"{_num(power.mde)}{note}; estimate {_num(estimate)}."
        + _settle(power.scale_needed, n, seeds, "runs", power.noise_sd)
    )


def _unique_table(u: UniqueContribution, alpha: float, permutations: int) -> list[str]:
    lines = [
        "| predictor (within model, other held fixed) | coefficient [95% CI] | standardized b* | "
        "unique ΔR² [95% CI] | per model b* (ΔR²) |",
        "|---|---|---|---|---|",
    ]
    b = u.standardized()
    for j, name in enumerate(u.predictors):
        c = u.coefficients[j]
        per = "; ".join(f"{m} {_num(v[j])} ({_num(u.per_model_unique[m][j], 2)})" for m, v in u.per_model.items())
        lines.append(
            f"| `{name}` | {_num(c.estimate)}{_ci(c.ci(alpha))} | {_num(b[j] if b else None)} | "
            f"{_num(u.unique[j], 2)}{_ci(u.unique_ci[j])} | {per} |"
        )
    lines.append("")
    if u.sum_test is not None and u.difference_test is not None and u.sum_test.defined:
        lines.append(
            f"n = {u.n} runs, within-model R² of both predictors {_num(u.within_r2, 2)}. Contrasts "
            f"(Freedman–Lane, {_permutation_text(u.sum_test.draws, u.exact)}): b1*+b2* two-sided p = "
            f"{_num(u.sum_test.p_two_sided)}; b1*−b2* two-sided p = {_num(u.difference_test.p_two_sided)}. "
            "b* = coefficient × root sum of squares of the predictor within strata, so |b1*| > |b2*| "
            "exactly when the first predictor's unique ΔR² is larger. ΔR² CIs map the coefficient's t-CI "
            "(approximate: the total within-model variance is held fixed)."
        )
        lines.append("")
    return lines


def _arm_row(a: ArmTest, alpha: float) -> str:
    direction = "lower" if a.helpful_sign < 0 else "higher"
    if a.estimate is None:
        return f"| {a.arm} | `{a.metric}` | {direction} | {a.n} | {a.note} | | | | | | | |"
    per = "; ".join(f"{m} {v:+.3g}" for m, v in a.per_model.items())
    test = ("sign-flip, exact" if a.exact else "sign-flip, random") if a.kind == "paired" else "permutation"
    tost = "—" if a.margin is None else f"{_num(a.p_tost)} (±{_num(a.margin)})"
    unit = "pairs" if a.kind == "paired" else "seeds"
    settle = (
        f"{a.scale_needed:.1f}× the {unit} (≈ {math.ceil(a.scale_needed * a.replicates)})" if a.scale_needed else ""
    )
    note = f" {a.note}" if a.note else ""
    return (
        f"| {a.arm} | `{a.metric}` | {direction} | {a.n} | {a.estimate:+.3g}{_ci(a.ci)}{note} | {per} | "
        f"{_num(a.p)} ({test}) | {_num(a.p_t)} | {_num(a.p_holm)} | {tost} | {_num(a.mde)} | {settle} |"
    )


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
        f"How to read this: each verdict is a statistical decision at alpha = {settings.alpha} whose error rates are "
        "checked on simulated tables with known truth (docs/metrics.md, section 9). *Within model* means fixed "
        "effects for every (model, data size, seed) stratum — runs that share the base checkpoint, the data "
        "subsample and the seed — so differences between models (e.g. their loss scales) or between seeds never "
        "drive a verdict. The associations F1 and F2 are about run across objectives, and an objective can move a "
        "metric for reasons of its own, so their permutation tests relabel whole objectives (jointly in all "
        "models): the objectives, not the runs, are the replicates, and with k objectives no p-value is below "
        "1/k! (with 4 objectives at best 1/24 = 0.042). *Pooled* ignores the "
        "model; it is shown next to the within-model and per-model estimates so that a Simpson's paradox is "
        "visible, and is never used for a verdict. Every model's own estimate must agree with a verdict's sign. "
        "F1 and F2 each rest on one decision (not corrected across claims); F3's tests are Holm-corrected. MDE = "
        "minimum detectable effect at 80% power of the verdict rule on this grid, given the noise the grid showed "
        "(F1/F2: the rule's own permutation tests under simulated noise with the estimated objective- and run-level "
        "variances; F3: t approximation at the Bonferroni level). Sign convention: larger forgetting statistic = "
        "more forgetting; downstream change = tuned minus base (WNLI left out of the mean, as in the GLUE "
        "baselines).",
        "",
    ]
    for f in findings:
        lines += [
            f"## {f.key}: {f.claim}",
            "",
            f"**Verdict: {f.verdict}** — {f.reason}.",
            "",
            f"Rule: {f.rule}",
            "",
            f"Tests: {f.tests}",
            "",
        ]
        if f.unique is not None:
            lines += ["### Unique contributions of overall and selective forgetting (within model)", ""]
            lines += _unique_table(f.unique, settings.alpha, settings.permutations)
            lines += [
                _power_line(
                    f.unique_power, f.unique.coefficients[0].estimate, f.unique.n, seeds, "downstream-on-overall slope"
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
            lines += _slope_table(f.sign_test, settings.alpha, settings.permutations)
            lines += [
                _power_line(
                    f.sign_test.power,
                    f.sign_test.slope.within.estimate,
                    f.sign_test.slope.within.n,
                    seeds,
                    "within-model slope",
                ),
                "",
            ]
        if f.margins:
            text = [
                f"`{metric}`: ±{_num(margin)}" if margin is not None else f"`{metric}`: none"
                for metric, margin in f.margins.items()
            ]
            lines += [
                f"Equivalence margins (TOST at alpha = {settings.alpha}): " + "; ".join(text) + f" (overall: "
                f"{settings.equivalence_margin} × the mean overall forgetting of the '{settings.baseline_remedy}'"
                f" runs, `analysis.equivalence_margin`; downstream: `analysis.downstream_equivalence_margin`).",
                "",
            ]
        if f.arms:
            lines += [
                "| arm | metric | helpful | n | estimate [95% CI] | per model | p (test) | p (t) | Holm p | "
                "TOST p (margin) | MDE (80%, Bonferroni) | to settle |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            lines += [_arm_row(a, settings.alpha) for a in f.arms]
            lines += [
                "",
                "Estimates: mean paired difference (remedy minus "
                f"'{settings.baseline_remedy}'), or for 'more data' the fitted change from the smallest to the "
                "largest data size (its CI, t p and MDE from the per-seed slopes: seeds are the replicates "
                "of a data-size effect). To settle: the multiple of the current pairs (seeds) at which a helpful "
                "estimate would be detected, or equivalence shown, at 80% power (normal approximation).",
                "",
            ]
        lines += [f"{note}" for note in f.notes] + ([""] if f.notes else [])
    return "\n".join(lines)


def _coefficient_record(test: CoefficientTest | None, alpha: float = 0.05) -> dict[str, Any] | None:
    if test is None:
        return None
    record = asdict(test)
    record["partial_r"] = test.partial_r
    record["ci"] = test.ci(alpha)
    return record


def finding_record(f: Finding) -> dict[str, Any]:
    record: dict[str, Any] = {
        "key": f.key,
        "verdict": f.verdict,
        "reason": f.reason,
        "rule": f.rule,
        "tests": f.tests,
        "x": f.x,
        "y": f.y,
        "margins": f.margins,
        "notes": f.notes,
    }
    if f.sign_test is not None:
        fit = f.sign_test.slope
        record["association"] = {
            "x": fit.x,
            "y": fit.y,
            "verdict": f.sign_test.verdict,
            "reason": f.sign_test.reason,
            "strata": list(fit.strata),
            "controls": list(fit.controls),
            "pooled_r": fit.pooled_r,
            "pooled": _coefficient_record(fit.pooled),
            "within": _coefficient_record(fit.within),
            "per_model": {m: _coefficient_record(t) for m, t in fit.per_model.items()},
            "power": asdict(f.sign_test.power),
        }
    if f.unique is not None:
        u = f.unique
        record["unique_contributions"] = {
            "predictors": list(u.predictors),
            "n": u.n,
            "unique": list(u.unique),
            "unique_ci": [list(c) if c else None for c in u.unique_ci],
            "standardized": u.standardized(),
            "coefficients": [_coefficient_record(c) for c in u.coefficients],
            "sum_test": _coefficient_record(u.sum_test),
            "difference_test": _coefficient_record(u.difference_test),
            "per_model": {m: list(v) for m, v in u.per_model.items()},
            "power": asdict(f.unique_power),
        }
    record["arms"] = [asdict(a) for a in f.arms]
    return record


def findings_as_dict(findings: list[Finding]) -> list[dict[str, Any]]:
    """Everything findings.md shows, as plain data (JSON-serialisable)."""
    return [finding_record(f) for f in findings]


def write_findings(frame: pl.DataFrame, settings: AnalysisSettings, out: str | Path) -> list[Finding]:
    findings = compute_findings(frame, settings)
    atomic_write_text(out, render_findings(findings, frame, settings))
    for f in findings:
        log.info("%s: %s (%s)", f.key, f.verdict, f.reason)
    return findings
