"""Batched pseudo-log-likelihood scoring for masked LMs (Salazar et al. 2020, "Masked Language Model Scoring").

Each text token is replaced by the mask token in turn, with every other token visible, and scored by the
log-probability of the original token at the masked position; a text's PLL is the sum over its tokens.
All masked copies of many texts are batched together: texts are sorted by length so that a batch of
`batch_size` masked copies needs little padding, and each batch's logits are reduced to per-position numbers
at once, so memory is bounded by one batch whatever the corpus size. Only the masked positions' logits are
computed (batch_size x vocabulary per batch instead of batch_size x length x vocabulary): a stock
BertForMaskedLM takes the PLL-specialised pass of `masked_encoder`, other BERT-family models the encoder plus
the MLM head at the masked positions, and any other architecture a full forward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fairforget.errors import ModelError
from fairforget.models.heads import head_logits_at
from fairforget.scoring.masked_encoder import pll_position_logits, supports_pll_encoder
from fairforget.scoring.scores import (
    EncodedText,
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

# Logits [batch, vocab] of row b at positions[b] for (input ids, attention mask, positions)
PositionLogits = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def position_logits_route(model: torch.nn.Module) -> PositionLogits:
    """`model`'s cheapest exact route to the logits of one masked position per row, chosen once per scoring call
    (not per batch): the PLL-specialised BERT pass (`masked_encoder`), else the encoder on the batch with the MLM
    head on those positions only (known architectures), else a full forward pass with the logits gathered."""
    if supports_pll_encoder(model):
        return functools.partial(pll_position_logits, model)

    def logits_at(ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(ids.shape[0], device=ids.device)
        logits = head_logits_at(model, ids, attention, (rows, positions))
        if logits is None:
            return model(input_ids=ids, attention_mask=attention).logits[rows, positions]
        return logits

    return logits_at


# One masked copy: (text number, slot in that text's output arrays, input ids, masked position, target id)
_Query = tuple[int, int, np.ndarray, int, int]


def _queries(encoded: Sequence[EncodedText], chosen: Sequence[np.ndarray], mask_id: int) -> Iterator[_Query]:
    """Masked copies, texts in ascending length order so that batches hold texts of similar length."""
    order = np.argsort([len(e.input_ids) for e in encoded], kind="stable")
    for text in order:
        enc = encoded[text]
        for slot, k in enumerate(chosen[text]):
            position = int(enc.text_positions[k])
            ids = enc.input_ids.copy()
            target = int(ids[position])
            ids[position] = mask_id
            yield int(text), slot, ids, position, target


def score_masked_queries(
    models: Sequence[torch.nn.Module],
    queries: Iterator[_Query],
    n_queries: int,
    sizes: Sequence[int],
    batch_size: int,
    pad_id: int,
    progress: bool | None = None,
) -> tuple[list[TextScores], list[np.ndarray] | None]:
    """Run masked queries through one model (or two: base, tuned) in batches of `batch_size` rows.

    `sizes[t]` is the number of queries of text t. Returns per-model (logprob, correct) arrays per text and,
    for two models, KL(first || second) per query. token_index/token_id are left for the caller to fill.
    """
    if batch_size < 1:
        raise ModelError(f"batch_size must be positive, got {batch_size}")
    device = model_device(models[0])
    out, kl = zero_scores(sizes, len(models))
    routes = [position_logits_route(model) for model in models]

    def flush(batch: list[_Query]) -> None:
        ids, attention = pad_batch([q[2] for q in batch], pad_id)
        positions = torch.tensor([q[3] for q in batch])
        targets = torch.tensor([q[4] for q in batch])
        gathered = []
        for route in routes:
            logits = route(ids.to(device), attention.to(device), positions.to(device))
            gathered.append(logits.float().cpu())
        logprobs, corrects, kls = position_statistics(gathered, targets)
        for row, (text, slot, _, _, _) in enumerate(batch):
            for scores, lp, ok in zip(out, logprobs, corrects):
                scores.logprob[text][slot] = lp[row]
                scores.correct[text][slot] = ok[row]
            if kl is not None and kls is not None:
                kl[text][slot] = kls[row]

    with eval_mode(models), tqdm(total=n_queries, desc="PLL", unit="tok", disable=not show_progress(progress)) as bar:
        batch: list[_Query] = []
        for query in queries:
            batch.append(query)
            if len(batch) == batch_size:
                flush(batch)
                bar.update(len(batch))
                batch = []
        if batch:
            flush(batch)
            bar.update(len(batch))
    return out, kl


def _mask_id(tokenizer: Any) -> int:
    if tokenizer.mask_token_id is None:
        raise ModelError("masked scoring needs a tokenizer with a mask token (mask_token_id is None)")
    return int(tokenizer.mask_token_id)


def score_masked_models(
    models: Sequence[torch.nn.Module],
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    positions: Sequence[Sequence[int] | None] | None,
    progress: bool | None,
) -> tuple[list[TextScores], list[np.ndarray] | None]:
    """PLL scores of one model (or two: base, tuned, plus KL(base || tuned) per masked position)."""
    encoded = encode_texts(tokenizer, "masked", texts, max_length)
    check_positions(positions, len(texts))
    chosen = chosen_tokens(encoded, positions)
    sizes = [len(c) for c in chosen]
    out, kl = score_masked_queries(
        models,
        _queries(encoded, chosen, _mask_id(tokenizer)),
        sum(sizes),
        sizes,
        batch_size,
        pad_id_of(tokenizer),
        progress,
    )
    fill_tokens(out, encoded, chosen)
    return out, kl


def score_masked(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 64,
    positions: Sequence[Sequence[int] | None] | None = None,
    progress: bool | None = None,
) -> TextScores:
    """Pseudo-log-likelihood scores of every text token (or of `positions[i]`, text-token indices, per text).

    `batch_size` counts masked copies per forward pass, not texts. Base and tuned model together:
    `dispatch.score_texts_joint`.
    """
    (scores,), _ = score_masked_models([model], tokenizer, texts, batch_size, max_length, positions, progress)
    return scores
