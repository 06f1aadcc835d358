"""Batched next-token log-probability scoring for causal LMs.

Text token k at model-input position p is scored by the log-probability the model assigns to it from the
logits at position p-1; the first text token is scored given the BOS token only. A text's log-probability
is the sum over its tokens. Texts are sorted by length and right-padded into batches of `batch_size` texts;
only the logits of scored positions are kept, so memory is bounded by one batch. For architectures whose LM head
is applied directly to the base model's last hidden state (Llama, Mistral, Qwen2, GPT-2) the head runs on the
scored positions only (no logits for padding, for the last position, or for tokens outside `positions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fairforget.errors import ModelError
from fairforget.scoring.scores import (
    TextScores,
    check_positions,
    chosen_tokens,
    encode_texts,
    eval_mode,
    fill_tokens,
    model_device,
    pad_batch,
    pad_id_of,
    position_statistics,
    show_progress,
    zero_scores,
)

# Architectures whose logits are exactly `head(base_model(...).last_hidden_state)` (checked in transformers'
# modeling files): the head can be applied to the scored positions alone. Exact type names: a subclass may
# override forward.
_HEAD_ATTRIBUTE = {
    "LlamaForCausalLM": "lm_head",
    "MistralForCausalLM": "lm_head",
    "Qwen2ForCausalLM": "lm_head",
    "GPT2LMHeadModel": "lm_head",
}


def causal_position_logits(
    model: torch.nn.Module, ids: torch.Tensor, attention: torch.Tensor, cells: torch.Tensor
) -> torch.Tensor:
    """Logits [len(cells), vocab] at the flattened (row * width + position) indices `cells` of the batch:
    the base model with the LM head on those positions only for known architectures, else a full forward pass
    with the logits gathered."""
    head_name = _HEAD_ATTRIBUTE.get(type(model).__name__)
    if head_name is None:
        logits = model(input_ids=ids, attention_mask=attention).logits
        return logits.flatten(0, 1).index_select(0, cells)
    base: Any = model.base_model
    hidden = base(input_ids=ids, attention_mask=attention, use_cache=False).last_hidden_state
    head: Any = getattr(model, head_name)
    return head(hidden.flatten(0, 1).index_select(0, cells))


def score_causal_models(
    models: Sequence[torch.nn.Module],
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    positions: Sequence[Sequence[int] | None] | None,
    progress: bool | None,
) -> tuple[list[TextScores], list[np.ndarray] | None]:
    """Next-token scores of one model (or two: base, tuned, plus KL(base || tuned) per scored token)."""
    if batch_size < 1:
        raise ModelError(f"batch_size must be positive, got {batch_size}")
    check_positions(positions, len(texts))
    encoded = encode_texts(tokenizer, "causal", texts, max_length)
    chosen = chosen_tokens(encoded, positions)
    out, kl = zero_scores([len(c) for c in chosen], len(models))
    fill_tokens(out, encoded, chosen)
    device = model_device(models[0])
    pad = pad_id_of(tokenizer)
    order = [int(i) for i in np.argsort([len(e.input_ids) for e in encoded], kind="stable") if len(chosen[i])]

    with (
        eval_mode(models),
        tqdm(total=len(order), desc="log-prob", unit="text", disable=not show_progress(progress)) as bar,
    ):
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            ids, attention = pad_batch([encoded[text].input_ids for text in batch], pad)
            input_positions = [encoded[text].text_positions[chosen[text]] for text in batch]
            # logits at p-1 predict the token at p; cells index the flattened [batch, width] grid
            cells = np.concatenate([row * ids.shape[1] + p - 1 for row, p in enumerate(input_positions)])
            targets = np.concatenate([encoded[text].input_ids[p] for text, p in zip(batch, input_positions)])
            cell_index = torch.from_numpy(cells).to(device)
            gathered = []
            for model in models:
                logits = causal_position_logits(model, ids.to(device), attention.to(device), cell_index)
                gathered.append(logits.float().cpu())
            logprobs, corrects, kls = position_statistics(gathered, torch.from_numpy(targets))
            offset = 0
            for text in batch:
                n = len(chosen[text])
                for scores, lp, ok in zip(out, logprobs, corrects):
                    scores.logprob[text] = lp[offset : offset + n].copy()
                    scores.correct[text] = ok[offset : offset + n].copy()
                if kl is not None and kls is not None:
                    kl[text] = kls[offset : offset + n].copy()
                offset += n
            bar.update(len(batch))
    return out, kl


def score_causal(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 64,
    positions: Sequence[Sequence[int] | None] | None = None,
    progress: bool | None = None,
) -> TextScores:
    """Next-token log-probability of every text token (or of `positions[i]`, text-token indices, per text).

    `batch_size` counts texts per forward pass. Base and tuned model together: `dispatch.score_texts_joint`.
    """
    (scores,), _ = score_causal_models([model], tokenizer, texts, batch_size, max_length, positions, progress)
    return scores
