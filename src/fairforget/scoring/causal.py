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
    JointScores,
    TextScores,
    encode_texts,
    eval_mode,
    model_device,
    pad_id_of,
    position_statistics,
    selected_text_tokens,
    show_progress,
)


def _score(
    models: Sequence[torch.nn.Module],
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    positions: Sequence[Sequence[int] | None] | None,
    progress: bool | None,
) -> tuple[list[TextScores], list[np.ndarray] | None]:
    if batch_size < 1:
        raise ModelError(f"batch_size must be positive, got {batch_size}")
    if positions is not None and len(positions) != len(texts):
        raise ModelError(f"positions: got {len(positions)} entries for {len(texts)} texts")
    encoded = encode_texts(tokenizer, "causal", texts, max_length)
    chosen = [selected_text_tokens(e, None if positions is None else positions[i]) for i, e in enumerate(encoded)]
    out = [
        TextScores(
            token_index=[c.copy() for c in chosen],
            token_id=[e.text_token_ids[c] for e, c in zip(encoded, chosen)],
            logprob=[np.zeros(len(c), np.float64) for c in chosen],
            correct=[np.zeros(len(c), bool) for c in chosen],
        )
        for _ in models
    ]
    kl = [np.zeros(len(c), np.float64) for c in chosen] if len(models) == 2 else None
    device = model_device(models[0])
    pad = pad_id_of(tokenizer)
    order = [int(i) for i in np.argsort([len(e.input_ids) for e in encoded], kind="stable") if len(chosen[i])]

    with eval_mode(models), tqdm(total=len(order), desc="log-prob", unit="text",
                                 disable=not show_progress(progress)) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encoded[t].input_ids) for t in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            rows, predicting, targets = [], [], []
            for row, text in enumerate(batch):
                enc = encoded[text]
                ids[row, : len(enc.input_ids)] = torch.from_numpy(enc.input_ids)
                attention[row, : len(enc.input_ids)] = 1
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

    `batch_size` counts texts per forward pass.
    """
    (scores,), _ = _score([model], tokenizer, texts, batch_size, max_length, positions, progress)
    return scores


def score_causal_joint(
    base_model: torch.nn.Module,
    tuned_model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 64,
    positions: Sequence[Sequence[int] | None] | None = None,
    progress: bool | None = None,
) -> JointScores:
    """Score base and tuned model on the same inputs and add KL(base || tuned) at each scored position."""
    (base, tuned), kl = _score([base_model, tuned_model], tokenizer, texts, batch_size, max_length, positions,
                               progress)
    assert kl is not None
    return JointScores(base=base, tuned=tuned, kl=kl)
