"""Choosing metric columns of the tidy table generically (metric names are only known by group prefix)."""

from __future__ import annotations

import polars as pl

from fairforget.analysis.settings import BIAS_GROUPS, AnalysisSettings
from fairforget.errors import DataError

# Suffixes of derived columns: a "value column" is a metric's own value, without any of these.
DERIVED_SUFFIXES = (".ci_low", ".ci_high", ".n", ".base", ".change", ".n_seeds")
DOWNSTREAM_CHANGE = "downstream.mean_change"


def value_columns(frame: pl.DataFrame, group: str) -> list[str]:
    return sorted(
        c
        for c in frame.columns
        if c.startswith(group + ".")
        and not c.endswith(DERIVED_SUFFIXES)
        and frame[c].dtype.is_numeric()
        and frame[c].null_count() < frame.height
    )


# Preferred statistics when the config names none (names of fairforget.metrics); else the first by name.
PREFERRED_OVERALL = ("mean_loss_change",)
PREFERRED_SELECTIVE = ("stereo_minus_anti_loss_change", "flips_to_anti_rate", "stereo_mean_loss_change")
PREFERRED_BIAS = ("stereo_preference", "ss")
# `<group>.stereo_preference` is a percentage of pairs preferring the stereotype: 50 = no preference.
KNOWN_BIAS_IDEALS = {"stereo_preference": 50.0, "ss": 50.0}


def _pick(
    frame: pl.DataFrame,
    configured: str | None,
    groups: tuple[str, ...],
    preferred: tuple[str, ...] = (),
    key: str = "",
) -> str | None:
    if configured is not None:
        # A configured column is used or refused, never silently replaced by another one.
        if configured not in frame.columns:
            raise DataError(f"config key 'analysis.{key}': column '{configured}' is not in the run table")
        if frame[configured].null_count() == frame.height:
            raise DataError(f"config key 'analysis.{key}': column '{configured}' has no values in the run table")
        return configured
    for group in groups:
        columns = value_columns(frame, group)
        for statistic in preferred:
            if f"{group}.{statistic}" in columns:
                return f"{group}.{statistic}"
        if columns:
            return columns[0]
    return None


def overall_forgetting_column(frame: pl.DataFrame, settings: AnalysisSettings) -> str | None:
    return _pick(
        frame,
        settings.overall_forgetting_metric,
        ("overall_forgetting",),
        PREFERRED_OVERALL,
        "overall_forgetting_metric",
    )


def selective_forgetting_column(frame: pl.DataFrame, settings: AnalysisSettings) -> str | None:
    return _pick(
        frame,
        settings.selective_forgetting_metric,
        ("selective_forgetting",),
        PREFERRED_SELECTIVE,
        "selective_forgetting_metric",
    )


def bias_column(frame: pl.DataFrame, settings: AnalysisSettings) -> str | None:
    return _pick(frame, settings.bias_metric, BIAS_GROUPS, PREFERRED_BIAS, "bias_metric")


def bias_ideal(column: str | None, settings: AnalysisSettings) -> float | None:
    """The "no bias" value of the bias column: configured, known for the statistic, or None (minimise)."""
    if settings.bias_ideal is not None or column is None:
        return settings.bias_ideal
    return KNOWN_BIAS_IDEALS.get(column.rsplit(".", 1)[-1])


def downstream_change_column(frame: pl.DataFrame) -> str | None:
    if DOWNSTREAM_CHANGE in frame.columns and frame[DOWNSTREAM_CHANGE].null_count() < frame.height:
        return DOWNSTREAM_CHANGE
    return None
