"""The `analysis:` config section, with defaults, as one typed object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fairforget.errors import ConfigError

DEFAULT_OVERALL_METRIC = "overall_forgetting.mean_loss_change"
# Bias groups, most informative first for the toy study (the planted stereotype is what the toy model holds).
BIAS_GROUPS = ("planted", "crows_pairs", "winobias", "stereoset")


@dataclass(frozen=True)
class AnalysisSettings:
    bootstrap_samples: int = 1000
    seed: int = 0
    alpha: float = 0.05
    # Column names of the statistics the findings use; None = chosen from the table (stated in findings.md).
    overall_forgetting_metric: str = DEFAULT_OVERALL_METRIC
    selective_forgetting_metric: str | None = None
    bias_metric: str | None = None
    # Value of the bias metric that means "no bias"; None = 50 for `*.stereo_preference` and StereoSet `ss`
    # (percentages), otherwise the frontier minimises the raw value.
    bias_ideal: float | None = None
    # task -> metric name for `downstream.mean_change`; tasks not listed use the result's `primary_metric`,
    # else the task's meta.json `metric`.
    primary_metrics: dict[str, str] = field(default_factory=dict)
    baseline_remedy: str = "none"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AnalysisSettings:
        section = config.get("analysis") or {}
        if not isinstance(section, dict):
            raise ConfigError("config key 'analysis': expected a mapping")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"config key 'analysis': unknown key(s) {', '.join(unknown)}; allowed: {sorted(known)}")
        settings = cls(**section)
        if settings.bootstrap_samples < 1:
            raise ConfigError("config key 'analysis.bootstrap_samples': must be a positive integer")
        if not 0 < settings.alpha < 1:
            raise ConfigError("config key 'analysis.alpha': must lie strictly between 0 and 1")
        return settings
