"""LoRA adapters on a model (fairforget.training.adapters): missing targets name the config key."""

from __future__ import annotations

import pytest
import torch

from fairforget.errors import ConfigError


def test_lora_helper_names_the_config_key_of_missing_targets():
    from fairforget.training.adapters import apply_lora

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.query = torch.nn.Linear(4, 4)

    wrapped = apply_lora(Tiny(), r=2, alpha=4, dropout=0.0, target_modules=["query"], config_key="k", seed=1)
    again = apply_lora(Tiny(), r=2, alpha=4, dropout=0.0, target_modules=["query"], config_key="k", seed=1)
    lora_a = [p for n, p in wrapped.named_parameters() if "lora_A" in n]
    assert lora_a and all(
        torch.equal(a, b) for a, b in zip(lora_a, [p for n, p in again.named_parameters() if "lora_A" in n])
    )
    with pytest.raises(ConfigError, match="config key 'k.target_modules'"):
        apply_lora(Tiny(), r=2, alpha=4, dropout=0.0, target_modules=["value"], config_key="k")
