"""Packed training: texts tokenised, concatenated and cut into fixed-length blocks, so no compute goes to padding.

The scheme is `group_texts` of transformers' `run_mlm.py` / `run_clm.py`, which bias-bench's
`experiments/run_mlm.py` and `run_clm.py` use for their CDA runs (Meade et al. 2022): every text is tokenised
with the tokenizer's special tokens ([CLS] ... [SEP] for BERT, BOS first for Llama) and no truncation, the
token streams are concatenated, cut into blocks of `block_size` tokens and the remainder (< block_size tokens)
is dropped. MLM masks each block dynamically (per draw) and never selects a special token; causal blocks are
their own labels. Every position of a block is a real token: the attention mask is all ones.

Deviations from bias-bench, named:
- bias-bench drops a remainder per group of 1,000 texts (`Dataset.map(batched=True)`); here only the one
  remainder at the end of the whole stream is dropped (fewer tokens lost, same blocks otherwise).
- bias-bench packs raw Wikipedia lines in file order and applies CDA to whole blocks afterwards; here the
  objective's examples (CDA already applied per sentence) are packed in a seeded random order of the texts,
  so that a sentence and its counterfactual twin (adjacent in `fairforget.data.cda.augment`'s output) rarely
  share a block, where attention could copy the one to predict the other. bias-bench's twins are separate
  blocks.

Memory: 5 bytes per corpus token (int32 ids + a bool special-token flag), tokenised in chunks of
`CHUNK_TEXTS` texts so the tokenizer's Python lists stay small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fairforget.errors import ConfigError
from fairforget.training import lm
from fairforget.training.plugins import TrainingContext

CHUNK_TEXTS = 2048  # texts per tokenizer call while packing
PACKED_BLOCKS = "packed_blocks"  # key of the PackedBlocks in TrainingContext.extra
BLOCK = "block"  # example type of a packed block: {"type": "block", "block": index}


@dataclass(frozen=True, eq=False)
class PackedBlocks:
    """`input_ids` [blocks, block_size] int32 and `special` [blocks, block_size] bool, plus how they were made."""

    input_ids: torch.Tensor
    special: torch.Tensor
    n_texts: int
    corpus_tokens: int  # tokens of all texts before the remainder was dropped

    @property
    def block_size(self) -> int:
        return int(self.input_ids.shape[1])

    @property
    def n_blocks(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def dropped_tokens(self) -> int:
        return self.corpus_tokens - self.n_blocks * self.block_size


def packing_order(n_texts: int, seed: int) -> list[int]:
    """The seeded order in which the texts are concatenated (see the module docstring)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + 29)
    return torch.randperm(n_texts, generator=generator).tolist()


def pack_texts(
    tokenizer: Any, texts: Sequence[str], block_size: int, seed: int, key: str = "training.block_size"
) -> PackedBlocks:
    """Tokenise `texts` (in `packing_order(len(texts), seed)`), concatenate, cut into `block_size` blocks."""
    lm.check_tokenizable(tokenizer, texts, block_size)
    order = packing_order(len(texts), seed)
    id_chunks: list[np.ndarray] = []
    special_chunks: list[np.ndarray] = []
    for start in range(0, len(order), CHUNK_TEXTS):
        chunk = [texts[i] for i in order[start : start + CHUNK_TEXTS]]
        # no truncation, as group_texts; verbose=False silences "longer than the model's maximum" warnings
        encoded = tokenizer(chunk, return_special_tokens_mask=True, return_attention_mask=False, verbose=False)
        id_chunks.append(np.fromiter((t for row in encoded["input_ids"] for t in row), dtype=np.int32))
        special_chunks.append(np.fromiter((bool(t) for row in encoded["special_tokens_mask"] for t in row), dtype=bool))
    ids = np.concatenate(id_chunks)
    special = np.concatenate(special_chunks)
    n_blocks = len(ids) // block_size
    if n_blocks == 0:
        raise ConfigError(
            f"config key '{key}': the {len(texts)} training texts hold {len(ids)} tokens, fewer than one block of "
            f"{block_size}; lower it or set training.packing: false"
        )
    keep = n_blocks * block_size
    return PackedBlocks(
        input_ids=torch.from_numpy(ids[:keep].reshape(n_blocks, block_size).copy()),
        special=torch.from_numpy(special[:keep].reshape(n_blocks, block_size).copy()),
        n_texts=len(texts),
        corpus_tokens=len(ids),
    )


def block_examples(blocks: PackedBlocks) -> list[dict[str, Any]]:
    return [{"type": BLOCK, "block": k} for k in range(blocks.n_blocks)]


def collate_blocks(
    examples: Sequence[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
) -> dict[str, Any]:
    """An LM batch (with "kind") of packed blocks: MLM-masked outside special tokens, or causal labels."""
    blocks = ctx.extra[PACKED_BLOCKS]
    groups = lm.split_by_type(examples, (BLOCK,), "packed collate")
    rows = torch.tensor([e["block"] for e in groups[BLOCK]], dtype=torch.long)
    encoded = {
        "input_ids": blocks.input_ids[rows].long(),
        "attention_mask": torch.ones((len(rows), blocks.block_size), dtype=torch.long),
        "special_tokens_mask": blocks.special[rows],
    }
    batch: dict[str, Any] = dict(lm.text_batch([], ctx, generator, encoded=encoded))
    batch["kind"] = ctx.kind
    return batch


def check_block_size(model: torch.nn.Module, block_size: int, key: str = "training.block_size") -> None:
    """A block must fit the model's position embeddings."""
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(limit, int) and block_size > limit:
        raise ConfigError(
            f"config key '{key}': {block_size} tokens per block exceed the model's {limit} positions "
            "(config.max_position_embeddings)"
        )
