"""Causal scoring (fairforget.scoring.causal.score_causal): each text token's log-probability given BOS and the
tokens before it, as the model's own forward gives it, batched or not, and at chosen positions only."""

from __future__ import annotations

import numpy as np
import torch

from fairforget.scoring.causal import score_causal
from objectives_helpers import tiny

TEXTS = ["the nurse said she left", "he said", "the doctor left"]


def by_hand(model: torch.nn.Module, tokenizer, text: str) -> tuple[np.ndarray, np.ndarray]:
    """log p(token k | BOS, tokens < k) and top-1 correctness from one unbatched forward in float64."""
    ids = [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits[:-1], -1)
    targets = torch.tensor(ids[1:])
    return logprobs.gather(1, targets[:, None]).squeeze(1).numpy(), (logits[:-1].argmax(-1) == targets).numpy()


def test_every_text_token_is_scored_as_the_forward_pass_gives_it() -> None:
    model, tokenizer = tiny("causal", seed=1)
    model.eval()
    scores = score_causal(model, tokenizer, TEXTS, batch_size=2)  # right padding in a batch of two
    for i, text in enumerate(TEXTS):
        logprob, correct = by_hand(model, tokenizer, text)
        np.testing.assert_allclose(scores.logprob[i], logprob, atol=1e-5, rtol=0)
        np.testing.assert_array_equal(scores.correct[i], correct)
        assert scores.token_index[i].tolist() == list(range(len(logprob)))


def test_chosen_positions_only() -> None:
    model, tokenizer = tiny("causal", seed=1)
    model.eval()
    full = score_causal(model, tokenizer, TEXTS, batch_size=3)
    some = score_causal(model, tokenizer, TEXTS, batch_size=3, positions=[[0, 2], None, [1]])
    assert [s.tolist() for s in some.token_index] == [[0, 2], list(range(len(full.logprob[1]))), [1]]
    np.testing.assert_allclose(some.logprob[0], full.logprob[0][[0, 2]], atol=1e-6, rtol=0)
    np.testing.assert_allclose(some.logprob[2], full.logprob[2][[1]], atol=1e-6, rtol=0)
