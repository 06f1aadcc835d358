"""The paper's three claims tested on the tidy table, with a verdict computed from the numbers.

Sign convention: every forgetting statistic is read as "larger = more forgetting" (the producers' contract);
`downstream.mean_change` is tuned minus base, so negative = the debiased model got worse downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fairforget.analysis import columns as cols
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.stats import Estimate, OlsFit, correlation, ols_fit, paired_difference, partial_correlation
from fairforget.io import atomic_write_text

log = logging.getLogger(__name__)

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
GRID_FACTORS = ("model", "objective", "remedy", "size", "seed")


@dataclass
class Association:
    """x vs y within one subset of runs."""

    subset: str
    pearson: Estimate
    spearman: Estimate
    ols: OlsFit
    partial: Estimate | None = None


@dataclass
class PairedComparison:
    remedy: str
    metric: str
    helpful_sign: int  # -1: a helpful remedy lowers the metric, +1: raises it
    estimate: Estimate


@dataclass
class Finding:
    key: str
    claim: str
    rule: str
    verdict: str = INCONCLUSIVE
    reason: str = ""
    x: str | None = None
    y: str | None = None
    associations: list[Association] = field(default_factory=list)
    comparisons: list[PairedComparison] = field(default_factory=list)


def _associations(
    frame: pl.DataFrame, x: str, y: str, covariates: Sequence[str], s: AnalysisSettings
) -> list[Association]:
    data = frame.filter(pl.col(x).is_not_null() & pl.col(y).is_not_null())
    subsets = [("pooled", data)] + [
        (f"model={m}", data.filter(pl.col("model") == m)) for m in sorted(data["model"].unique().to_list())
    ]
    out = []
    for label, part in subsets:
        xs, ys = part[x].to_list(), part[y].to_list()
        partial = None
        if label == "pooled":
            partial = partial_correlation(xs, ys, [part[c].cast(pl.Utf8).to_list() for c in covariates],
                                          s.bootstrap_samples, s.seed, s.alpha)
        out.append(Association(
            subset=label,
            pearson=correlation(xs, ys, "pearson", s.bootstrap_samples, s.seed, s.alpha),
            spearman=correlation(xs, ys, "spearman", s.bootstrap_samples, s.seed, s.alpha),
            ols=ols_fit(xs, ys, s.alpha), partial=partial,
        ))
    return out


def _excludes_zero(interval: tuple[float, float] | None) -> bool:
    return interval is not None and (interval[0] > 0 or interval[1] < 0)


def _sign_verdict(pooled: Association, claimed_sign: int, alpha: float) -> tuple[str, str]:
    """Both the bootstrap CI and the Fisher-z CI of the pooled Pearson r must exclude 0 (the percentile bootstrap
    alone is degenerate at very small n). A partial correlation (within the control groups, e.g. within each model)
    of the other sign with p < alpha vetoes either verdict: the pooled r is then driven by differences between the
    groups (Simpson's paradox; models have different loss scales), not by the within-group association."""
    r = pooled.pearson
    if not r.defined:
        return INCONCLUSIVE, f"pooled Pearson r undefined: {r.reason}"
    if r.ci_low is None:
        return INCONCLUSIVE, "bootstrap CI undefined (too few usable resamples)"
    fisher = r.extra.get("fisher_z_ci")
    if not r.ci_excludes_zero() or not _excludes_zero(fisher):
        fisher_text = "undefined (n <= 3)" if fisher is None else f"[{fisher[0]:.3f}, {fisher[1]:.3f}]"
        return INCONCLUSIVE, (f"r = {r.value:.3f}; bootstrap CI [{r.ci_low:.3f}, {r.ci_high:.3f}], Fisher-z CI "
                              f"{fisher_text}: not both exclude 0")
    sign = 1 if r.value > 0 else -1
    partial = pooled.partial
    if (partial is not None and partial.defined and partial.p_value is not None and partial.p_value < alpha
            and (partial.value > 0) != (sign > 0)):
        claimed = "has" if sign == claimed_sign else "is opposite to"
        return INCONCLUSIVE, (f"pooled r = {r.value:.3f} {claimed} the claimed sign but the partial correlation "
                              f"({partial.value:.3f}, p={partial.p_value:.3g}) reverses it")
    if sign != claimed_sign:
        return CONTRADICTS, f"r = {r.value:.3f}, both CIs exclude 0 with the opposite sign to the claim"
    return SUPPORTS, f"r = {r.value:.3f}, both CIs exclude 0 with the claimed sign"


def _sign_finding(
    finding: Finding, frame: pl.DataFrame, s: AnalysisSettings, x: str | None, y: str | None, missing: str,
    controls: tuple[str, ...], claimed_sign: int,
) -> Finding:
    """Fill `finding` with the association of columns x and y (partial correlation controlling for `controls`)
    and its sign verdict; when either column is absent, `missing` is the reason and there is no verdict."""
    finding.x, finding.y = x, y
    if finding.x is None or finding.y is None:
        finding.reason = missing
        return finding
    finding.associations = _associations(frame, finding.x, finding.y, controls, s)
    finding.verdict, finding.reason = _sign_verdict(finding.associations[0], claimed_sign, s.alpha)
    return finding


def finding_downstream(frame: pl.DataFrame, s: AnalysisSettings) -> Finding:
    finding = Finding(
        key="F1", claim="Downstream performance is driven by overall forgetting: runs that forget more general "
        "LM ability lose more downstream (negative association).",
        rule="supports if both the bootstrap CI and the Fisher-z CI of the pooled Pearson r (downstream change vs "
        "overall forgetting) exclude 0 with a negative sign and the partial correlation controlling for model and "
        "objective is not of the opposite sign with p < alpha; contradicts if both CIs exclude 0 with a positive "
        "sign and that partial correlation is not negative with p < alpha; otherwise inconclusive.",
    )
    return _sign_finding(finding, frame, s, cols.overall_forgetting_column(frame, s),
                         cols.downstream_change_column(frame),
                         "the table has no overall forgetting or no downstream change column", ("model", "objective"),
                         -1)


def finding_selective(frame: pl.DataFrame, s: AnalysisSettings) -> Finding:
    finding = Finding(
        key="F2", claim="Selective forgetting of stereotypes increases overall forgetting (positive association "
        "across objectives and data sizes).",
        rule="supports if both the bootstrap CI and the Fisher-z CI of the pooled Pearson r (overall vs selective "
        "forgetting) exclude 0 with a positive sign and the partial correlation controlling for model is not of the "
        "opposite sign with p < alpha; contradicts if both CIs exclude 0 with a negative sign and that partial "
        "correlation is not positive with p < alpha; otherwise inconclusive.",
    )
    # Objective is not controlled for: differences between objectives are the variation F2 is about.
    return _sign_finding(finding, frame, s, cols.selective_forgetting_column(frame, s),
                         cols.overall_forgetting_column(frame, s),
                         "the table has no selective or no overall forgetting column", ("model",), +1)


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
    """Data sizes from smallest to largest; `full` is the largest."""
    return sorted(set(sizes), key=lambda v: (v == "full", int(v) if v != "full" else 0))


def finding_remedies(frame: pl.DataFrame, s: AnalysisSettings) -> Finding:
    finding = Finding(
        key="F3", claim="General anti-forgetting remedies (more data, regularisation) neither reduce overall "
        "forgetting nor help downstream performance.",
        rule="per remedy, paired differences (remedy minus no remedy, matched on model, objective, size, seed; "
        "for 'more data': largest minus smallest data size, matched on model, objective, remedy, seed): "
        "contradicts if the bootstrap CI of the mean difference excludes 0 in the helpful direction for overall "
        "forgetting (lower) or downstream change (higher); supports if neither does with n >= 3 pairs (absence of "
        "evidence at this n, not proof of no effect); inconclusive if n < 3. Overall: contradicts if any remedy "
        "contradicts, supports if all remedies support, else inconclusive.",
    )
    overall = cols.overall_forgetting_column(frame, s)
    downstream = cols.downstream_change_column(frame)
    arms = [("remedy", r, s.baseline_remedy, r) for r in sorted(set(frame["remedy"].to_list()) - {s.baseline_remedy})]
    sizes = size_order(frame["size"].to_list())
    if len(sizes) > 1:
        arms.append(("size", sizes[-1], sizes[0], f"more data ({sizes[-1]} vs {sizes[0]})"))
    if not arms:
        finding.reason = f"the study has no remedy besides '{s.baseline_remedy}' and a single data size"
        return finding
    verdicts = []
    for factor, treated, baseline, label in arms:
        arm_verdict = SUPPORTS
        for metric, helpful in ((overall, -1), (downstream, +1)):
            if metric is None:
                continue
            diffs = paired_differences(frame, metric, treated, baseline, factor)["difference"].to_list()
            estimate = paired_difference(diffs, s.bootstrap_samples, s.seed, s.alpha)
            finding.comparisons.append(PairedComparison(label, metric, helpful, estimate))
            if not estimate.defined or estimate.ci_low is None:
                arm_verdict = INCONCLUSIVE if arm_verdict != CONTRADICTS else arm_verdict
            elif (helpful < 0 and estimate.ci_high < 0) or (helpful > 0 and estimate.ci_low > 0):
                arm_verdict = CONTRADICTS
        verdicts.append((label, arm_verdict))
    if any(v == CONTRADICTS for _, v in verdicts):
        finding.verdict = CONTRADICTS
    elif all(v == SUPPORTS for _, v in verdicts):
        finding.verdict = SUPPORTS
    finding.reason = "; ".join(f"{r}: {v}" for r, v in verdicts)
    return finding


def compute_findings(frame: pl.DataFrame, settings: AnalysisSettings) -> list[Finding]:
    return [finding_downstream(frame, settings), finding_selective(frame, settings), finding_remedies(frame, settings)]


# ------------------------------------------------------------------------------------------------ rendering


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _estimate(e: Estimate | None) -> str:
    if e is None:
        return "—"
    if not e.defined:
        return f"undefined ({e.reason})"
    ci = f"[{_num(e.ci_low)}, {_num(e.ci_high)}]" if e.ci_low is not None else "[CI undefined]"
    fisher = e.extra.get("fisher_z_ci")
    fisher_text = f" (Fisher-z [{_num(fisher[0])}, {_num(fisher[1])}])" if fisher else ""
    return f"{e.value:.3f} {ci}{fisher_text}, p={_num(e.p_value)}"


def _ols(fit: OlsFit) -> str:
    if not fit.defined:
        return f"undefined ({fit.reason})"
    return f"slope {fit.slope:.3g} [{fit.slope_ci[0]:.3g}, {fit.slope_ci[1]:.3g}], R²={fit.r_squared:.3f}"


def render_findings(findings: list[Finding], frame: pl.DataFrame, settings: AnalysisSettings) -> str:
    def levels(column: str) -> str:
        return ", ".join(str(v) for v in sorted(frame[column].unique().to_list(), key=str))

    lines = [
        "# Findings", "",
        f"Computed from {frame.height} fine-tuning runs (tables/runs.parquet). Models: {levels('model')}; "
        f"objectives: {levels('objective')}; remedies: {levels('remedy')}; data sizes: {levels('size')}; "
        f"seeds: {levels('seed')}.", "",
        f"Statistics: Pearson/Spearman with two-sided analytic p-values and {settings.bootstrap_samples}-resample "
        f"percentile bootstrap {100 * (1 - settings.alpha):.0f}% CIs (seed {settings.seed}; approximate, too narrow "
        "at small n; for Pearson r the analytic Fisher-z CI is shown too); OLS via statsmodels; partial "
        "correlation by residualising on dummy-coded covariates; paired "
        "tests: Wilcoxon signed-rank (paired t p-value in brackets). A statistic with n < 3 is reported as "
        "undefined. Sign convention: larger forgetting statistic = more forgetting.", "",
    ]
    for f in findings:
        lines += [f"## {f.key}: {f.claim}", "", f"**Verdict: {f.verdict}** — {f.reason}.", "", f"Rule: {f.rule}", ""]
        if f.x and f.y:
            lines += [f"x = `{f.x}`, y = `{f.y}`.", ""]
        if f.associations:
            lines += ["| runs | n | Pearson r [CI], p | Spearman ρ [CI], p | OLS y~x | partial r [CI], p |",
                      "|---|---|---|---|---|---|"]
            for a in f.associations:
                lines.append(f"| {a.subset} | {a.pearson.n} | {_estimate(a.pearson)} | {_estimate(a.spearman)} | "
                             f"{_ols(a.ols)} | {_estimate(a.partial)} |")
            pooled = f.associations[0].partial
            if pooled is not None and pooled.defined:
                lines.append(f"\nPartial correlation: {pooled.extra.get('covariate_dummies')} covariate dummies, "
                             f"{pooled.extra.get('dof')} degrees of freedom.")
            lines.append("")
        if f.comparisons:
            lines += ["| remedy | metric | helpful direction | n pairs | mean difference [CI], Wilcoxon p "
                      "| paired t p |",
                      "|---|---|---|---|---|---|"]
            for c in f.comparisons:
                t_p = c.estimate.extra.get("t_test_p") if c.estimate.defined else None
                lines.append(f"| {c.remedy} | `{c.metric}` | {'lower' if c.helpful_sign < 0 else 'higher'} | "
                             f"{c.estimate.n} | {_estimate(c.estimate)} | {_num(t_p)} |")
            lines.append("")
    return "\n".join(lines)


def findings_as_dict(findings: list[Finding]) -> list[dict[str, Any]]:
    return [
        {"key": f.key, "verdict": f.verdict, "reason": f.reason, "x": f.x, "y": f.y,
         "associations": [{"subset": a.subset, "pearson": a.pearson.as_dict(), "spearman": a.spearman.as_dict(),
                           "ols": a.ols.as_dict(), "partial": a.partial.as_dict() if a.partial else None}
                          for a in f.associations],
         "comparisons": [{"remedy": c.remedy, "metric": c.metric, "estimate": c.estimate.as_dict()}
                         for c in f.comparisons]}
        for f in findings
    ]


def write_findings(frame: pl.DataFrame, settings: AnalysisSettings, out: str | Path) -> list[Finding]:
    findings = compute_findings(frame, settings)
    atomic_write_text(out, render_findings(findings, frame, settings))
    for f in findings:
        log.info("%s: %s (%s)", f.key, f.verdict, f.reason)
    return findings
