"""Token scores (fairforget.scoring.scores): right padding, per-position statistics against float64
log-softmax, BOS for causal encodings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairforget.errors import ModelError
from fairforget.scoring.scores import (
    pad_batch,
    position_statistics,
)


def test_position_statistics_equal_float64_log_softmax_and_first_argmax():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 50, generator=generator) * 4
    targets = torch.tensor([0, 7, 7, 3, 49, 10])
    logits[1, 7] = logits[1].max() + 1  # target is the unique maximum: correct
    logits[2, 7] = logits[2, 2] = logits[2].max() + 1  # tie, an earlier index wins: not correct
    logits[3, 3] = logits[3, 40] = logits[3].max() + 1  # tie, the target is the first maximum: correct
    (logprob,), (correct,), kl = position_statistics([logits], targets)
    expected = torch.log_softmax(logits.double(), -1).gather(1, targets[:, None]).squeeze(1).numpy()
    np.testing.assert_allclose(logprob, expected, atol=1e-12, rtol=0)
    np.testing.assert_array_equal(correct, (logits.argmax(-1) == targets).numpy())
    assert correct[1] and not correct[2] and correct[3]
    assert kl is None


def test_pad_batch_right_pads_with_attention_mask():
    ids, attention = pad_batch([np.array([5, 6, 7]), np.array([8])], pad_id=1)
    assert ids.tolist() == [[5, 6, 7], [8, 1, 1]]
    assert attention.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert ids.dtype == torch.long and attention.dtype == torch.long


def test_causal_encoding_prepends_bos_when_the_tokenizer_does_not():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from fairforget.scoring.scores import encode_text

    vocab = {"<s>": 0, "<pad>": 1, "the": 2, "nurse": 3, "said": 4, "[UNK]": 5}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    gpt2_style = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", pad_token="<pad>", unk_token="[UNK]"
    )
    encoded = encode_text(gpt2_style, "causal", "the nurse said", max_length=3)
    assert encoded.input_ids.tolist() == [0, 2, 3]  # BOS prepended, then cut to max_length
    assert encoded.text_positions.tolist() == [1, 2]
    no_bos = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="[UNK]")
    with pytest.raises(ModelError, match="BOS"):
        encode_text(no_bos, "causal", "the nurse", max_length=8)
