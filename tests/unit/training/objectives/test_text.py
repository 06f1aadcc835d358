"""The plain-LM-loss base of text objectives (fairforget.training.objectives._text): its examples are the debiasing
texts as they are, its loss is the model's own LM loss on the collated batch, and it is not a plug-in itself."""

from __future__ import annotations

import pytest
import torch

from fairforget.training.objectives._text import TextObjective, text_examples
from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import DEBIAS_TEXTS, context, generator, tiny


def test_examples_are_the_debias_texts_in_order() -> None:
    examples = text_examples(["a b", "c"])
    assert len(examples) == 2 and [examples[i] for i in range(2)] == [
        {"type": "text", "text": "a b"},
        {"type": "text", "text": "c"},
    ]
    model, tokenizer = tiny("masked")
    built = TextObjective().build_examples(context("masked", tokenizer))
    assert [built[i]["text"] for i in range(len(built))] == list(DEBIAS_TEXTS)


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_the_loss_is_the_models_own_lm_loss(kind: str) -> None:
    model, tokenizer = tiny(kind)
    ctx = context(kind, tokenizer)
    objective = TextObjective()
    examples = objective.build_examples(ctx)
    batch = objective.collate([examples[i] for i in range(4)], ctx, generator(0))
    torch.manual_seed(0)
    model.eval()  # no dropout: the two forwards see the same function
    loss = objective.loss(model, batch, ctx)
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
    assert torch.isfinite(loss) and loss.item() == pytest.approx(model(**inputs).loss.item(), rel=1e-5)


def test_the_base_is_packable_and_not_registered() -> None:
    assert TextObjective.packable
    assert "_text" not in OBJECTIVES.names() and "none" in OBJECTIVES.names()
