"""Probe correctness during training: the rows of `R/training/RUN/trajectory.parquet` (see ARCHITECTURE.md).

- "general": one item per scored token of each held-out general probe text, `item_id = f"{example_id}:{k}"`
  (k = text-token index, special tokens excluded); correct = the top-1 prediction (first argmax of the PLL
  distribution for masked models, of the next-token distribution for causal ones) equals the token.
- "stereotype": one item per probe pair, `item_id = pair id`; correct = the model prefers the stereotypical
  sentence, exactly as the evaluation's pair preference decides it for the probe set (`fairforget.scoring.pairs`:
  the probe pairs differ only in the pronoun, so masked models are scored by the mean PLL of the pronoun,
  causal ones by mean token log-probability by default; ties are not a preference).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from fairforget.errors import DataError
from fairforget.scoring.dispatch import score_texts
from fairforget.scoring.pairs import PairScoring, pair_preferences, pair_scoring


def _texts_with_ids(general_texts: Sequence[str | Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for index, item in enumerate(general_texts):
        if isinstance(item, str):
            ids.append(str(index))
            texts.append(item)
        else:
            if "text" not in item:
                raise DataError(f"general probe text {index}: record has no 'text' field")
            ids.append(str(item.get("id", index)))
            texts.append(str(item["text"]))
    return ids, texts


def _pairs_with_ids(
    stereo_pairs: Sequence[tuple[str, str] | Mapping[str, Any]],
) -> tuple[list[str], list[str], list[str]]:
    ids, stereo, anti = [], [], []
    for index, item in enumerate(stereo_pairs):
        if isinstance(item, Mapping):
            if "stereo" not in item or "anti" not in item:
                raise DataError(f"stereotype probe pair {index}: record needs 'stereo' and 'anti' fields")
            ids.append(str(item.get("id", index)))
            stereo.append(str(item["stereo"]))
            anti.append(str(item["anti"]))
        else:
            first, second = item
            ids.append(str(index))
            stereo.append(str(first))
            anti.append(str(second))
    return ids, stereo, anti


def record_probe_correctness(
    model: torch.nn.Module,
    tokenizer: Any,
    kind: str,
    general_texts: Sequence[str | Mapping[str, Any]],
    stereo_pairs: Sequence[tuple[str, str] | Mapping[str, Any]],
    batch_size: int,
    max_length: int,
    step: int | None = None,
    scoring: PairScoring | None = None,
) -> list[dict[str, Any]]:
    """Correctness of every probe item; rows `{"probe_set", "item_id", "correct"}` (+ `"step"` if given).

    `general_texts`: strings (ids are their positions) or `{"id", "text"}` records.
    `stereo_pairs`: `(stereotypical, anti)` tuples (ids are positions) or `{"id", "stereo", "anti"}` records.
    `scoring`: how a pair is scored (default: the evaluation's scoring of pronoun-swap pairs for `kind`).
    The model is put in eval mode for scoring and its training flag restored afterwards.
    """
    rows: list[dict[str, Any]] = []
    general_ids, texts = _texts_with_ids(general_texts)
    if texts:
        scores = score_texts(
            model, tokenizer, kind, texts, batch_size=batch_size, max_length=max_length, progress=False
        )
        for example_id, token_index, correct in zip(general_ids, scores.token_index, scores.correct):
            rows.extend(
                {"probe_set": "general", "item_id": f"{example_id}:{int(k)}", "correct": bool(ok)}
                for k, ok in zip(token_index, correct)
            )
    pair_ids, stereo, anti = _pairs_with_ids(stereo_pairs)
    if pair_ids:
        both = score_texts(
            model, tokenizer, kind, stereo + anti, batch_size=batch_size, max_length=max_length, progress=False
        )
        n = len(pair_ids)
        stereo_scores = both.slice(0, n)
        anti_scores = both.slice(n, 2 * n)
        _, _, preferred = pair_preferences(stereo_scores, anti_scores, scoring or pair_scoring(kind, "planted"))
        rows.extend(
            {"probe_set": "stereotype", "item_id": pair_id, "correct": bool(ok)}
            for pair_id, ok in zip(pair_ids, preferred)
        )
    if step is not None:
        for row in rows:
            row["step"] = int(step)
    return rows
