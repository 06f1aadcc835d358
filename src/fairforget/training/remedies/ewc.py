"""`ewc`: elastic weight consolidation (Kirkpatrick et al. 2017) toward the pretrained weights.

Penalty: weight / 2 * sum_i F_i (theta_i - theta_0,i)^2 over trainable parameters, theta_0 = the weights when
training starts. F is the diagonal *empirical* Fisher of the general LM: the mean over `fisher_samples` general
texts (ctx.general_texts, a subset fixed by ctx.seed) of the squared gradient of that single text's LM loss
(observed tokens as targets, not labels sampled from the model - hence "empirical"; one backward pass per
text, so per-example squares are exact, not squares of batch means). It is computed in eval mode (no dropout),
with MLM masking drawn from a generator seeded by ctx.seed, so it is deterministic.
"""

from __future__ import annotations

from typing import Any

import torch
from tqdm.auto import tqdm

from fairforget.errors import TrainingError
from fairforget.training import lm
from fairforget.training.examples import seeded_permutation, texts_at
from fairforget.training.plugins import REMEDIES, Param, Remedy, TrainingContext
from fairforget.training.remedies.l2sp import snapshot, weighted_distance


def _non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) >= 0.0


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def empirical_fisher(
    model: torch.nn.Module, params: list[torch.nn.Parameter], texts: list[str], ctx: TrainingContext
) -> list[torch.Tensor]:
    """Mean over texts of the squared gradient of each text's LM loss, per parameter (see module docstring)."""
    generator = torch.Generator().manual_seed(ctx.seed)
    fisher = [torch.zeros_like(p) for p in params]
    was_training = model.training
    model.eval()
    for text in tqdm(texts, desc="EWC Fisher", disable=None):
        model.zero_grad(set_to_none=True)
        batch = lm.text_batch([text], ctx, generator)
        loss = lm.lm_loss_from_logits(lm.model_logits(model, batch), batch["labels"], ctx.kind)
        loss.backward()
        for index, param in enumerate(params):
            if param.grad is not None:
                fisher[index] += param.grad.detach().pow(2)
    model.zero_grad(set_to_none=True)  # leave no gradient behind for the first training step
    model.train(was_training)
    return [f / len(texts) for f in fisher]


@REMEDIES.register("ewc")
class ElasticWeightConsolidation(Remedy):
    name = "ewc"
    param_spec = {
        "weight": Param(1000.0, _non_negative, "a number >= 0"),
        "fisher_samples": Param(64, _positive_int, "an integer > 0"),
    }

    def __init__(self, config_key: str | None = None, **params: Any) -> None:
        super().__init__(config_key, **params)
        self.anchors: list[tuple[torch.nn.Parameter, torch.Tensor]] | None = None
        self.fisher: list[torch.Tensor] | None = None

    def prepare_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        if not len(ctx.general_texts):
            raise TrainingError(f"remedy {self.config_key}: no general text for the Fisher estimate")
        self.anchors = snapshot(model)
        if not self.anchors:
            raise TrainingError(f"remedy {self.config_key}: the model has no trainable parameters")
        # the first `fisher_samples` texts of a seeded shuffle, read from the (memory-mapped) general corpus
        order = seeded_permutation(len(ctx.general_texts), ctx.seed)
        texts = texts_at(ctx.general_texts, order[: int(self.params["fisher_samples"])])
        self.fisher = empirical_fisher(model, [p for p, _ in self.anchors], texts, ctx)
        return model

    def penalty(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.Tensor:
        if self.anchors is None or self.fisher is None:
            raise TrainingError(f"remedy {self.config_key}: penalty called before prepare_model")
        return 0.5 * float(self.params["weight"]) * weighted_distance(self.anchors, self.fisher)
