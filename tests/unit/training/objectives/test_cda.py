"""`cda`: two-sided keeps originals and adds swaps, one-sided replaces gendered originals by their swaps."""

from __future__ import annotations

import torch

from fairforget.training import lm
from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import DEBIAS_TEXTS, context, generator, tiny

torch.set_num_threads(1)
# In DEBIAS_TEXTS five of six sentences hold a word of WORD_PAIRS; "the house is very good" holds none.
N_GENDERED, N_UNGENDERED = 5, 1


def test_two_sided_and_one_sided_example_counts():
    _, tokenizer = tiny("masked")
    ctx = context("masked", tokenizer)
    two = OBJECTIVES.get("cda")(sided="two").build_examples(ctx)
    one = OBJECTIVES.get("cda")(sided="one").build_examples(ctx)
    assert len(two) == 2 * N_GENDERED + N_UNGENDERED
    assert len(one) == N_GENDERED + N_UNGENDERED
    two_texts = [e["text"] for e in two]
    one_texts = [e["text"] for e in one]
    assert "he is a nurse" in two_texts and "she is a nurse" in two_texts
    assert "she is a nurse" in one_texts and "he is a nurse" not in one_texts
    assert "he works as a doctor" in one_texts
    assert "the house is very good" in one_texts  # ungendered text stays LM data
    assert sum(e["counterfactual"] for e in two) == N_GENDERED
    assert all(e["type"] == "text" for e in two + one)


def test_default_is_two_sided_and_build_is_deterministic():
    _, tokenizer = tiny("causal")
    ctx = context("causal", tokenizer)
    assert OBJECTIVES.get("cda")().build_examples(ctx) == OBJECTIVES.get("cda")(sided="two").build_examples(ctx)
    assert len(OBJECTIVES.get("cda")().build_examples(ctx)) == 2 * N_GENDERED + N_UNGENDERED
    assert len(DEBIAS_TEXTS) == N_GENDERED + N_UNGENDERED


def test_cda_loss_is_the_lm_loss_of_the_augmented_texts():
    model, tokenizer = tiny("causal")
    model.eval()
    ctx = context("causal", tokenizer)
    objective = OBJECTIVES.get("cda")(sided="one")
    examples = objective.build_examples(ctx)
    batch = objective.collate(examples, ctx, generator(0))
    expected = lm.lm_loss(
        model, lm.collate_text_examples([{"type": "text", "text": e["text"]} for e in examples], ctx, generator(0))
    )
    assert torch.allclose(objective.loss(model, batch, ctx), expected)
