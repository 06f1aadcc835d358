"""SEAT sentence embeddings (fairforget.scoring.embeddings) on a model whose last hidden state is known: the
token id's row of a fixed table, so the mean over the sentence's tokens (padding left out) is computed by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fairforget.errors import ModelError
from fairforget.scoring.embeddings import sentence_embeddings

# token id -> last hidden state (2 dimensions); id 0 is the padding token
TABLE = torch.tensor([[100.0, 100.0], [3.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
WORDS = {"a": 1, "b": 2, "c": 3}


class Lookup(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(TABLE.clone())

    def forward(self, input_ids, attention_mask, output_hidden_states):
        assert output_hidden_states
        return SimpleNamespace(hidden_states=[None, self.table[input_ids]])


class Words:
    pad_token_id = 0

    def __call__(self, text, truncation, max_length):
        return {"input_ids": [WORDS[word] for word in text.split()][:max_length]}


def test_embeddings_are_unit_norm_token_means_without_padding() -> None:
    got = sentence_embeddings(Lookup(), Words(), ["a b", "c", "a a b"], batch_size=2)
    # "a b": mean of (3, 0) and (0, 4) = (1.5, 2), norm 2.5; "c": (1, 1) / sqrt 2 (padded to 2 tokens in its
    # batch, the pad row (100, 100) left out); "a a b": (2, 4/3), norm sqrt(52)/3
    expected = np.array([[0.6, 0.8], [2**-0.5, 2**-0.5], [6 / 52**0.5, 4 / 52**0.5]])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got.dtype == np.float64


def test_truncation_and_an_empty_list() -> None:
    np.testing.assert_allclose(sentence_embeddings(Lookup(), Words(), ["b a"], max_length=1), [[0.0, 1.0]])
    with pytest.raises(ModelError, match="no texts given"):
        sentence_embeddings(Lookup(), Words(), [])
