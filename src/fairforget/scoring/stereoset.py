"""StereoSet intrasentence candidate scores, computed as bias-bench (Meade et al. 2022) computes them.

- Masked LMs: the *template word* of a candidate is the word at the position of "BLANK" in the context
  (context and candidate split on spaces, punctuation stripped; StereoSet's own loader). Its tokens
  w_1..w_m (tokenised alone, no special tokens) are scored left to right: for token j the context's BLANK
  is replaced by decode(w_1..w_{j-1}) + [MASK] and the probability of w_j at the mask is read. The candidate's
  score is the mean of these m probabilities (probabilities, not log-probabilities, as in bias-bench).
- Causal LMs: the candidate sentence is scored given BOS; its score is the geometric mean token probability
  exp(mean token log-probability) (bias-bench's `_likelihood_score_generative`).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from fairforget.errors import DataError, ModelError
from fairforget.scoring.causal import score_causal
from fairforget.scoring.masked import score_masked_queries
from fairforget.scoring.scores import pad_id_of

CANDIDATES = ("stereotype", "anti_stereotype", "unrelated")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def template_word(context: str, sentence: str, where: str = "StereoSet record") -> str:
    """The word of `sentence` that fills the BLANK of `context` (StereoSet's loader rule)."""
    words = context.split(" ")
    blank = [i for i, word in enumerate(words) if "BLANK" in word]
    if not blank:
        raise DataError(f"{where}: context has no BLANK: {context!r}")
    candidate = sentence.split(" ")
    if blank[-1] >= len(candidate):
        raise DataError(f"{where}: sentence {sentence!r} is shorter than its context {context!r}")
    return candidate[blank[-1]].translate(_PUNCTUATION)


def _masked_scores(
    model: torch.nn.Module,
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    batch_size: int,
    max_length: int,
    progress: bool | None,
) -> dict[str, np.ndarray]:
    if tokenizer.mask_token_id is None:
        raise ModelError("StereoSet masked scoring needs a tokenizer with a mask token")
    mask_id = int(tokenizer.mask_token_id)
    queries: list[Any] = []
    sizes: list[int] = []
    for r_index, record in enumerate(records):
        for candidate in CANDIDATES:
            where = f"StereoSet record {record.get('id', r_index)} ({candidate})"
            word = template_word(record["context"], record[candidate], where)
            word_ids = tokenizer.encode(word, add_special_tokens=False)
            if not word_ids:
                raise DataError(f"{where}: template word {word!r} has no tokens")
            text_number = len(sizes)
            for j, target in enumerate(word_ids):
                prefix = tokenizer.decode(word_ids[:j])
                filled = record["context"].replace("BLANK", f"{prefix}{tokenizer.mask_token}")
                ids = np.array(tokenizer(filled, truncation=True, max_length=max_length)["input_ids"], np.int64)
                positions = np.flatnonzero(ids == mask_id)
                if len(positions) != 1:
                    raise DataError(
                        f"{where}: expected one mask in {filled!r} after truncation to {max_length} "
                        f"tokens, found {len(positions)}"
                    )
                queries.append((text_number, j, ids, int(positions[0]), int(target)))
            sizes.append(len(word_ids))
    (scores,), _ = score_masked_queries(
        [model], iter(queries), len(queries), sizes, batch_size, pad_id_of(tokenizer), progress
    )
    per_sentence = np.array([np.exp(lp).mean() for lp in scores.logprob], np.float64)
    table = per_sentence.reshape(len(records), len(CANDIDATES))
    return {candidate: table[:, c].copy() for c, candidate in enumerate(CANDIDATES)}


def _causal_scores(
    model: torch.nn.Module,
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    batch_size: int,
    max_length: int,
    progress: bool | None,
) -> dict[str, np.ndarray]:
    texts = [record[candidate] for record in records for candidate in CANDIDATES]
    scores = score_causal(model, tokenizer, texts, batch_size=batch_size, max_length=max_length, progress=progress)
    per_sentence = np.array([np.exp(lp.mean()) if len(lp) else np.nan for lp in scores.logprob], np.float64)
    table = per_sentence.reshape(len(records), len(CANDIDATES))
    return {candidate: table[:, c].copy() for c, candidate in enumerate(CANDIDATES)}


def stereoset_sentence_scores(
    model: torch.nn.Module,
    tokenizer: Any,
    kind: str,
    records: Sequence[dict[str, Any]],
    *,
    batch_size: int = 32,
    max_length: int = 64,
    progress: bool | None = None,
) -> dict[str, np.ndarray]:
    """{candidate: score per record} for candidates stereotype / anti_stereotype / unrelated."""
    if kind == "masked":
        return _masked_scores(model, tokenizer, records, batch_size, max_length, progress)
    if kind == "causal":
        return _causal_scores(model, tokenizer, records, batch_size, max_length, progress)
    raise ModelError(f"model kind must be 'masked' or 'causal', got {kind!r}")
