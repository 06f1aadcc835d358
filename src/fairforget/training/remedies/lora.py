"""`lora`: low-rank adapters (Hu et al. 2022, via peft) - the base weights stay frozen, only the adapters train.

Params: `r` (rank, default 8), `alpha` (scaling numerator, default 16), `dropout` (on the adapter input, default
0.05), `target_modules` (default per architecture: BERT query,value; Llama q_proj,v_proj). The adapter
initialisation draws from torch's RNG seeded with ctx.seed (inside a forked RNG state, so the caller's stream
is untouched). `finalize_model` merges the adapters into the weights (`merge_and_unload`), so the saved
checkpoint is a plain model directory loadable without peft.
"""

from __future__ import annotations

from typing import Any

import torch

from fairforget.errors import ConfigError, TrainingError
from fairforget.training.adapters import apply_lora
from fairforget.training.plugins import REMEDIES, Param, Remedy, TrainingContext

DEFAULT_TARGET_MODULES: dict[str, list[str]] = {"bert": ["query", "value"], "llama": ["q_proj", "v_proj"]}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) > 0


def _rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= float(value) < 1.0


def _module_names(value: Any) -> bool:
    return value is None or (isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value))


@REMEDIES.register("lora")
class LowRankAdapters(Remedy):
    name = "lora"
    param_spec = {
        "r": Param(8, _positive_int, "an integer > 0"),
        "alpha": Param(16, _positive, "a number > 0"),
        "dropout": Param(0.05, _rate, "a number in [0, 1)"),
        "target_modules": Param(None, _module_names, "a non-empty list of module names, or null for the default"),
    }

    def target_modules(self, model: torch.nn.Module) -> list[str]:
        if self.params["target_modules"] is not None:
            return list(self.params["target_modules"])
        model_type = getattr(model.config, "model_type", None)
        if model_type not in DEFAULT_TARGET_MODULES:
            raise ConfigError(
                f"config key '{self.config_key}.params.target_modules': no default for model type {model_type!r} "
                f"(defaults exist for {', '.join(sorted(DEFAULT_TARGET_MODULES))}); list the modules explicitly"
            )
        return DEFAULT_TARGET_MODULES[model_type]

    def prepare_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        return apply_lora(
            model,
            r=int(self.params["r"]),
            alpha=float(self.params["alpha"]),
            dropout=float(self.params["dropout"]),
            target_modules=self.target_modules(model),
            config_key=f"{self.config_key}.params",
            seed=ctx.seed,
        )

    def finalize_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        from peft import PeftModel

        if not isinstance(model, PeftModel):
            raise TrainingError(f"remedy {self.config_key}: finalize_model expects the peft model from prepare_model")
        merged = model.merge_and_unload()
        for param in merged.parameters():
            param.requires_grad_(True)  # plain model again: nothing frozen when it is fine-tuned downstream
        return merged
