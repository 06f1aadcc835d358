"""Batched next-token log-probability scoring for causal LMs.

Text token k at model-input position p is scored by the log-probability the model assigns to it from the
logits at position p-1; the first text token is scored given the BOS token only. A text's log-probability
is the sum over its tokens. Texts are sorted by length and right-padded into batches of `batch_size` texts;
only the logits of scored positions are kept, so memory is bounded by one batch.
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
    score_single,
    show_progress,
    zero_scores,
)


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

    with eval_mode(models), tqdm(total=len(order), desc="log-prob", unit="text",
                                 disable=not show_progress(progress)) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            ids, attention = pad_batch([encoded[text].input_ids for text in batch], pad)
            rows, predicting, targets = [], [], []
            for row, text in enumerate(batch):
                enc = encoded[text]
                input_positions = enc.text_positions[chosen[text]]
                rows.extend([row] * len(input_positions))
                predicting.extend((input_positions - 1).tolist())  # logits at p-1 predict the token at p
                targets.extend(enc.input_ids[input_positions].tolist())
            row_index = torch.tensor(rows, device=device)
            position_index = torch.tensor(predicting, device=device)
            gathered = []
            for model in models:
                logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
                gathered.append(logits[row_index, position_index].float().cpu())
            logprobs, corrects, kls = position_statistics(gathered, torch.tensor(targets))
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
    return score_single(score_causal_models, model, tokenizer, texts, batch_size, max_length, positions, progress)
