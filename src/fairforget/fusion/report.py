"""The fusion section of findings.md: the mean paths, the best weight and the fused-vs-remedy verdicts."""

from __future__ import annotations

from fairforget.analysis.numbers import MISSING, number, snap_zero
from fairforget.analysis.settings import AnalysisSettings
from fairforget.fusion.verdict import FusionResult, MeanTest


def _num(value: float | None, digits: int = 3, scale: float = 0.0) -> str:
    return number(value, digits, scale)


def _test(test: MeanTest | None, scale: float) -> str:
    if test is None or test.mean is None:
        return MISSING
    ci = f" [{_num(test.ci[0], scale=scale)}, {_num(test.ci[1], scale=scale)}]" if test.ci else ""
    p = f", p={_num(test.p, 2)}" if test.p is not None else ""
    adjusted = f", adj. p={_num(test.adjusted, 2)}" if test.adjusted is not None else ""
    return f"{_num(test.mean, scale=scale)}{ci}{p}{adjusted}"


def _share(part: float | None, whole: float | None, scale: float) -> str:
    part, whole = snap_zero(part, scale), snap_zero(whole, scale)
    if part is None or whole is None or whole == 0:
        return MISSING
    return f"{part / whole:.0%}"


def _scales(result: FusionResult) -> tuple[float, float, float]:
    """The largest absolute value of the forgetting, bias reduction and downstream axes (for snap_zero)."""
    c = result.columns
    sf, sr = result.scale.get(c.forgetting, 0.0), result.scale.get("bias_reduction", 0.0)
    sy = result.scale.get(c.downstream, 0.0) if c.downstream else 0.0
    return sf, sr, sy


def _paths_tables(result: FusionResult, settings: AnalysisSettings) -> list[str]:
    """The introduction, the mean path per objective and the best-alpha rows."""
    c = result.columns
    level = f"{1 - settings.alpha:.0%}"
    bias = c.bias if c.ideal is None else f"|{c.bias} − {c.ideal:g}|"
    sf, sr, sy = _scales(result)
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
            lines.append(f"| {p.objective} | {p.units} | {MISSING} ({p.reason}) | | | | | | | |")
            continue
        lines.append(
            f"| {p.objective} | {p.units} | {_num(p.best)} ({p.reason}) | {_test(p.best_reduction, sr)} | "
            f"{_share(p.reduction.get(p.best), p.reduction.get(1.0), sr)} | {_test(p.best_forgetting, sf)} | "
            f"{_share(p.forgetting.get(p.best), p.forgetting.get(1.0), sf)} | {_test(p.forgetting_vs_unfused, sf)} | "
            f"{_test(p.reduction_vs_unfused, sr)} | {_test(p.best_downstream, sy)} |"
        )
    return lines


def _comparisons_table(result: FusionResult, settings: AnalysisSettings) -> list[str]:
    """Fusion at the best alpha vs the other remedies, with the frontier verdicts."""
    if not result.comparisons:
        return [
            "",
            "No comparison with the remedies: the study has no remedy besides the fused runs' one (or the fused "
            "runs have several).",
        ]
    sf, sr, _ = _scales(result)
    lines = [
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
    return lines


def render_fusion(result: FusionResult, settings: AnalysisSettings) -> str:
    """The fusion section of findings.md (Markdown, ending with a newline)."""
    lines = _paths_tables(result, settings) + _comparisons_table(result, settings)
    if result.undetectable:
        lines += ["", f"Not detectable here: {result.undetectable}"]
    return "\n".join(lines) + "\n"
