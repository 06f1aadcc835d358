"""What the scoring conventions need beyond the shared scoring pass: truncation flags and extra-pass scores.

Run by `stage.score_model` after the shared pass. Truncation flags are computed for every pair set and StereoSet
scored (tokenizer only, no forward pass). The forward passes of extra-pass conventions
(`metrics.conventions.Convention.extra_pass`) run only when `evaluation.conventions` names them.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from fairforget.metrics.base import PAIR_SETS, STEREOSET, EvaluationData, EvaluationSettings, ModelScores
from fairforget.metrics.base import pair_requirement as pair_need
from fairforget.metrics.conventions import active_conventions
from fairforget.scoring.start_token import mean_logprob, truncated_texts, two_pass_logprobs
from fairforget.scoring.stereoset import CANDIDATES

log = logging.getLogger(__name__)


def _pair_texts(data: EvaluationData, pair_set: str) -> dict[str, list[str]]:
    records = data.pairs[pair_set]
    return {side: [str(r[side]) for r in records] for side in ("stereo", "anti")}


def _stereoset_texts(data: EvaluationData) -> dict[str, list[str]]:
    return {candidate: [str(r[candidate]) for r in data.stereoset] for candidate in CANDIDATES}


def _item_groups(data: EvaluationData, needs: set[str]) -> dict[str, dict[str, list[str]]]:
    """Per item group ("<pair set>", "stereoset"): the texts of each side, one per item."""
    groups = {pair_set: _pair_texts(data, pair_set) for pair_set in PAIR_SETS if pair_need(pair_set) in needs}
    if STEREOSET in needs:
        groups[STEREOSET] = _stereoset_texts(data)
    return groups


def score_conventions(
    model: Any, tokenizer: Any, kind: str, data: EvaluationData, needs: set[str], settings: EvaluationSettings
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(truncated flags per item group, extra-pass convention scores) for `ModelScores`."""
    groups = _item_groups(data, needs)
    truncated = {
        group: np.logical_or.reduce(
            [truncated_texts(tokenizer, kind, texts, settings.max_length) for texts in sides.values()]
        )
        for group, sides in groups.items()
    }
    extra: dict[str, np.ndarray] = {}
    for group, sides in groups.items():
        metric = "stereoset" if group == STEREOSET else group
        for name, convention in active_conventions(settings.conventions, metric, kind):
            if not convention.extra_pass or convention.start is None:
                continue
            log.info("scoring convention %s (extra pass, %d items)", name, len(next(iter(sides.values()))))
            for side, texts in sides.items():
                logprobs = two_pass_logprobs(
                    model, tokenizer, texts, convention.start, settings.batch_size, settings.max_length
                )
                extra[f"{name}.{side}"] = mean_logprob(logprobs)
    return truncated, extra


def attach_conventions(
    scores: ModelScores, model: Any, tokenizer: Any, data: EvaluationData, needs: set[str], settings: EvaluationSettings
) -> None:
    """Fill `scores.truncated` and `scores.convention_scores` for the model just scored."""
    scores.truncated, scores.convention_scores = score_conventions(model, tokenizer, scores.kind, data, needs, settings)
