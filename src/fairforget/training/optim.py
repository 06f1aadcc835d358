"""Optimizer and learning-rate schedule shared by every training loop (the engine and downstream fine-tuning).

AdamW with decoupled weight decay on the weight matrices only: biases and normalisation weights (parameters
with fewer than two dimensions) get none, as in transformers' Trainer. The schedule is a linear warm-up then a
linear decay to 0, in the two variants the loops follow (see `linear_schedule`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger(__name__)

# AdamW kernels: "auto" = fused where torch has a fused kernel for the device, else foreach; None = torch's own
# default choice (foreach on CUDA, the for-loop on CPU).
OPTIMIZER_IMPLS = ("auto", "fused", "foreach", "for_loop")


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters in two AdamW groups: with `weight_decay` (>= 2 dims) and without (< 2 dims);
    an empty group is left out."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def make_adamw(
    model: torch.nn.Module,
    learning_rate: float,
    weight_decay: float,
    impl: str | None,
    device: torch.device | None = None,
) -> tuple[torch.optim.AdamW, str]:
    """AdamW over `parameter_groups(model, weight_decay)` (betas 0.9/0.999, eps 1e-8) with the kernel `impl`
    asks for; returns the optimizer and the kernel used ("auto" resolves to "fused" where the device has one,
    else "foreach"; None leaves the choice to torch and reports "default")."""
    groups = parameter_groups(model, weight_decay)
    if impl is None:
        return torch.optim.AdamW(groups, lr=learning_rate), "default"
    if impl not in OPTIMIZER_IMPLS:
        raise ValueError(f"optimizer kernel must be one of {OPTIMIZER_IMPLS} or None, got {impl!r}")
    if impl == "auto":
        try:
            return torch.optim.AdamW(groups, lr=learning_rate, fused=True), "fused"
        except (RuntimeError, ValueError) as error:  # no fused kernel for this device or dtype
            log.info("fused AdamW unavailable on %s (%s); using foreach", device, error)
            impl = "foreach"
    if impl == "fused":
        return torch.optim.AdamW(groups, lr=learning_rate, fused=True), impl
    return torch.optim.AdamW(groups, lr=learning_rate, foreach=impl == "foreach"), impl


def linear_schedule(warmup_steps: int, total_steps: int, *, first_step_at_zero: bool = False) -> Callable[[int], float]:
    """LR factor per optimizer step: a linear warm-up to 1 over `warmup_steps`, then linearly down to 0 at
    `total_steps`.

    The engine's warm-up (default) is (step + 1) / (warmup_steps + 1), so the first step already moves the
    weights. `first_step_at_zero=True` is transformers' `get_linear_schedule_with_warmup` exactly
    (step / warmup_steps: the first step has lr 0), which downstream fine-tuning follows as bias-bench's
    run_glue.py does.
    """
    if first_step_at_zero:

        def hf_factor(step: int) -> float:
            if step < warmup_steps:
                return float(step) / float(max(1, warmup_steps))
            return max(0.0, float(total_steps - step) / float(max(1, total_steps - warmup_steps)))

        return hf_factor

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def make_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, *, first_step_at_zero: bool = False
) -> torch.optim.lr_scheduler.LambdaLR:
    """`linear_schedule` as a LambdaLR on `optimizer`."""
    factor = linear_schedule(warmup_steps, total_steps, first_step_at_zero=first_step_at_zero)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
