"""bias-bench's causal sentence scoring (two passes with a start token), and truncation counts for every scorer.

bias-bench (McGill-NLP/bias-bench @ aba4403, `bias_bench/benchmark/crows/crows.py`, `_joint_log_probability`;
`stereoset/stereoset.py`, `_likelihood_score_generative`) scores a sentence as follows:

- `tokens = tokenizer.encode(sentence)`: the tokenizer's own special tokens, so `<s> w_1 .. w_n` for a Llama
  tokenizer and `w_1 .. w_n` for GPT-2;
- pass 1: the start text (`"<|endoftext|>"`, GPT-2's token, hard-coded) is encoded and run alone; `tokens[0]` is
  scored by the softmax at its **first** position (`initial_token_probabilities[0, 0, tokens[0]]`), whatever the
  start text's length (a Llama tokenizer splits `<|endoftext|>` into pieces after `<s>`: the first position is
  `<s>`, so `tokens[0] = <s>` is scored given `<s>`);
- pass 2: `tokens` alone; `tokens[k]`, k >= 1, is scored from position k-1;
- the score is the geometric-mean probability `2^(mean log2 p)` over all `len(tokens)` terms, which orders
  sentences as the mean natural-log probability (`mean_logprob` here) does.

`start="bos"` replaces the start text by the tokenizer's BOS token (the model's own start token); the rest is
unchanged. Truncation: `tokens` is cut to `max_length` (bias-bench does not truncate; `truncated_texts` counts
the texts it affects so that no cut is silent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from fairforget.errors import ModelError
from fairforget.scoring.causal import causal_position_logits
from fairforget.scoring.scores import KINDS, eval_mode, model_device, pad_batch, pad_id_of

BIAS_BENCH_START_TEXT = "<|endoftext|>"
START_POLICIES = ("endoftext", "bos")


def start_ids(tokenizer: Any, start: str) -> list[int]:
    """The ids of pass 1's input: `encode("<|endoftext|>")` (bias-bench) or the tokenizer's BOS alone."""
    if start == "endoftext":
        return list(tokenizer.encode(BIAS_BENCH_START_TEXT))
    if start == "bos":
        if tokenizer.bos_token_id is None:
            raise ModelError("start token 'bos' needs a tokenizer with a BOS token (bos_token_id is None)")
        return [int(tokenizer.bos_token_id)]
    raise ModelError(f"start token policy must be one of {START_POLICIES}, got {start!r}")


def untruncated_lengths(tokenizer: Any, kind: str, texts: Sequence[str]) -> np.ndarray:
    """Model inputs each text needs without truncation (special tokens included; + BOS when a causal model's
    tokenizer does not add it, as `scores.encode_texts` prepends it)."""
    if kind not in KINDS:
        raise ModelError(f"model kind must be one of {KINDS}, got {kind!r}")
    if not texts:
        return np.zeros(0, np.int64)
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    bos = tokenizer.bos_token_id
    extra = [1 if kind == "causal" and (not row or row[0] != bos) else 0 for row in ids]
    return np.array([len(row) + e for row, e in zip(ids, extra)], np.int64)


def truncated_texts(tokenizer: Any, kind: str, texts: Sequence[str], max_length: int) -> np.ndarray:
    """Per text: True when scoring at `max_length` model inputs cuts some of its tokens."""
    return untruncated_lengths(tokenizer, kind, texts) > max_length


def two_pass_logprobs(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    start: str,
    batch_size: int = 32,
    max_length: int = 64,
) -> list[np.ndarray]:
    """Per text, log p of every token of `tokenizer.encode(text)` (module docstring), float64, natural log."""
    if batch_size < 1:
        raise ModelError(f"batch_size must be positive, got {batch_size}")
    encoded = [
        np.array(row, np.int64)
        for row in tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=max_length)["input_ids"]
    ]
    device = model_device(model)
    out: list[np.ndarray] = [np.zeros(0, np.float64) for _ in texts]
    with eval_mode([model]):
        start_input = torch.tensor([start_ids(tokenizer, start)], dtype=torch.long, device=device)
        first_row = model(input_ids=start_input).logits[0, 0].double().log_softmax(-1).cpu().numpy()
        order = [int(i) for i in np.argsort([len(e) for e in encoded], kind="stable") if len(encoded[i])]
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            ids, attention = pad_batch([encoded[i] for i in batch], pad_id_of(tokenizer))
            width = ids.shape[1]
            cells = np.concatenate([row * width + np.arange(len(encoded[i]) - 1) for row, i in enumerate(batch)])
            logits = causal_position_logits(
                model, ids.to(device), attention.to(device), torch.from_numpy(cells.astype(np.int64)).to(device)
            )
            logprobs = logits.double().log_softmax(-1).cpu().numpy()
            offset = 0
            for i in batch:
                rest = len(encoded[i]) - 1
                targets = encoded[i][1:]
                tail = logprobs[np.arange(offset, offset + rest), targets] if rest else np.zeros(0)
                out[i] = np.concatenate([[first_row[encoded[i][0]]], tail]).astype(np.float64)
                offset += rest
    return out


def mean_logprob(logprobs: Sequence[np.ndarray]) -> np.ndarray:
    """Mean log-probability per text (NaN for a text with no token)."""
    return np.array([float(lp.mean()) if len(lp) else float("nan") for lp in logprobs], np.float64)
