"""Tiny models for the scoring tests (tests/unit/scoring/): two toy models of each kind over a small corpus
(fixtures `masked`, `causal`), a tiny BERT masked LM and a PLL batch. Holds no tests itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.scoring.scores import pad_batch

CORPUS = [
    "the nurse said that she would help the patient today",
    "the engineer said that he fixed the broken machine",
    "a doctor walked to the hospital in the morning",
    "the teacher asked the students to read the book",
    "she is a nurse and he is an engineer",
    "the weather was cold and the river froze over",
] * 3
TEXTS = [
    "the nurse said that she would help",
    "the engineer fixed the machine",
    "a doctor walked to the hospital in the cold morning today",
    "she is",
    "the river froze",
]
ARCH = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}


@pytest.fixture(scope="module")
def masked():
    tokenizer = train_tokenizer(CORPUS, "masked", vocab_size=120)
    return (
        build_toy_model("masked", ARCH, tokenizer, seed=1),
        build_toy_model("masked", ARCH, tokenizer, seed=2),
        tokenizer,
    )


@pytest.fixture(scope="module")
def causal():
    tokenizer = train_tokenizer(CORPUS, "causal", vocab_size=300)
    return (
        build_toy_model("causal", ARCH, tokenizer, seed=1),
        build_toy_model("causal", ARCH, tokenizer, seed=2),
        tokenizer,
    )


def tiny_bert(layers: int, seed: int = 0) -> BertForMaskedLM:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=97,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=40,
        type_vocab_size=2,
    )
    model = BertForMaskedLM(config).eval()
    with torch.no_grad():  # non-zero token-type row 0 and biases, so that every term of the embedding counts
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return model


def pll_batch(seed: int, rows: int = 20, vocab: int = 97) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Masked copies of a few random texts of different lengths, right-padded: ids, attention, positions."""
    rng = np.random.default_rng(seed)
    copies, positions = [], []
    while len(copies) < rows:
        text = rng.integers(5, vocab, size=int(rng.integers(3, 9)))
        for k in range(len(text)):
            ids = text.copy()
            ids[k] = 4  # any fixed id plays the mask token here
            copies.append(ids)
            positions.append(k)
    ids, attention = pad_batch(copies[:rows], pad_id=0)
    return ids, attention, torch.tensor(positions[:rows])
