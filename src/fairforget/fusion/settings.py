"""The `fusion:` config section (typed) and which fine-tuning runs it fuses with their base model.

The weights are fused by `fusion.weights`, the fused checkpoints evaluated by the ordinary evaluation and
downstream code (rules/fusion.smk), and the results tabulated and decided by `fusion.table` and `fusion.verdict`.
Definitions: docs/metrics.md, section 11.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fairforget import paths
from fairforget.errors import ConfigError, config_section

# The layout of the fused checkpoints (templates under R, as in fairforget.paths; kept here rather than there
# because paths.py is on the code path of every job, so an edit there would rerun every job of every study).
# A fused checkpoint of a run at weight `alpha` lives in its own results layout FUSED_ROOT under R, mirroring
# R's (models/finetuned/RUN, eval/finetuned/RUN, downstream/finetuned/RUN): the evaluation, downstream and table
# code read its files as any run's, and `paths.classify` recognises them with root R/FUSED_ROOT.
FUSED_ROOT = "fusion/alpha{alpha}"
FUSED_MODEL = f"{FUSED_ROOT}/{paths.FINETUNED_MODEL}"
FUSED_SIDECAR = f"{FUSED_ROOT}/{paths.FINETUNED_SIDECAR}"
EVAL_FUSED_SCORES = f"{FUSED_ROOT}/{paths.EVAL_FINETUNED_SCORES}"
EVAL_FUSED = f"{FUSED_ROOT}/{paths.EVAL_FINETUNED}"
DOWNSTREAM_FUSED = f"{FUSED_ROOT}/{paths.DOWNSTREAM_FINETUNED}"
FUSION_TABLE_PARQUET = "tables/fusion.parquet"
FUSION_TABLE_CSV = "tables/fusion.csv"
FUSION_TABLE_PROVENANCE = "tables/fusion.provenance.json"


def alpha_label(alpha: float) -> str:
    """A fusion weight as it appears in paths (`{alpha}` of FUSED_ROOT): plain decimal digits, no exponent (0.25,
    0.00001), so that the rules' wildcard pattern `0.<digits>` matches every weight strictly between 0 and 1."""
    return f"{float(alpha):.12f}".rstrip("0").rstrip(".")


FILTER_KEYS = ("models", "objectives", "remedies", "seeds")


@dataclass(frozen=True)
class FusionSettings:
    enabled: bool = False
    # Fusion weights alpha of theta = (1 - alpha) theta_base + alpha theta_debiased; 0 and 1 are the parents.
    alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    # Which runs are fused: None = every value of that grid factor.
    models: tuple[str, ...] | None = None
    objectives: tuple[str, ...] | None = None
    remedies: tuple[str, ...] | None = ("none",)
    seeds: tuple[int, ...] | None = None
    # The best alpha is the one with the largest mean bias reduction among those whose mean overall forgetting
    # is at most this share of the unfused checkpoints' (alpha = 1).
    forgetting_share: float = 0.5

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FusionSettings:
        values = config_section(config, "fusion", cls.__dataclass_fields__)
        for key in ("alphas", *FILTER_KEYS):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        settings = cls(**values)
        alphas = [float(a) for a in settings.alphas]
        if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas):
            raise ConfigError(
                f"config key 'fusion.alphas': each weight must lie in [0, 1], got {list(settings.alphas)}"
            )
        if len(set(alphas)) != len(alphas):
            raise ConfigError(f"config key 'fusion.alphas': repeated weight in {list(settings.alphas)}")
        if not 0.0 < settings.forgetting_share <= 1.0:
            raise ConfigError("config key 'fusion.forgetting_share': must lie in (0, 1]")
        return cls(**{**values, "alphas": tuple(sorted(alphas))})

    @property
    def fused_alphas(self) -> list[float]:
        """The weights that make a new checkpoint (0 and 1 are the base model and the checkpoint themselves)."""
        return [a for a in self.alphas if 0.0 < a < 1.0] if self.enabled else []

    def check_against(self, config: dict[str, Any]) -> None:
        """Every filter value names an entry of the grid (a typo must not silently fuse nothing)."""
        grid = {
            "models": set(config["models"]),
            "objectives": set(config["objectives"]),
            "remedies": set(config["remedies"]),
            "seeds": set(config["seeds"]),
        }
        for key in FILTER_KEYS:
            chosen = getattr(self, key)
            missing = sorted(str(v) for v in set(chosen or ()) - grid[key])
            if missing:
                raise ConfigError(f"config key 'fusion.{key}': {', '.join(missing)} not in the study's `{key}`")


def fused_runs(settings: FusionSettings, runs: Iterable[paths.Run]) -> list[paths.Run]:
    """The runs the filter selects, in grid order (none when fusion is off)."""
    if not settings.enabled:
        return []

    def keep(values: Sequence[Any] | None, value: Any) -> bool:
        return values is None or value in values

    return [
        run
        for run in runs
        if keep(settings.models, run.model)
        and keep(settings.objectives, run.objective)
        and keep(settings.remedies, run.remedy)
        and keep(settings.seeds, run.seed)
    ]
