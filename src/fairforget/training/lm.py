"""Language-modelling helpers shared by every objective and remedy.

Tokenisation with padding/truncation, BERT-style MLM masking (random draws only from a passed
`torch.Generator`, so a seeded generator gives bit-identical batches), causal labels, the LM loss for masked
and causal models, per-sequence log-probabilities (token alignment between a sentence and its counterfactual twin:
`training.alignment`).

A *text batch* is a dict of tensors `{"input_ids", "attention_mask", "labels"}` (labels = -100 where no loss
is taken); collate functions put tensors on `ctx.device`, so the engine need not move batches.

Pre-tokenisation: calling the tokenizer once per batch cost ~6 ms per batch of 16 in bench_training (mostly
fixed per-call overhead: one call for all 1280 texts takes ~55 ms), a large share of a tiny model's step.
`pretokenize(ctx, texts)` tokenises every training text once, up front,
into a `TokenCache` kept in `ctx.extra`; `encode(ctx, texts)` then only gathers and pads cached ids (a few
vectorised tensor ops) and returns exactly what `tokenize` would. Texts missing from the cache fall back to
`tokenize`, so objectives stay correct with or without a cache.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from fairforget.errors import ModelError, TrainingError
from fairforget.models.heads import head_logits_at
from fairforget.training.plugins import TrainingContext

IGNORE_INDEX = -100
KINDS = ("masked", "causal")
# BERT recipe (Devlin et al. 2019): of the selected tokens, 80% -> [MASK], 10% -> random token, 10% kept.
MASK_REPLACE_FRACTION = 0.8
RANDOM_OF_REST_FRACTION = 0.5

logger = logging.getLogger(__name__)
TOKEN_CACHE = "token_cache"  # key of the TokenCache in TrainingContext.extra
# Example fields that hold text an objective tokenises (see training.plugins for the example types).
TEXT_FIELDS = ("text", "swapped", "stereo", "anti")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ModelError(f"model kind must be one of {KINDS}, got {kind!r}")
    return kind


def ensure_pad_token(tokenizer: Any) -> int:
    """The pad token id; a causal tokenizer without one pads with EOS (padding never enters the loss)."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ModelError("tokenizer has neither a pad token nor an EOS token to pad with")
        logger.info("tokenizer has no pad token; padding with the EOS token %r", tokenizer.eos_token)
        tokenizer.pad_token = tokenizer.eos_token
    return int(tokenizer.pad_token_id)


def check_tokenizable(tokenizer: Any, texts: Sequence[str], max_length: int) -> None:
    """The preconditions of `tokenize` and `build_token_cache`; also gives the tokenizer a pad token."""
    if not texts:
        raise TrainingError("cannot tokenize an empty list of texts")
    if max_length < 2:
        raise TrainingError(f"max_length must be at least 2, got {max_length}")
    if not getattr(tokenizer, "is_fast", False):
        # offsets (for counterfactual alignment) and special-token masks need a Rust-backed tokenizer
        raise ModelError(f"a fast (tokenizers-backed) tokenizer is required, got {type(tokenizer).__name__}")
    ensure_pad_token(tokenizer)


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    """Right-padded, truncated ids: {"input_ids", "attention_mask", "special_tokens_mask", "offsets"}.

    `offsets` [batch, tokens, 2] holds each token's character span in its text ((0, 0) for special tokens).
    """
    check_tokenizable(tokenizer, texts, max_length)
    encoded = tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
        return_special_tokens_mask=True,
        return_offsets_mapping=True,
        padding_side="right",  # positions then index the same tokens with or without padding
    )
    attention_mask = encoded["attention_mask"].long()
    # Padding counts as special: it is never masked nor scored.
    special = encoded["special_tokens_mask"].bool() | (attention_mask == 0)
    return {
        "input_ids": encoded["input_ids"].long(),
        "attention_mask": attention_mask,
        "special_tokens_mask": special,
        "offsets": encoded["offset_mapping"].long(),
    }


@dataclass(frozen=True, eq=False)
class TokenCache:
    """Unpadded tokenisations of a fixed set of texts, stored flat: row k of text t is
    `input_ids[starts[k] : starts[k] + lengths[k]]` (likewise special/offsets), with k = `index[t]`."""

    tokenizer: Any
    max_length: int
    index: dict[str, int]
    starts: torch.Tensor  # [texts] long
    lengths: torch.Tensor  # [texts] long
    input_ids: torch.Tensor  # [tokens] long
    special: torch.Tensor  # [tokens] bool
    offsets: torch.Tensor  # [tokens, 2] long

    def serves(self, ctx: TrainingContext) -> bool:
        return self.tokenizer is ctx.tokenizer and self.max_length == ctx.max_length

    def length(self, text: str) -> int | None:
        row = self.index.get(text)
        return None if row is None else int(self.lengths[row])

    def gather(self, texts: Sequence[str], pad_id: int) -> dict[str, torch.Tensor] | None:
        """`tokenize`'s result for `texts` (right-padded to the longest), or None if a text is not cached."""
        rows = [self.index.get(text) for text in texts]
        if not rows or any(row is None for row in rows):
            return None
        row_index = torch.tensor(rows, dtype=torch.long)
        starts, lengths = self.starts[row_index], self.lengths[row_index]
        width = int(lengths.max())
        steps = torch.arange(width)
        valid = steps.unsqueeze(0) < lengths.unsqueeze(1)
        # clamp keeps padding positions' (discarded) gather index in range
        flat = (starts.unsqueeze(1) + steps.unsqueeze(0)).clamp(max=max(len(self.input_ids) - 1, 0))
        input_ids = torch.where(valid, self.input_ids[flat], torch.full_like(flat, pad_id))
        special = torch.where(valid, self.special[flat], torch.ones_like(valid))
        offsets = torch.where(valid.unsqueeze(-1), self.offsets[flat], torch.zeros((), dtype=torch.long))
        return {
            "input_ids": input_ids,
            "attention_mask": valid.long(),
            "special_tokens_mask": special,
            "offsets": offsets,
        }


@contextmanager
def tokenizer_settings_kept(tokenizer: Any) -> Iterator[None]:
    """Restore a fast tokenizer's padding and truncation settings after the block: a call changes them, and a
    saved tokenizer (tokenizer.json, part of a checkpoint's hash) records the last call's."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        yield
        return
    padding, truncation = backend.padding, backend.truncation
    try:
        yield
    finally:
        if padding is None:
            backend.no_padding()
        else:
            backend.enable_padding(**{k: v for k, v in padding.items() if k != "strategy"}, **_length(padding))
        if truncation is None:
            backend.no_truncation()
        else:
            backend.enable_truncation(**truncation)


def _length(padding: dict[str, Any]) -> dict[str, Any]:
    # tokenizers reports the strategy as "BatchLongest" or {"Fixed": n}; enable_padding takes `length`
    strategy = padding.get("strategy")
    return {"length": strategy["Fixed"]} if isinstance(strategy, dict) and "Fixed" in strategy else {}


def build_token_cache(tokenizer: Any, texts: Iterable[str], max_length: int) -> TokenCache:
    """Tokenise the distinct `texts` in one call (same settings as `tokenize`, without padding)."""
    unique = list(dict.fromkeys(texts))
    check_tokenizable(tokenizer, unique, max_length)
    encoded = tokenizer(
        unique,
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_offsets_mapping=True,
        return_attention_mask=False,
    )
    ids, specials, offsets = encoded["input_ids"], encoded["special_tokens_mask"], encoded["offset_mapping"]
    lengths = torch.tensor([len(row) for row in ids], dtype=torch.long)
    starts = torch.cumsum(lengths, 0) - lengths
    return TokenCache(
        tokenizer=tokenizer,
        max_length=max_length,
        index={text: k for k, text in enumerate(unique)},
        starts=starts,
        lengths=lengths,
        input_ids=torch.tensor([t for row in ids for t in row], dtype=torch.long),
        special=torch.tensor([bool(t) for row in specials for t in row], dtype=torch.bool),
        offsets=torch.tensor([span for row in offsets for span in row], dtype=torch.long).reshape(-1, 2),
    )


def example_texts(examples: Iterable[dict[str, Any]]) -> list[str]:
    """Every string in the TEXT_FIELDS of the examples, in order (duplicates kept)."""
    return [e[f] for e in examples for f in TEXT_FIELDS if isinstance(e.get(f), str)]


def pretokenize(ctx: TrainingContext, texts: Iterable[str]) -> TokenCache | None:
    """Tokenise `texts` once and keep them in ctx.extra, so `encode` (and the collate functions built on it)
    only pad cached ids. Returns the cache (None when there is no text)."""
    texts = list(texts)
    if not texts:
        return None
    cache = build_token_cache(ctx.tokenizer, texts, ctx.max_length)
    ctx.extra[TOKEN_CACHE] = cache
    return cache


def encode(ctx: TrainingContext, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """`tokenize(ctx.tokenizer, texts, ctx.max_length)`, from ctx's pre-tokenised cache when it holds them all."""
    cache = ctx.extra.get(TOKEN_CACHE)
    if isinstance(cache, TokenCache) and cache.serves(ctx):
        gathered = cache.gather(texts, int(ctx.tokenizer.pad_token_id))
        if gathered is not None:
            return gathered
    return tokenize(ctx.tokenizer, texts, ctx.max_length)


def example_token_lengths(ctx: TrainingContext, examples: Sequence[dict[str, Any]]) -> list[int]:
    """Tokens per example (sum over its TEXT_FIELDS; from the cache, else characters / 4 as a rough proxy):
    the lengths the engine groups by with `group_by_length`."""
    cache = ctx.extra.get(TOKEN_CACHE)
    usable = isinstance(cache, TokenCache) and cache.serves(ctx)
    lengths = []
    for example in examples:
        total = 0
        for f in TEXT_FIELDS:
            text = example.get(f)
            if isinstance(text, str):
                cached = cache.length(text) if usable and cache is not None else None
                total += cached if cached is not None else max(1, len(text) // 4)
        lengths.append(total)
    return lengths


def mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    tokenizer: Any,
    generator: torch.Generator,
    mlm_probability: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking of the `maskable` positions: returns (corrupted ids, labels with -100 where unselected).

    Each maskable token is selected with probability `mlm_probability`; a selected token becomes [MASK] with
    probability 0.8, a uniformly random vocabulary token with 0.1, and stays unchanged with 0.1. All draws come
    from `generator` (CPU), in a fixed order, so the result depends only on the generator state.
    """
    if tokenizer.mask_token_id is None:
        raise ModelError("MLM masking needs a tokenizer with a mask token")
    if not 0.0 < mlm_probability < 1.0:
        raise TrainingError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    ids = input_ids.cpu()
    maskable = maskable.cpu().bool()
    shape = ids.shape
    selected = (torch.rand(shape, generator=generator) < mlm_probability) & maskable
    to_mask = (torch.rand(shape, generator=generator) < MASK_REPLACE_FRACTION) & selected
    to_random = (torch.rand(shape, generator=generator) < RANDOM_OF_REST_FRACTION) & selected & ~to_mask
    random_ids = torch.randint(len(tokenizer), shape, generator=generator, dtype=torch.long)
    corrupted = ids.clone()
    corrupted[to_mask] = int(tokenizer.mask_token_id)
    corrupted[to_random] = random_ids[to_random]
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE_INDEX))
    return corrupted, labels


def causal_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Labels for next-token prediction: the ids themselves, -100 at padding (the shift happens in the loss)."""
    return torch.where(attention_mask.bool(), input_ids, torch.full_like(input_ids, IGNORE_INDEX))


def text_batch(
    texts: Sequence[str],
    ctx: TrainingContext,
    generator: torch.Generator,
    maskable: torch.Tensor | None = None,
    encoded: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """An LM batch of `texts` for ctx.kind on ctx.device: MLM-masked (masked) or with causal labels.

    `maskable` optionally narrows the positions MLM may select (it is and-ed with "not special");
    `encoded` reuses an existing `tokenize`/`encode` result.
    """
    kind = check_kind(ctx.kind)
    if encoded is None:
        encoded = encode(ctx, texts)
    if kind == "masked":
        allowed = ~encoded["special_tokens_mask"]
        if maskable is not None:
            allowed = allowed & maskable.bool()
        input_ids, labels = mask_tokens(encoded["input_ids"], allowed, ctx.tokenizer, generator, ctx.mlm_probability)
    else:
        input_ids = encoded["input_ids"]
        labels = causal_labels(input_ids, encoded["attention_mask"])
    return {
        "input_ids": input_ids.to(ctx.device),
        "attention_mask": encoded["attention_mask"].to(ctx.device),
        "labels": labels.to(ctx.device),
    }


def model_logits(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def shifted(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and targets paired position by position: causal models predict token t+1 at position t."""
    if check_kind(kind) == "causal":
        return logits[:, :-1, :], labels[:, 1:]
    return logits, labels


def token_log_probs(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(target) per scored position, bool mask of scored positions); both [batch, positions]."""
    logits, labels = shifted(logits, labels, kind)
    # cross_entropy avoids materialising a full log-softmax copy (large vocabularies); 0 at ignored positions
    negative = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none")
    return -negative, labels != IGNORE_INDEX


def sequence_log_probs(model: torch.nn.Module, batch: dict[str, torch.Tensor], kind: str) -> torch.Tensor:
    """Sum of log p(label) over the scored positions of each row: shape [batch]."""
    log_probs, _ = token_log_probs(model_logits(model, batch), batch["labels"], kind)
    return log_probs.sum(dim=-1)


def lm_loss_from_logits(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean cross-entropy over all scored tokens of the batch; 0 (with a graph) when none is scored.

    Sum / max(count, 1) rather than `reduction="mean"` (NaN for an empty selection, which MLM can draw in a
    tiny batch): no data-dependent branch, so no device->host sync per micro-batch.
    """
    if check_kind(kind) == "causal":
        # Shift the labels, not the logits: slicing the logits would copy the whole [batch, length, vocab]
        # tensor (and its gradient); the padded last position is ignored.
        labels = F.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)
    flat_labels = labels.reshape(-1)
    total = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), flat_labels, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return total / (flat_labels != IGNORE_INDEX).sum().clamp(min=1)


def text_lm_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], kind: str) -> torch.Tensor:
    """Token-mean LM loss of a text batch: `lm_loss_from_logits` of the model's logits. For a masked LM whose
    head is position-wise (`fairforget.models.heads`) the head runs on the masked positions only: the same loss in
    exact arithmetic (rounding differs), without the vocabulary matmul and its gradient at the ~85% of positions
    that take no loss, which is most of a small model's training step."""
    if check_kind(kind) == "masked":
        scored = batch["labels"] != IGNORE_INDEX
        logits = head_logits_at(model, batch["input_ids"], batch["attention_mask"], scored)  # [scored, vocab]
        if logits is not None:
            return lm_loss_from_logits(logits, batch["labels"][scored], kind)
    return lm_loss_from_logits(model_logits(model, batch), batch["labels"], kind)


def lm_loss(model: torch.nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    """Token-mean LM loss of a text batch (which carries its "kind": see `collate_text_examples`)."""
    return text_lm_loss(model, batch, batch["kind"])


def split_by_type(
    examples: Sequence[dict[str, Any]], accepted: Sequence[str], who: str
) -> dict[str, list[dict[str, Any]]]:
    """Group a batch's examples by "type"; an unaccepted type raises TrainingError naming `who`."""
    groups: dict[str, list[dict[str, Any]]] = {name: [] for name in accepted}
    for example in examples:
        kind = example.get("type")
        if kind not in groups:
            raise TrainingError(f"{who}: cannot train on examples of type {kind!r}; accepted: {', '.join(accepted)}")
        groups[kind].append(example)
    return groups


def collate_text_examples(
    examples: Sequence[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
) -> dict[str, Any]:
    """Collate {"type": "text"} examples into an LM batch (with "kind"), for objectives that train on text only."""
    groups = split_by_type(examples, ("text",), "text collate")
    batch: dict[str, Any] = dict(text_batch([e["text"] for e in groups["text"]], ctx, generator))
    batch["kind"] = ctx.kind
    return batch
