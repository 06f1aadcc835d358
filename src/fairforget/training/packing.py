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

Memory: the blocks are written to two files (int32 ids, uint8 special-token flags: 5 bytes per token) one
tokenised chunk of `CHUNK_TEXTS` texts at a time, and read back memory-mapped, so packing holds one chunk of
texts and tokens whatever the corpus size; the texts come from a `Sequence` that may compute them on demand
(`fairforget.training.examples`). The files go to `folder` (the run's state dir under `packed/`, so a resumed
run finds them; a key of the examples, block size and seed in their name, and a JSON written last, make a
partial or foreign file never reused: it is rebuilt, deterministically) or to a temporary folder removed with
the blocks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fairforget.errors import ConfigError
from fairforget.training import lm
from fairforget.training.examples import LazyExamples, digest, release_pages, texts_at
from fairforget.training.plugins import TrainingContext
from fairforget.training.state import PACKED

CHUNK_TEXTS = 2048  # texts per tokenizer call while packing
PACKED_BLOCKS = "packed_blocks"  # key of the PackedBlocks in TrainingContext.extra
BLOCK = "block"  # example type of a packed block: {"type": "block", "block": index}
PACKED_DIR = PACKED  # sub-folder of a run's state dir that holds its blocks (removed by state.clear_state)


@dataclass(frozen=True, eq=False)
class PackedBlocks:
    """`input_ids` [blocks, block_size] int32 and `special` [blocks, block_size] bool (tensors over memory-mapped
    files), plus how they were made."""

    input_ids: torch.Tensor
    special: torch.Tensor
    n_texts: int
    corpus_tokens: int  # tokens of all texts before the remainder was dropped
    folder: Path | None = field(default=None, compare=False)

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
    return _packing_order(n_texts, seed).tolist()


def _packing_order(n_texts: int, seed: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + 29)
    return torch.randperm(n_texts, generator=generator).numpy()


def _mapped(path: Path, dtype: Any, n_blocks: int, block_size: int) -> torch.Tensor:
    # copy-on-write mapping: writable for torch.from_numpy, never written, so pages stay file-backed
    array = (
        np.memmap(path, dtype=dtype, mode="c", shape=(n_blocks, block_size))
        if n_blocks
        else np.zeros((0, block_size), dtype)
    )
    return torch.from_numpy(array)


def _load(folder: Path, stem: str) -> PackedBlocks | None:
    """The blocks written under `stem` by an earlier attempt, or None (none, or not finished)."""
    meta_path = folder / f"{stem}.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    n_blocks, block_size = int(meta["n_blocks"]), int(meta["block_size"])
    return PackedBlocks(
        input_ids=_mapped(folder / f"{stem}.ids", np.int32, n_blocks, block_size),
        special=_mapped(folder / f"{stem}.special", np.bool_, n_blocks, block_size),
        n_texts=int(meta["n_texts"]),
        corpus_tokens=int(meta["corpus_tokens"]),
        folder=folder,
    )


def pack_texts(
    tokenizer: Any,
    texts: Sequence[str],
    block_size: int,
    seed: int,
    key: str = "training.block_size",
    *,
    folder: str | Path | None = None,
    name: str = "blocks",
) -> PackedBlocks:
    """Tokenise `texts` (in `packing_order(len(texts), seed)`), concatenate, cut into `block_size` blocks, written to
    `folder/<name>.{ids,special,json}` (reused when that JSON exists: `name` must identify texts, block size and
    seed) or to a temporary folder when `folder` is None."""
    lm.check_tokenizable(tokenizer, texts, block_size)
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="fairforget-packed-"))
        temporary = True
    else:
        folder, temporary = Path(folder), False
        folder.mkdir(parents=True, exist_ok=True)
        if (done := _load(folder, name)) is not None:
            return done
    order = _packing_order(len(texts), seed)
    corpus_tokens = 0
    # per-process temporary names: several processes of one run (accelerate) may pack into the same folder
    tmp = {suffix: folder / f".{name}.{suffix}.{os.getpid()}.tmp" for suffix in ("ids", "special")}
    with open(tmp["ids"], "wb") as ids_file, open(tmp["special"], "wb") as special_file:
        for start in range(0, len(order), CHUNK_TEXTS):
            release_pages(texts)  # a shuffled chunk touches pages all over the mapped corpus files
            chunk = texts_at(texts, order[start : start + CHUNK_TEXTS])
            # no truncation, as group_texts; verbose=False silences "longer than the model's maximum" warnings
            encoded = tokenizer(chunk, return_special_tokens_mask=True, return_attention_mask=False, verbose=False)
            ids = np.fromiter((t for row in encoded["input_ids"] for t in row), dtype=np.int32)
            special = np.fromiter((bool(t) for row in encoded["special_tokens_mask"] for t in row), dtype=np.bool_)
            ids_file.write(ids.tobytes())
            special_file.write(special.tobytes())
            corpus_tokens += len(ids)
    n_blocks = corpus_tokens // block_size
    if n_blocks == 0:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
        raise ConfigError(
            f"config key '{key}': the {len(texts)} training texts hold {corpus_tokens} tokens, fewer than one block "
            f"of {block_size}; lower it or set training.packing: false"
        )
    for suffix, path in tmp.items():
        path.replace(folder / f"{name}.{suffix}")
    meta = {"n_blocks": n_blocks, "block_size": block_size, "n_texts": len(texts), "corpus_tokens": corpus_tokens}
    meta_tmp = folder / f".{name}.json.{os.getpid()}.tmp"
    meta_tmp.write_text(json.dumps(meta), encoding="utf-8")
    meta_tmp.replace(folder / f"{name}.json")  # last: marks the files complete
    blocks = _load(folder, name)
    assert blocks is not None
    if temporary:
        weakref.finalize(blocks, shutil.rmtree, folder, True)
    return blocks


class BlockExamples(LazyExamples):
    """`{"type": "block", "block": k}` for every block k (computed on demand: one dict per block would be
    hundreds of MB at paper scale)."""

    types = frozenset({BLOCK})

    def __init__(self, blocks: PackedBlocks) -> None:
        self.blocks = blocks

    def __len__(self) -> int:
        return self.blocks.n_blocks

    def examples_at(self, indices: np.ndarray) -> list[dict[str, Any]]:
        return [{"type": BLOCK, "block": k} for k in np.asarray(indices, dtype=np.int64).tolist()]

    def fingerprint(self) -> str:
        return digest("blocks", self.blocks.n_blocks, self.blocks.block_size)


def block_examples(blocks: PackedBlocks) -> BlockExamples:
    return BlockExamples(blocks)


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
