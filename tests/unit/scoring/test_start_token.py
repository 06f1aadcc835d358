"""Start tokens and bias-bench's two-pass causal scoring (fairforget.scoring.start_token): followed line by line
(McGill-NLP/bias-bench @ aba440322fb38600f7790e457a17941f0b12bf20, bias_bench/benchmark/crows/crows.py,
`_joint_log_probability`), the tokenizer's BOS as start, truncation flags only for texts that are cut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.scoring.start_token import mean_logprob, truncated_texts, two_pass_logprobs

CORPUS = ["the nurse said that she would help the patient today", "the engineer said that he fixed it"] * 4


ARCH = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


SENTENCES = ["the nurse said that she would help", "the engineer fixed it today", "she said"]


@pytest.fixture(scope="module")
def causal():
    tokenizer = train_tokenizer(CORPUS, "causal", vocab_size=120)
    return build_toy_model("causal", {**ARCH, "max_position_embeddings": 64}, tokenizer, seed=3).eval(), tokenizer


def bias_bench_joint_log_probability(model, tokenizer, sentence, start_text="<|endoftext|>"):
    """crows.py `_joint_log_probability` (non-self-debias branch), returned as log2 mean before `np.power`."""
    tokens = tokenizer.encode(sentence)
    start_token = torch.tensor(tokenizer.encode(start_text)).unsqueeze(0)
    with torch.no_grad():
        initial_token_probabilities = model(start_token)
        initial_token_probabilities = torch.softmax(initial_token_probabilities[0], dim=-1)
        tokens_tensor = torch.tensor(tokens).unsqueeze(0)
        joint_sentence_probability = [initial_token_probabilities[0, 0, tokens[0]].item()]
        output = torch.softmax(model(tokens_tensor)[0], dim=-1)
    for idx in range(1, len(tokens)):
        joint_sentence_probability.append(output[0, idx - 1, tokens[idx]].item())
    assert len(tokens) == len(joint_sentence_probability)
    score = np.sum([np.log2(i) for i in joint_sentence_probability])
    score /= len(joint_sentence_probability)
    return score  # bias-bench then returns np.power(2, score): the same order


def test_two_pass_scores_follow_bias_bench_line_by_line(causal):
    model, tokenizer = causal
    ours = mean_logprob(two_pass_logprobs(model, tokenizer, SENTENCES, "endoftext", batch_size=2))
    theirs = np.array([bias_bench_joint_log_probability(model, tokenizer, s) for s in SENTENCES])
    np.testing.assert_allclose(ours / np.log(2.0), theirs, atol=1e-6)  # natural log vs log2


def test_bos_start_uses_the_tokenizer_bos(causal):
    model, tokenizer = causal
    bos_text = tokenizer.convert_ids_to_tokens(tokenizer.bos_token_id)
    ours = mean_logprob(two_pass_logprobs(model, tokenizer, SENTENCES, "bos"))
    theirs = np.array([bias_bench_joint_log_probability(model, tokenizer, s, bos_text) for s in SENTENCES])
    np.testing.assert_allclose(ours / np.log(2.0), theirs, atol=1e-6)


def test_truncation_flags_only_the_texts_that_are_cut(causal):
    _, tokenizer = causal
    lengths = [len(tokenizer(s)["input_ids"]) for s in SENTENCES]
    flags = truncated_texts(tokenizer, "causal", SENTENCES, max_length=lengths[1])
    assert list(flags) == [n > lengths[1] for n in lengths]
    assert not truncated_texts(tokenizer, "causal", SENTENCES, max_length=64).any()
