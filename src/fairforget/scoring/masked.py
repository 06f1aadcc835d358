"""Batched pseudo-log-likelihood scoring for masked LMs (Salazar et al. 2020, "Masked Language Model Scoring").

Each text token is replaced by the mask token in turn, with every other token visible, and scored by the
log-probability of the original token at the masked position; a text's PLL is the sum over its tokens.
All masked copies of many texts are batched together: texts are sorted by length so that a batch of
`batch_size` masked copies needs little padding, and each batch's logits are reduced to per-position numbers
at once, so memory is bounded by one batch whatever the corpus size. For BERT-family models the MLM head is
applied to the masked positions only (batch_size x vocabulary logits per batch instead of
batch_size x length x vocabulary).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fairforget.errors import ModelError
from fairforget.scoring.scores import (
    EncodedText,
    JointScores,
    TextScores,
    empty_scores,
    encode_texts,
    eval_mode,
    model_device,
    pad_id_of,
    position_statistics,
    selected_text_tokens,
    show_progress,
)

# Architectures whose MLM head is position-wise and applied right after the encoder, so it can be applied to
# the masked positions only (the head's matmul over the vocabulary dominates the cost of a small encoder).
_HEAD_ATTRIBUTE = {
    "BertForMaskedLM": "cls",
    "RobertaForMaskedLM": "lm_head",
    "XLMRobertaForMaskedLM": "lm_head",
    "CamembertForMaskedLM": "lm_head",
    "AlbertForMaskedLM": "predictions",
}


def masked_position_logits(
    model: torch.nn.Module, ids: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """Logits [len(rows), vocab] at (rows, positions): encoder on the batch, MLM head on those positions only
    for known architectures, a full forward pass (logits everywhere, then gathered) for any other."""
    head_name = _HEAD_ATTRIBUTE.get(type(model).__name__)
    if head_name is None:
        return model(input_ids=ids, attention_mask=attention).logits[rows, positions]
    hidden = model.base_model(input_ids=ids, attention_mask=attention).last_hidden_state
    return getattr(model, head_name)(hidden[rows, positions])


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
    out = [empty_scores(len(sizes)) for _ in models]
    for scores in out:
        scores.logprob = [np.zeros(n, np.float64) for n in sizes]
        scores.correct = [np.zeros(n, bool) for n in sizes]
    kl = [np.zeros(n, np.float64) for n in sizes] if len(models) == 2 else None

    def flush(batch: list[_Query]) -> None:
        width = max(len(q[2]) for q in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, _, row_ids, _, _) in enumerate(batch):
            ids[row, : len(row_ids)] = torch.from_numpy(row_ids)
            attention[row, : len(row_ids)] = 1
        rows = torch.arange(len(batch))
        positions = torch.tensor([q[3] for q in batch])
        targets = torch.tensor([q[4] for q in batch])
        gathered = []
        for model in models:
            logits = masked_position_logits(model, ids.to(device), attention.to(device), rows.to(device),
                                            positions.to(device))
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


def _score(
    models: Sequence[torch.nn.Module],
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    positions: Sequence[Sequence[int] | None] | None,
    progress: bool | None,
) -> tuple[list[TextScores], list[np.ndarray] | None]:
    encoded = encode_texts(tokenizer, "masked", texts, max_length)
    if positions is not None and len(positions) != len(texts):
        raise ModelError(f"positions: got {len(positions)} entries for {len(texts)} texts")
    chosen = [selected_text_tokens(e, None if positions is None else positions[i]) for i, e in enumerate(encoded)]
    sizes = [len(c) for c in chosen]
    out, kl = score_masked_queries(
        models, _queries(encoded, chosen, _mask_id(tokenizer)), sum(sizes), sizes, batch_size,
        pad_id_of(tokenizer), progress,
    )
    for scores in out:
        scores.token_index = [c.copy() for c in chosen]
        scores.token_id = [e.text_token_ids[c] for e, c in zip(encoded, chosen)]
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

    `batch_size` counts masked copies per forward pass, not texts.
    """
    (scores,), _ = _score([model], tokenizer, texts, batch_size, max_length, positions, progress)
    return scores


def score_masked_joint(
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
    """Score base and tuned model on the same masked copies and add KL(base || tuned) at each masked position."""
    (base, tuned), kl = _score([base_model, tuned_model], tokenizer, texts, batch_size, max_length, positions,
                               progress)
    assert kl is not None
    return JointScores(base=base, tuned=tuned, kl=kl)
