"""Choosing metric columns of the run table (fairforget.analysis.columns): value columns by group, the preferred
statistic, a configured column used or refused, the ideal of the bias statistic."""

from __future__ import annotations

import polars as pl
import pytest

from fairforget.analysis.columns import (
    bias_column,
    bias_ideal,
    downstream_change_column,
    overall_forgetting_column,
    selective_forgetting_column,
    value_columns,
)
from fairforget.analysis.settings import AnalysisSettings
from fairforget.errors import DataError

FRAME = pl.DataFrame(
    {
        "overall_forgetting.kl": [0.1, 0.2],
        "overall_forgetting.mean_loss_change": [0.3, 0.4],
        "overall_forgetting.mean_loss_change.ci_low": [0.2, 0.3],  # derived: not a value column
        "overall_forgetting.note": ["a", "b"],  # not numeric
        "selective_forgetting.zeta": [None, None],  # no values
        "selective_forgetting.alpha": [1.0, 2.0],
        "crows_pairs.stereo_preference": [55.0, 60.0],
        "planted.ss": [52.0, 51.0],
        "downstream.mean_change": [None, None],
    }
)


def test_value_columns_leave_out_derived_text_and_empty_columns() -> None:
    assert value_columns(FRAME, "overall_forgetting") == [
        "overall_forgetting.kl",
        "overall_forgetting.mean_loss_change",
    ]
    assert value_columns(FRAME, "selective_forgetting") == ["selective_forgetting.alpha"]


def test_the_preferred_statistic_then_the_first_by_name_then_none() -> None:
    settings = AnalysisSettings()
    assert overall_forgetting_column(FRAME, settings) == "overall_forgetting.mean_loss_change"
    assert selective_forgetting_column(FRAME, settings) == "selective_forgetting.alpha"  # none preferred: first
    assert bias_column(FRAME, settings) == "planted.ss"  # the first bias group with a column wins
    assert downstream_change_column(FRAME) is None  # present, but without a value
    assert overall_forgetting_column(pl.DataFrame({"x": [1]}), settings) is None


def test_a_configured_column_is_used_or_refused_naming_the_key() -> None:
    settings = AnalysisSettings(bias_metric="crows_pairs.stereo_preference")
    assert bias_column(FRAME, settings) == "crows_pairs.stereo_preference"
    with pytest.raises(DataError, match=r"'analysis.bias_metric': column 'stereoset.ss' is not in the run table"):
        bias_column(FRAME, AnalysisSettings(bias_metric="stereoset.ss"))
    with pytest.raises(DataError, match=r"'analysis.selective_forgetting_metric': column .* has no values"):
        selective_forgetting_column(FRAME, AnalysisSettings(selective_forgetting_metric="selective_forgetting.zeta"))


def test_the_bias_ideal_is_configured_known_or_none() -> None:
    assert bias_ideal("crows_pairs.stereo_preference", AnalysisSettings()) == 50.0
    assert bias_ideal("seat.effect_size", AnalysisSettings()) is None  # minimised
    assert bias_ideal("seat.effect_size", AnalysisSettings(bias_ideal=0.0)) == 0.0
