"""The findings' tests (fairforget.analysis.findings) on cases small enough to check by hand: F3's seed unit and
per-model margins, F1's within-model control of the remedy, the "more data" sign flip over per-seed slopes."""

from __future__ import annotations

import math

import polars as pl
import pytest


def test_more_data_is_a_sign_flip_over_per_seed_slopes():
    """y = 0.1 * log2(size) exactly, 3 seeds x 2 sizes: each seed's slope (fixed effects per objective and
    remedy) is the change over the size range, 0.2; the 2^3 sign flips of the seeds leave p = 2/8."""
    from fairforget.analysis.findings import MORE_DATA, finding_remedies
    from fairforget.analysis.settings import AnalysisSettings

    rows = []
    for seed in (0, 1, 2):
        for size, n in (("100", 100), ("full", 400)):
            for objective in ("a", "b"):
                for remedy in ("none", "l2"):
                    value = 1.0 + 0.1 * math.log2(n) + 0.01 * seed + (0.05 if objective == "b" else 0.0)
                    rows.append(("m", objective, remedy, size, None if size == "full" else n, seed, n, value))
    frame = pl.DataFrame(
        rows,
        schema=[
            "model",
            "objective",
            "remedy",
            "size",
            "size_n",
            "seed",
            "training.n_debias_texts",
            "overall_forgetting.mean_loss_change",
        ],
        orient="row",
    )
    finding = finding_remedies(frame, AnalysisSettings(permutations=199))
    arm = next(a for a in finding.arms if a.arm == MORE_DATA)
    assert arm.estimate == pytest.approx(0.1 * 2.0)  # log2(400 / 100) = 2 doublings
    assert arm.unit_values == pytest.approx([0.2, 0.2, 0.2])  # one slope per seed
    # sign flips of the 3 seeds' slopes: only all-plus and all-minus reach |mean| = 0.2, p = 2/8
    assert arm.exact and arm.p == pytest.approx(2 / 8)
    assert arm.units == 3 and arm.sd == pytest.approx(0.0, abs=1e-12)
    assert "100–400 texts" in arm.note
    # the floor 2/2^3 is above Holm's first threshold (alpha / 2 tests): no MDE, contradicts unreachable
    assert arm.mde is None and "smallest attainable p is 0.25" in arm.mde_note
    contradicts = next(r for r in arm.reach if r.verdict == "contradicts")
    assert not contradicts.reachable and contradicts.needed == 7  # 2/2^7 = 0.0156 < 0.025


def test_f3_seed_is_the_unit_with_per_model_margins():
    """2 models x 5 seeds, one objective and size, remedy r vs none. Per (model, seed) differences: model a
    +0.1 in every seed, model b +0.3, -0.1, +0.3, +0.3, +0.3; per seed the mean over models: 0.2, 0.0, 0.2, 0.2,
    0.2. Sign flips of the 5 seeds (2^5 = 32): |sum| >= 0.8 only for the identity and its negation (the zero seed
    flips freely): 2 x 2 of 32, p = 0.125. Margins 0.2 x each model's own `none` mean (a: 1, b: 4): 0.2 and 0.8.
    TOST for a: all d - 0.2 = -0.1 < 0 and d + 0.2 = 0.3 > 0, reached only by the identity: p = 1/32; for b
    (margin 0.8) likewise p = 1/32."""
    from fairforget.analysis.claims import SUPPORTS
    from fairforget.analysis.findings import finding_remedies
    from fairforget.analysis.settings import AnalysisSettings

    metric = "overall_forgetting.mean_loss_change"
    diffs = {"a": [0.1] * 5, "b": [0.3, -0.1, 0.3, 0.3, 0.3]}
    base = {"a": 1.0, "b": 4.0}
    rows = []
    for model, values in diffs.items():
        for seed, d in enumerate(values):
            for remedy, value in (("none", base[model]), ("r", base[model] + d)):
                rows.append(
                    {"model": model, "objective": "o", "remedy": remedy, "size": "full", "size_n": 100,
                     "seed": seed, metric: value}
                )  # fmt: skip
    frame = pl.DataFrame(rows)
    finding = finding_remedies(frame, AnalysisSettings(permutations=199, overall_forgetting_metric=metric))
    arm = next(a for a in finding.arms if a.arm == "r")
    assert arm.units == 5 and arm.unit_values == pytest.approx([0.2, 0.0, 0.2, 0.2, 0.2])
    assert arm.estimate == pytest.approx(0.16) and arm.per_model == pytest.approx({"a": 0.1, "b": 0.22})
    assert arm.exact and arm.p == pytest.approx(4 / 32)
    assert arm.margins == pytest.approx({"a": 0.2, "b": 0.8})
    assert arm.per_model_tost == pytest.approx({"a": 1 / 32, "b": 1 / 32}) and arm.p_tost == pytest.approx(1 / 32)
    assert finding.verdict == SUPPORTS  # one arm, one metric, equivalent in every model


def test_f1_controls_remedy_within_model():
    """Remedy r raises overall forgetting by 1 and lowers downstream change by 2 in every run; across objectives
    the two are orthogonal (u = +1, -1, +1, -1, v = +1, +1, -1, -1). With remedy controlled the within-model slope
    is exactly 0; without, the remedy's covariance would give a negative slope."""
    from fairforget.analysis.findings import finding_downstream
    from fairforget.analysis.settings import AnalysisSettings
    from fairforget.analysis.within import SHARED_NOISE_STRATA, slope

    overall, downstream = "overall_forgetting.mean_loss_change", "downstream.mean_change"
    u, v = [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]
    rows = [
        {"model": m, "objective": f"o{i}", "remedy": r, "size": "full", "size_n": 100, "seed": 0,
         overall: u[i] + (1.0 if r == "r" else 0.0), downstream: v[i] - (2.0 if r == "r" else 0.0)}
        for m in ("a", "b") for i in range(4) for r in ("none", "r")
    ]  # fmt: skip
    frame = pl.DataFrame(rows)
    settings = AnalysisSettings(permutations=199, overall_forgetting_metric=overall)
    finding = finding_downstream(frame, settings, with_power=False)
    fit = finding.sign_test.slope
    assert fit.controls == ("remedy",) and fit.within.estimate == pytest.approx(0.0, abs=1e-12)
    uncontrolled = slope(frame, overall, downstream, SHARED_NOISE_STRATA, (), 199, 0)
    # per model: cov(x, y) = cov(r, -2 r) = -2 x 0.25, var(x) = var(u) + var(r) = 1 + 0.25: slope -0.5 / 1.25
    assert uncontrolled.within.estimate == pytest.approx(-0.4)
