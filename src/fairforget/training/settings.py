"""Optimisation settings of a training run (`training:` and `models.<name>.pretrain` config sections)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairforget.errors import ConfigError
from fairforget.training.optim import OPTIMIZER_IMPLS

MIXED_PRECISION = ("no", "bf16", "fp16")
AUTO = "auto"
# Probe intervals per run under `probe_every_steps: auto`: 11 probes (step 0 included) per run of >= 10 steps.
AUTO_PROBE_INTERVALS = 10


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings; `from_config` reads them from a `training:`-style config section."""

    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    checkpoint_every_steps: int = 100
    # Probe schedule (`probe_steps`): "auto" = AUTO_PROBE_INTERVALS equal intervals of the run, whatever its
    # length, so runs of different lengths are probed equally often; an integer = every that many steps;
    # None = at the start and the end only.
    probe_every_steps: int | str | None = "auto"
    # Batches of similar length (see the module docstring); 1.35x tokens/CPU-s on bench_training's text. Off by
    # default: it changes which examples share a batch, hence results, and for objectives that mix example
    # types (unlikelihood: pairs + text; counterfactual_consistency) it sorts the types into separate batches
    # (pairs are longer), which reweights their loss terms. Safe for text-only training (pretraining, none,
    # cda, dropout).
    group_by_length: bool = False
    # AdamW kernel: "auto" = fused where torch has a fused kernel for the device (CUDA and CPU: measured 3x
    # faster per step than foreach on CPU for a toy model, and what transformers.Trainer uses), else foreach.
    optimizer_impl: str = "auto"
    # Packed training (transformers' run_mlm.py/run_clm.py `group_texts`, as bias-bench trains): the texts are
    # tokenised, concatenated and cut into blocks of `block_size` tokens (the remainder dropped), so no compute
    # goes to padding. Only for objectives that train on plain text (`Objective.packable`); see lm.pack_texts.
    packing: bool = False
    # Tokens per packed block; None = the run's max_length.
    block_size: int | None = None
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], seed: int, key: str = "training") -> TrainSettings:
        """Take the known keys of `cfg` (others, e.g. max_length, belong to the caller); check their values."""
        known = {f for f in cls.__dataclass_fields__ if f != "seed"}
        values = {k: v for k, v in cfg.items() if k in known}
        settings = cls(seed=int(seed), **values)
        settings.validate(key)
        return settings

    def validate(self, key: str = "training") -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"config key '{key}.{name}': {why}, got {getattr(self, name)!r}")

        if not self.epochs > 0:
            raise bad("epochs", "must be > 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise bad("max_steps", "must be a positive integer or null")
        for name in ("batch_size", "gradient_accumulation_steps", "checkpoint_every_steps"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "must be a positive integer")
        every = self.probe_every_steps
        if not (
            every is None or every == AUTO or (isinstance(every, int) and not isinstance(every, bool) and every >= 1)
        ):
            raise bad("probe_every_steps", f"must be {AUTO!r}, a positive integer or null")
        if not self.learning_rate > 0:
            raise bad("learning_rate", "must be > 0")
        if not 0 <= self.warmup_ratio <= 1:
            raise bad("warmup_ratio", "must be in [0, 1]")
        if self.weight_decay < 0:
            raise bad("weight_decay", "must be >= 0")
        if not self.max_grad_norm > 0:
            raise bad("max_grad_norm", "must be > 0")
        if self.mixed_precision not in MIXED_PRECISION:
            raise bad("mixed_precision", f"must be one of {MIXED_PRECISION}")
        if not isinstance(self.group_by_length, bool):
            raise bad("group_by_length", "must be true or false")
        if not isinstance(self.packing, bool):
            raise bad("packing", "must be true or false")
        if self.block_size is not None and (isinstance(self.block_size, bool) or int(self.block_size) < 2):
            raise bad("block_size", "must be an integer >= 2 or null")
        if self.optimizer_impl not in OPTIMIZER_IMPLS:
            raise bad("optimizer_impl", f"must be one of {OPTIMIZER_IMPLS}")

    def probe_steps(self, total_steps: int) -> frozenset[int]:
        """Optimizer steps after which the probe runs (0 = before training; `total_steps` always included).

        "auto": the steps floor(i * total_steps / AUTO_PROBE_INTERVALS) for i = 0..AUTO_PROBE_INTERVALS, i.e.
        AUTO_PROBE_INTERVALS + 1 probes for a run of at least that many steps, every step of a shorter run."""
        every = self.probe_every_steps
        if every == AUTO:
            return frozenset(i * total_steps // AUTO_PROBE_INTERVALS for i in range(AUTO_PROBE_INTERVALS + 1))
        regular = range(0, total_steps + 1, int(every)) if every is not None else range(0)
        return frozenset({0, total_steps, *regular})

    def total_steps(self, n_examples: int) -> int:
        examples_per_step = self.batch_size * self.gradient_accumulation_steps
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * n_examples / examples_per_step))
