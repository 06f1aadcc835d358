"""The `analysis:` config section, with defaults, as one typed object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fairforget.errors import ConfigError, config_section

# Bias groups, most informative first for the toy study (the planted stereotype is what the toy model holds).
BIAS_GROUPS = ("planted", "crows_pairs", "winobias", "stereoset")


@dataclass(frozen=True)
class AnalysisSettings:
    # Random permutations (and sign flips beyond 2^16) per test in findings.md, and their seed.
    permutations: int = 9999
    seed: int = 0
    # Level of every test; CIs are (1 - alpha).
    alpha: float = 0.05
    # F3 equivalence margins (TOST): overall forgetting, as a fraction of the mean overall forgetting of the
    # baseline-remedy runs (0.2 = the 80-125% bioequivalence convention); downstream change, in units of the
    # primary downstream metric (0.01 = one point of accuracy / MCC / correlation).
    equivalence_margin: float = 0.2
    downstream_equivalence_margin: float = 0.01
    # Column names of the statistics the findings use; None = chosen from the table (stated in findings.md).
    # A column named here that the table lacks is an error, never a silent fallback.
    overall_forgetting_metric: str | None = None
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
        settings = cls(**config_section(config, "analysis", cls.__dataclass_fields__))
        if settings.permutations < 99:
            raise ConfigError(
                "config key 'analysis.permutations': must be an integer >= 99 (p-values are at least "
                "1 / (permutations + 1))"
            )
        if not 0 < settings.alpha < 1:
            raise ConfigError("config key 'analysis.alpha': must lie strictly between 0 and 1")
        for key in ("equivalence_margin", "downstream_equivalence_margin"):
            if not getattr(settings, key) > 0:
                raise ConfigError(f"config key 'analysis.{key}': must be a positive number")
        return settings
