"""The tests behind the paper's three claims, computed on the tidy table and decided by the rules of `claims`
(docs/metrics.md, section 9): F1 and F2 by within-model fits whose permutations move whole objectives, F3 by
sign flips over the seeds (`seed_units`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import polars as pl

from fairforget.analysis import columns as cols
from fairforget.analysis.claims import (
    CONTRADICTS,
    INCONCLUSIVE,
    SUPPORTS,
    Finding,
    Power,
    SignTest,
    association_reach,
    comparative_reach,
    comparative_verdict,
    f1_claim,
    f2_claim,
    f3_claim,
    no_mde,
    remedies_verdict,
    sign_verdict,
)
from fairforget.analysis.numbers import number
from fairforget.analysis.power import scale_to_detect, sign_flip_mde
from fairforget.analysis.reach import count, seeds_reach, sign_flip_floor
from fairforget.analysis.seed_units import (
    GRID_FACTORS,
    mean_of,
    paired_units,
    seeds_to_settle,
    size_order,
    size_slopes,
    unit_test,
)
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.stats import holm
from fairforget.analysis.table import EXCLUDED_FROM_MEAN
from fairforget.analysis.unique import UniqueContribution, unique_contributions
from fairforget.analysis.within import SHARED_NOISE_STRATA, slope

log = logging.getLogger(__name__)

MORE_DATA = "more data"
# Offsets of the permutation seeds per claim, so the claims' draws differ but reruns are identical.
_SEED_F1, _SEED_F2, _SEED_F3 = 1000, 2000, 3000


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
    finding = f1_claim()
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
    finding = f2_claim()
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
        reference = mean_of(frame.filter((pl.col("model") == model) & (pl.col("remedy") == s.baseline_remedy))[metric])
        out[model] = s.equivalence_margin * reference if reference is not None and reference > 0 else None
        if out[model] is None:
            finding.notes.append(
                f"no overall-forgetting margin for {model}: its '{s.baseline_remedy}' runs' mean overall "
                f"forgetting is {number(reference)} (must be > 0)"
            )
    return out


def finding_remedies(frame: pl.DataFrame, s: AnalysisSettings) -> Finding:
    finding = f3_claim(s)
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
            matched = (
                pairs.lazy()
                .filter(pl.col(metric).is_not_null() & pl.col(f"_base:{metric}").is_not_null())
                .with_columns((pl.col(metric) - pl.col(f"_base:{metric}")).alias("difference"))
                .collect()
            )
            units, notes = paired_units(matched)
            finding.arms.append(
                unit_test(arm, metric, helpful, "paired", matched.height, units, margins[metric], s, seed, notes)
            )
            seed += 1
    if len(sizes) > 1:
        for metric, helpful in metrics:
            units, n, notes = size_slopes(frame, metric)
            finding.arms.append(
                unit_test(MORE_DATA, metric, helpful, "slope", n, units, margins[metric], s, seed, notes)
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
            a.seeds_needed = seeds_to_settle(a, level, s)
    return finding


def compute_findings(frame: pl.DataFrame, settings: AnalysisSettings) -> list[Finding]:
    return [finding_downstream(frame, settings), finding_selective(frame, settings), finding_remedies(frame, settings)]
