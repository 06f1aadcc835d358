"""One entry point for scoring texts with either model kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fairforget.errors import ModelError
from fairforget.scoring.causal import score_causal, score_causal_joint
from fairforget.scoring.masked import score_masked, score_masked_joint
from fairforget.scoring.scores import KINDS, JointScores, TextScores


def score_texts(
    model: torch.nn.Module,
    tokenizer: Any,
    kind: str,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 64,
    positions: Sequence[Sequence[int] | None] | None = None,
    progress: bool | None = None,
) -> TextScores:
    """PLL scores (kind "masked") or next-token log-probabilities (kind "causal") of every text token."""
    if kind == "masked":
        return score_masked(model, tokenizer, texts, batch_size=batch_size, max_length=max_length,
                            positions=positions, progress=progress)
    if kind == "causal":
        return score_causal(model, tokenizer, texts, batch_size=batch_size, max_length=max_length,
                            positions=positions, progress=progress)
    raise ModelError(f"model kind must be one of {KINDS}, got {kind!r}")


def score_texts_joint(
    base_model: torch.nn.Module,
    tuned_model: torch.nn.Module,
    tokenizer: Any,
    kind: str,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 64,
    positions: Sequence[Sequence[int] | None] | None = None,
    progress: bool | None = None,
) -> JointScores:
    """Base and tuned scores at the same positions plus KL(base || tuned); both models share `tokenizer`."""
    if kind == "masked":
        return score_masked_joint(base_model, tuned_model, tokenizer, texts, batch_size=batch_size,
                                  max_length=max_length, positions=positions, progress=progress)
    if kind == "causal":
        return score_causal_joint(base_model, tuned_model, tokenizer, texts, batch_size=batch_size,
                                  max_length=max_length, positions=positions, progress=progress)
    raise ModelError(f"model kind must be one of {KINDS}, got {kind!r}")
