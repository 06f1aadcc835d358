"""The base of objectives that train with the plain LM loss on text examples (`none`, `cda`, `dropout`).

The leading underscore keeps the objective registry from importing this module as a plug-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fairforget.training.examples import TextExamples
from fairforget.training.lm import collate_text_examples, lm_loss
from fairforget.training.plugins import Objective, TrainingContext


def text_examples(texts: Sequence[str]) -> TextExamples:
    """`{"type": "text", "text": t}` for every text, computed on demand (`fairforget.training.examples`)."""
    return TextExamples(texts)


class TextObjective(Objective):
    """MLM (masked) or next-token (causal) loss on text examples; by default ctx.debias_texts as they are.

    Packable: under `training.packing` its texts are packed into token blocks (`fairforget.training.packing`)."""

    packable = True

    def build_examples(self, ctx: TrainingContext) -> Sequence[dict[str, Any]]:
        return text_examples(ctx.debias_texts)

    def collate(
        self, examples: list[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
    ) -> dict[str, Any]:
        return collate_text_examples(examples, ctx, generator)

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        return lm_loss(model, batch)
