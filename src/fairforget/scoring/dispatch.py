"""One entry point for scoring texts with either model kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fairforget.errors import ModelError
from fairforget.scoring.causal import score_causal_models
from fairforget.scoring.masked import score_masked_models
from fairforget.scoring.scores import (
    KINDS,
    JointScores,
    ModelsScorer,
    TextScores,
    score_joint,
)

_SCORERS: dict[str, ModelsScorer] = {"masked": score_masked_models, "causal": score_causal_models}


def _scorer(kind: str) -> ModelsScorer:
    if kind not in _SCORERS:
        raise ModelError(f"model kind must be one of {KINDS}, got {kind!r}")
    return _SCORERS[kind]


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
    (scores,), _ = _scorer(kind)([model], tokenizer, texts, batch_size, max_length, positions, progress)
    return scores


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
    return score_joint(
        _scorer(kind), base_model, tuned_model, tokenizer, texts, batch_size, max_length, positions, progress
    )
