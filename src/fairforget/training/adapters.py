"""LoRA adapters (Hu et al. 2022, via peft), shared by the `lora` remedy and downstream fine-tuning in LoRA mode."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fairforget.errors import ConfigError


def apply_lora(
    model: torch.nn.Module,
    *,
    r: int,
    alpha: int | float,
    dropout: float,
    target_modules: Sequence[str],
    config_key: str,
    sequence_classification: bool = False,
    seed: int | None = None,
) -> torch.nn.Module:
    """`model` wrapped with LoRA adapters on `target_modules` (peft's `get_peft_model`).

    `sequence_classification`: peft's SEQ_CLS task type, which keeps a new classification head trainable
    (modules_to_save). `seed`: draw the adapter initialisation from torch's RNG seeded with it, inside a forked
    RNG state so the caller's stream is untouched; None draws from the caller's stream. A target module the model
    lacks raises ConfigError naming `<config_key>.target_modules`.
    """
    # imported here: peft costs seconds to import, paid by every Snakefile parse and every job otherwise
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.SEQ_CLS if sequence_classification else None,
        r=r,
        lora_alpha=alpha,  # type: ignore[arg-type]  # peft annotates int; a float scales as well
        lora_dropout=dropout,
        target_modules=list(target_modules),
    )

    def wrap() -> torch.nn.Module:
        try:
            return get_peft_model(model, config)
        except ValueError as err:  # peft: target modules not found in the model
            raise ConfigError(f"config key '{config_key}.target_modules': {err}") from err

    if seed is None:
        return wrap()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return wrap()
