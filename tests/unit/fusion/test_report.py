"""findings.md's fusion section (fairforget.fusion.report): numbers zero up to float error print as zero."""

from __future__ import annotations

import polars as pl
import pytest

from fairforget.analysis.numbers import snap_zero
from fairforget.analysis.settings import AnalysisSettings
from fairforget.fusion.report import render_fusion
from fairforget.fusion.settings import FusionSettings
from fairforget.fusion.table import ALPHA
from fairforget.fusion.verdict import analyse_fusion
from fusion_helpers import fusion_frames


def test_values_zero_up_to_float_error_render_as_zero():
    assert snap_zero(1.39e-17, 0.1) == 0.0 and snap_zero(-2e-14, 40.0) == 0.0
    assert snap_zero(1e-6, 0.1) == 1e-6 and snap_zero(None, 1.0) is None
    assert snap_zero(1e-20, 0.0) == 1e-20  # no scale: nothing to be small against
    # 0.1 + 0.2 - 0.3 is 5.55e-17, not 0: a path whose best-alpha difference is such noise prints 0
    fusion_frame, run_frame = fusion_frames(units=2)
    f = "overall_forgetting.mean_loss_change"
    noisy = fusion_frame.with_columns(pl.when(pl.col(ALPHA) == 0.0).then(0.1 + 0.2 - 0.3).otherwise(pl.col(f)).alias(f))
    settings = AnalysisSettings(permutations=99)
    result = analyse_fusion(noisy, run_frame, settings, FusionSettings(enabled=True))
    assert result.paths[0].forgetting[0.0] == pytest.approx(5.55e-17, rel=0.01)  # the stored value is kept
    text = render_fusion(result, settings)
    assert "e-17" not in text and "| cda | 2 | 0 / 0 / 0 |" in text
