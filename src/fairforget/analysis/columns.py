"""Choosing metric columns of the tidy table generically (metric names are only known by group prefix)."""

from __future__ import annotations

import polars as pl

from fairforget.analysis.settings import BIAS_GROUPS, AnalysisSettings

# Suffixes of derived columns: a "value column" is a metric's own value, without any of these.
DERIVED_SUFFIXES = (".ci_low", ".ci_high", ".n", ".base", ".change", ".n_seeds")
DOWNSTREAM_CHANGE = "downstream.mean_change"


def value_columns(frame: pl.DataFrame, group: str) -> list[str]:
    return sorted(
        c for c in frame.columns
        if c.startswith(group + ".") and not c.endswith(DERIVED_SUFFIXES)
        and frame[c].dtype.is_numeric() and frame[c].null_count() < frame.height
    )


# Preferred statistics when the config names none (names of fairforget.metrics); else the first by name.
PREFERRED_SELECTIVE = ("stereo_minus_anti_loss_change", "flips_to_anti_rate", "stereo_mean_loss_change")
PREFERRED_BIAS = ("stereo_preference", "ss")
# `<group>.stereo_preference` is a percentage of pairs preferring the stereotype: 50 = no preference.
KNOWN_BIAS_IDEALS = {"stereo_preference": 50.0, "ss": 50.0}


def _pick(
    frame: pl.DataFrame, configured: str | None, groups: tuple[str, ...], preferred: tuple[str, ...] = ()
) -> str | None:
    if configured is not None and configured in frame.columns:
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
    return _pick(frame, settings.overall_forgetting_metric, ("overall_forgetting",))


def selective_forgetting_column(frame: pl.DataFrame, settings: AnalysisSettings) -> str | None:
    return _pick(frame, settings.selective_forgetting_metric, ("selective_forgetting",), PREFERRED_SELECTIVE)


def bias_column(frame: pl.DataFrame, settings: AnalysisSettings) -> str | None:
    return _pick(frame, settings.bias_metric, BIAS_GROUPS, PREFERRED_BIAS)


def bias_ideal(column: str | None, settings: AnalysisSettings) -> float | None:
    """The "no bias" value of the bias column: configured, known for the statistic, or None (minimise)."""
    if settings.bias_ideal is not None or column is None:
        return settings.bias_ideal
    return KNOWN_BIAS_IDEALS.get(column.rsplit(".", 1)[-1])


def downstream_change_column(frame: pl.DataFrame) -> str | None:
    if DOWNSTREAM_CHANGE in frame.columns and frame[DOWNSTREAM_CHANGE].null_count() < frame.height:
        return DOWNSTREAM_CHANGE
    return None
