"""Sentence embeddings for SEAT, as bias-bench encodes sentences for BERT-style encoders (May et al. 2019):
the last hidden layer averaged over all tokens of the sentence, special tokens ([CLS], [SEP]) included and
padding excluded, then scaled to unit length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from fairforget.errors import ModelError
from fairforget.scoring.scores import eval_mode, model_device, pad_id_of


def sentence_embeddings(
    model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 32, max_length: int = 64
) -> np.ndarray:
    """[len(texts), hidden] float64, unit-norm mean-pooled last-layer states."""
    if not texts:
        raise ModelError("sentence_embeddings: no texts given")
    device = model_device(model)
    out = []
    with eval_mode([model]):
        for start in range(0, len(texts), batch_size):
            batch = [
                tokenizer(t, truncation=True, max_length=max_length)["input_ids"]
                for t in texts[start : start + batch_size]
            ]
            width = max(len(ids) for ids in batch)
            ids = torch.full((len(batch), width), pad_id_of(tokenizer), dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, row_ids in enumerate(batch):
                ids[row, : len(row_ids)] = torch.tensor(row_ids)
                attention[row, : len(row_ids)] = 1
            hidden = (
                model(input_ids=ids.to(device), attention_mask=attention.to(device), output_hidden_states=True)
                .hidden_states[-1]
                .double()
                .cpu()
            )
            weights = attention.double()[:, :, None]
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
            out.append(pooled.numpy())
    embeddings = np.concatenate(out)
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
