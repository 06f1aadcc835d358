"""`none`: continued LM training on the unaugmented debiasing texts (the control arm).

Any change it causes is what plain further training on this text does, against which the fairness
objectives are compared.
"""

from __future__ import annotations

from typing import Any

import torch

from fairforget.training.lm import collate_text_examples, lm_loss
from fairforget.training.plugins import OBJECTIVES, Objective, TrainingContext


def text_examples(texts: list[str]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text} for text in texts]


@OBJECTIVES.register("none")
class ContinuedPretraining(Objective):
    """MLM (masked) or next-token (causal) loss on ctx.debias_texts, nothing else."""

    name = "none"
    param_spec = {}  # takes no parameters

    def build_examples(self, ctx: TrainingContext) -> list[dict[str, Any]]:
        return text_examples(list(ctx.debias_texts))

    def collate(
        self, examples: list[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
    ) -> dict[str, Any]:
        return collate_text_examples(examples, ctx, generator)

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        return lm_loss(model, batch)
