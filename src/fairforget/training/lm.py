"""Language-modelling helpers shared by every objective and remedy.

Tokenisation with padding/truncation, BERT-style MLM masking (random draws only from a passed
`torch.Generator`, so a seeded generator gives bit-identical batches), causal labels, the LM loss for masked
and causal models, per-sequence log-probabilities, and token alignment between a sentence and its
counterfactual twin.

A *text batch* is a dict of tensors `{"input_ids", "attention_mask", "labels"}` (labels = -100 where no loss
is taken); collate functions put tensors on `ctx.device`, so the engine need not move batches.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from fairforget.errors import ModelError, TrainingError
from fairforget.training.plugins import TrainingContext

IGNORE_INDEX = -100
KINDS = ("masked", "causal")
# BERT recipe (Devlin et al. 2019): of the selected tokens, 80% -> [MASK], 10% -> random token, 10% kept.
MASK_REPLACE_FRACTION = 0.8
RANDOM_OF_REST_FRACTION = 0.5

logger = logging.getLogger(__name__)


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


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    """Right-padded, truncated ids: {"input_ids", "attention_mask", "special_tokens_mask", "offsets"}.

    `offsets` [batch, tokens, 2] holds each token's character span in its text ((0, 0) for special tokens).
    """
    if not texts:
        raise TrainingError("cannot tokenize an empty list of texts")
    if max_length < 2:
        raise TrainingError(f"max_length must be at least 2, got {max_length}")
    if not getattr(tokenizer, "is_fast", False):
        # offsets (for counterfactual alignment) and special-token masks need a Rust-backed tokenizer
        raise ModelError(f"a fast (tokenizers-backed) tokenizer is required, got {type(tokenizer).__name__}")
    ensure_pad_token(tokenizer)
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
    `encoded` reuses an existing `tokenize` result.
    """
    kind = check_kind(ctx.kind)
    if encoded is None:
        encoded = tokenize(ctx.tokenizer, texts, ctx.max_length)
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


def sequence_log_probs(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], kind: str
) -> torch.Tensor:
    """Sum of log p(label) over the scored positions of each row: shape [batch]."""
    log_probs, _ = token_log_probs(model_logits(model, batch), batch["labels"], kind)
    return log_probs.sum(dim=-1)


def lm_loss_from_logits(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean cross-entropy over all scored tokens of the batch; 0 (with a graph) when none is scored."""
    logits, labels = shifted(logits, labels, kind)
    if not bool((labels != IGNORE_INDEX).any()):
        # MLM can select no token in a tiny batch; a zero keeps the step finite instead of NaN.
        return logits.sum() * 0.0
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


def lm_loss(model: torch.nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    """Token-mean LM loss of a text batch (which carries its "kind": see `collate_text_examples`)."""
    return lm_loss_from_logits(model_logits(model, batch), batch["labels"], batch["kind"])


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


def aligned_positions(a: Sequence[int], b: Sequence[int]) -> list[tuple[int, int]]:
    """Positions (i, j) with a[i] == b[j] in the longest matching blocks (difflib, no junk heuristic).

    For a sentence and its gender-swapped twin this pairs every token outside the swapped words with its
    counterpart, even when a swapped word tokenizes to a different number of pieces.
    """
    matcher = difflib.SequenceMatcher(a=list(a), b=list(b), autojunk=False)
    pairs: list[tuple[int, int]] = []
    for block in matcher.get_matching_blocks():
        pairs.extend((block.a + k, block.b + k) for k in range(block.size))
    return pairs


def unpadded(ids: torch.Tensor, attention_mask: torch.Tensor) -> list[int]:
    return ids[attention_mask.bool()].tolist()


def changed_word_spans(text: str, other: str) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated words of `text` that have no match in `other` (difflib)."""
    words = [(m.group(), m.span()) for m in re.finditer(r"\S+", text)]
    other_words = [m.group() for m in re.finditer(r"\S+", other)]
    matcher = difflib.SequenceMatcher(a=[w for w, _ in words], b=other_words, autojunk=False)
    kept = {block.a + k for block in matcher.get_matching_blocks() for k in range(block.size)}
    return [span for index, (_, span) in enumerate(words) if index not in kept]


def _touches(offset: Sequence[int], spans: Sequence[tuple[int, int]]) -> bool:
    start, end = int(offset[0]), int(offset[1])
    return end > start and any(start < span_end and end > span_start for span_start, span_end in spans)


def counterfactual_alignment(
    text: str, ids: Sequence[int], offsets: Sequence[Sequence[int]],
    other: str, other_ids: Sequence[int], other_offsets: Sequence[Sequence[int]],
) -> list[tuple[int, int]]:
    """Token pairs (i, j) shared by `text` and its counterfactual `other`, outside every changed word.

    Token-level matching alone can pair a sub-word of a swapped word with a piece of its counterpart (byte-BPE
    "man" inside "wo|man"); so pairs whose token overlaps a word that differs between the two texts
    (`changed_word_spans`) are dropped. `offsets` are the tokens' character spans (`tokenize`'s "offsets").
    """
    changed = changed_word_spans(text, other)
    other_changed = changed_word_spans(other, text)
    return [
        (i, j) for i, j in aligned_positions(ids, other_ids)
        if not _touches(offsets[i], changed) and not _touches(other_offsets[j], other_changed)
    ]


def batch_alignments(
    texts: Sequence[str],
    encoded: dict[str, torch.Tensor],
    others: Sequence[str],
    other_encoded: dict[str, torch.Tensor],
) -> list[list[tuple[int, int]]]:
    """`counterfactual_alignment` of row r of `encoded` with row r of `other_encoded`, for r < len(others)."""
    alignments = []
    for r in range(len(others)):
        keep = encoded["attention_mask"][r].bool()
        other_keep = other_encoded["attention_mask"][r].bool()
        alignments.append(counterfactual_alignment(
            texts[r], encoded["input_ids"][r][keep].tolist(), encoded["offsets"][r][keep].tolist(),
            others[r], other_encoded["input_ids"][r][other_keep].tolist(),
            other_encoded["offsets"][r][other_keep].tolist(),
        ))
    return alignments
