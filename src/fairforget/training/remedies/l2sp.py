"""`l2sp`: L2 penalty toward the starting point (Li et al. 2018, "Explicit inductive bias for transfer
learning"): weight / 2 * sum over trainable parameters of ||theta - theta_0||^2, theta_0 = the pretrained
weights as they are when training starts (zero at initialisation)."""

from __future__ import annotations

from typing import Any

import torch

from fairforget.errors import TrainingError
from fairforget.training.plugins import REMEDIES, Param, Remedy, TrainingContext


def _non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) >= 0.0


def snapshot(model: torch.nn.Module) -> list[tuple[torch.nn.Parameter, torch.Tensor]]:
    """(parameter, detached copy) for every trainable parameter; tied weights appear once."""
    seen: set[int] = set()
    pairs = []
    for param in model.parameters():
        if param.requires_grad and id(param) not in seen:
            seen.add(id(param))
            pairs.append((param, param.detach().clone()))
    return pairs


def weighted_distance(
    anchors: list[tuple[torch.nn.Parameter, torch.Tensor]], importance: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """sum of (importance *) (theta - theta_0)^2 over all anchored parameters."""
    total = torch.zeros((), device=anchors[0][0].device)
    for index, (param, start) in enumerate(anchors):
        squared = (param - start).pow(2)
        if importance is not None:
            squared = squared * importance[index]
        total = total + squared.sum()
    return total


@REMEDIES.register("l2sp")
class L2StartingPoint(Remedy):
    name = "l2sp"
    param_spec = {"weight": Param(0.01, _non_negative, "a number >= 0")}

    def __init__(self, config_key: str | None = None, **params: Any) -> None:
        super().__init__(config_key, **params)
        self.anchors: list[tuple[torch.nn.Parameter, torch.Tensor]] | None = None

    def prepare_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        self.anchors = snapshot(model)
        if not self.anchors:
            raise TrainingError(f"remedy {self.config_key}: the model has no trainable parameters")
        return model

    def penalty(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.Tensor:
        if self.anchors is None:
            raise TrainingError(f"remedy {self.config_key}: penalty called before prepare_model")
        return 0.5 * float(self.params["weight"]) * weighted_distance(self.anchors)
