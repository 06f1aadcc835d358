"""Objective `none` (fairforget.training.objectives.none): continued pretraining on the debiasing texts, no pairs."""

from __future__ import annotations

import pytest

from fairforget.errors import TrainingError
from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import (
    DEBIAS_TEXTS,
    context,
    generator,
    tiny,
)


def test_none_objective_uses_the_debias_texts_and_rejects_pairs():
    _, tokenizer = tiny("causal")
    ctx = context("causal", tokenizer)
    objective = OBJECTIVES.get("none")()
    examples = objective.build_examples(ctx)
    assert [e["text"] for e in examples] == DEBIAS_TEXTS
    with pytest.raises(TrainingError, match="pair"):
        objective.collate([{"type": "pair", "stereo": "he", "anti": "she"}], ctx, generator(0))
