"""`replay` mixes general text; `lora` trains only adapters and merges into a plain model."""

from __future__ import annotations

import pytest
import torch

from fairforget.errors import TrainingError
from fairforget.training.plugins import OBJECTIVES, REMEDIES
from objectives_helpers import GENERAL_TEXTS, context, tiny

torch.set_num_threads(1)


def test_replay_adds_ratio_times_as_many_general_texts_deterministically():
    _, tokenizer = tiny("masked")
    ctx = context("masked", tokenizer, seed=1)
    examples = OBJECTIVES.get("none")().build_examples(ctx)  # 6 examples
    mixed = REMEDIES.get("replay")(ratio=0.5).transform_examples(examples, ctx)
    assert mixed[:6] == examples
    replayed = mixed[6:]
    assert len(replayed) == 3 and all(e["type"] == "text" and e["text"] in GENERAL_TEXTS for e in replayed)
    assert len({e["text"] for e in replayed}) == 3  # without replacement
    again = REMEDIES.get("replay")(ratio=0.5).transform_examples(examples, ctx)
    assert again == mixed
    # more than available: every general text is used before any repeats
    many = REMEDIES.get("replay")(ratio=2.0).transform_examples(examples, ctx)[6:]
    assert len(many) == 12 and {e["text"] for e in many[:8]} == set(GENERAL_TEXTS)


def test_replay_without_general_text_fails_clearly():
    _, tokenizer = tiny("masked")
    ctx = context("masked", tokenizer, general_texts=[])
    with pytest.raises(TrainingError, match="no general text"):
        REMEDIES.get("replay")().transform_examples([{"type": "text", "text": "a"}], ctx)
