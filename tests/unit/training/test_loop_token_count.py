"""fairforget.training.loop.count_tokens_tensor: the tokens a micro-batch feeds the model, for the flat batches of
plain-text objectives and the nested ones of the sentence-pair objectives (found by the paper rehearsal: their
runs logged 0 tokens/s and wrote tokens 0 to train_summary.json)."""

from __future__ import annotations

import torch

from fairforget.training.loop import count_tokens_tensor

CPU = torch.device("cpu")
MASK = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])  # 5 non-padding tokens of 8


def test_flat_batch_counts_the_attention_mask_else_the_input_ids() -> None:
    assert int(count_tokens_tensor({"input_ids": torch.zeros(2, 4), "attention_mask": MASK}, CPU)) == 5
    assert int(count_tokens_tensor({"input_ids": torch.zeros(3, 4), "labels": torch.zeros(3, 4)}, CPU)) == 12


def test_nested_sentence_pair_batches_count_every_model_input() -> None:
    # unlikelihood: both sides of the pairs and the language-modelling texts; "kind" and reference scores are not
    # model inputs
    unlikelihood = {
        "kind": "masked",
        "stereo": {"input_ids": torch.zeros(2, 4), "attention_mask": MASK},
        "anti": {"input_ids": torch.zeros(2, 4), "attention_mask": MASK},
        "ref_stereo": torch.zeros(2),
        "lm": {"input_ids": torch.zeros(1, 3), "attention_mask": torch.ones(1, 3)},
        "text": None,
    }
    assert int(count_tokens_tensor(unlikelihood, CPU)) == 5 + 5 + 3
    # counterfactual consistency: the originals and their gender-swapped twins; positions are not tokens
    consistency = {
        "lm": {"input_ids": torch.zeros(2, 4), "attention_mask": MASK, "labels": torch.zeros(2, 4)},
        "twin": {"input_ids": torch.zeros(2, 4), "attention_mask": torch.ones(2, 4)},
        "rows": torch.tensor([0, 1]),
        "positions_original": torch.tensor([1, 2]),
    }
    assert int(count_tokens_tensor(consistency, CPU)) == 5 + 8
