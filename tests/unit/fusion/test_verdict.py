"""The fusion verdict (fairforget.fusion.verdict): best alpha and frontier verdicts by hand, the analysis on a
known path, and what too few units cannot detect."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fairforget.analysis.settings import AnalysisSettings
from fairforget.fusion.report import render_fusion
from fairforget.fusion.settings import FusionSettings
from fairforget.fusion.verdict import MeanTest, analyse_fusion, best_alpha, frontier_verdict
from fusion_helpers import fusion_frames


def test_best_alpha_by_hand():
    forgetting = {0.0: 0.0, 0.5: 0.04, 0.75: 0.07, 1.0: 0.1}
    reduction = {0.0: 0.0, 0.5: 20.0, 0.75: 30.0, 1.0: 40.0}
    # share 0.5: allowed 0, 0.5 (0.04 <= 0.05); 0.75 forgets 0.07 > 0.05
    assert best_alpha(forgetting, reduction, 0.5)[0] == 0.5
    assert best_alpha(forgetting, reduction, 0.75)[0] == 0.75  # 0.07 <= 0.075
    assert best_alpha(forgetting, reduction, 1.0)[0] == 1.0
    assert best_alpha({0.0: 0.0, 1.0: -0.01}, {0.0: 0.0, 1.0: 5.0}, 0.5)[0] == 1.0  # nothing to undo


def test_frontier_verdicts_by_hand():
    def mean(values):
        return MeanTest.of(np.array(values, dtype=float), 0.05, 999, 0)

    down = mean([-1.0, -2.0, -1.5, -1.2, -1.1, -1.3])  # six negative pairs: exact sign-flip p = 2/64
    up = mean([1.0, 2.0, 1.5, 1.2, 1.1, 1.3])
    noise = mean([1.0, -1.0, 0.5, -0.5, 0.2, -0.2])
    assert down.p == pytest.approx(2 / 64)
    assert frontier_verdict(down, noise, 0.05)[0] == "fusion dominates"  # less forgetting, no worse on bias
    assert frontier_verdict(up, noise, 0.05)[0] == "remedy dominates"
    assert frontier_verdict(down, down, 0.05)[0] == "trade-off"  # less forgetting but less bias reduction
    assert frontier_verdict(noise, noise, 0.05)[0] == "inconclusive"
    five = mean([-1.0, -2.0, -1.5, -1.2, -1.1])  # five pairs: the smallest p is 2/32 > 0.05
    assert frontier_verdict(five, five, 0.05)[0] == "inconclusive"


def test_frontier_verdict_needs_every_model_to_agree():
    def mean(values, models):
        return MeanTest.of(np.array(values, dtype=float), 0.05, 999, 0, np.array(models))

    models = ["bert"] * 6 + ["llama"] * 6
    llama = [-3.0, -2.0, -4.0, -3.0, -2.0, -4.0]
    noise = mean([1.0, -1.0, 0.5, -0.5, 0.2, -0.2] * 2, models)
    # llama's large scale drives the mean below 0 (exact p = 2 x 2^6 / 2^12 = 1/32: the six llama pairs' signs);
    # bert's own mean is +0.01: not claimed
    split = mean([0.01] * 6 + llama, models)
    assert split.p == pytest.approx(1 / 32) and not split.agrees()
    assert split.per_model == pytest.approx({"bert": 0.01, "llama": -3.0})
    verdict, reason = frontier_verdict(split, noise, 0.05)
    assert verdict == "inconclusive" and "disagree in sign" in reason and "bert 0.01" in reason
    agreeing = mean([-0.01] * 6 + llama, models)
    assert agreeing.agrees() and frontier_verdict(agreeing, noise, 0.05)[0] == "fusion dominates"
    # a significant loss blocks dominance even when the models disagree on it (less bias reduction, split)
    assert frontier_verdict(agreeing, split, 0.05)[0] == "inconclusive"
    assert frontier_verdict(agreeing, agreeing, 0.05)[0] == "trade-off"


def test_analysis_on_a_known_path():
    fusion_frame, run_frame = fusion_frames(units=8)
    settings = AnalysisSettings(permutations=999)
    result = analyse_fusion(fusion_frame, run_frame, settings, FusionSettings(enabled=True, forgetting_share=0.5))
    path = result.paths[0]
    # alpha 0.5 forgets 0.05 + 0.0005 u <= 0.5 x (0.1 + 0.001 u): allowed, and reduces |90 - 50| - |65 - 50| = 25
    assert path.best == 0.5 and path.candidates == 3
    assert path.best_reduction.mean == pytest.approx(25.0)
    assert path.reduction[1.0] == pytest.approx(30.0)
    assert path.best_forgetting.mean == pytest.approx(0.05 + 0.0005 * 3.5)
    (comparison,) = result.comparisons
    # vs l2sp: forgetting 0.05.. vs 0.08..: less in all 8 pairs (exact p = 2/256); bias reduction 25 vs 20: more.
    # Selection over K = 3 weights: 3 x 2/256; Holm over the 2 tests, both that small: 2 x 3 x 2/256 = 0.047.
    assert comparison.forgetting.p == pytest.approx(2 / 256)
    assert comparison.forgetting.adjusted == pytest.approx(2 * 3 * 2 / 256)
    assert comparison.reduction.adjusted == pytest.approx(2 * 3 * 2 / 256)
    assert comparison.remedy == "l2sp" and comparison.verdict == "fusion dominates"
    # the smallest Holm threshold 0.05 / (3 x 2) needs 2^(1-n) below it: n >= 8
    assert result.smallest_level == pytest.approx(0.05 / 6) and result.min_units_to_detect == 8
    text = render_fusion(result, settings)
    assert "| cda | 8 | 0.5 (" in text and "fusion dominates" in text and "Not detectable" not in text


def test_analysis_says_what_too_few_units_cannot_detect():
    for units in (2, 6):  # six pairs would reach p = 2/64 < 0.05 unadjusted, not the adjusted threshold 0.05/6
        fusion_frame, run_frame = fusion_frames(units=units)
        settings = AnalysisSettings(permutations=999)
        result = analyse_fusion(fusion_frame, run_frame, settings, FusionSettings(enabled=True))
        assert result.comparisons[0].verdict == "inconclusive"
        text = render_fusion(result, settings)
        assert f"Not detectable here: with {units} matched unit(s)" in text and "at least 8 units" in text
        # the best-alpha rows (threshold 0.05 / 3): 2^(1-n) < 1/60 needs n >= 7
        assert "best-α rows' tests (threshold 0.05 / 3 weights) cannot reject" in text and "at least 7 are" in text
        assert f"with {units} unit(s) either:" in text  # after the fused-vs-remedy sentence


def test_without_other_remedies_only_the_best_alpha_limit_is_said():
    fusion_frame, run_frame = fusion_frames(units=2)
    settings = AnalysisSettings(permutations=999)
    result = analyse_fusion(
        fusion_frame, run_frame.filter(pl.col("remedy") == "none"), settings, FusionSettings(enabled=True)
    )
    assert result.comparisons == []
    assert result.undetectable == (
        "The best-α rows' tests (threshold 0.05 / 3 weights) cannot reject with 2 unit(s): at least 7 are needed."
    )
