"""Tokenisation for scoring and the containers that scoring returns.

A text's *text tokens* are the tokens the tokenizer produces for the text itself (special tokens such as
[CLS]/[SEP]/<s> excluded). Scoring results are indexed by the text-token index `k` (0-based), which is the
`token_index` used in trajectory item ids and score tables, identical for masked and causal models.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fairforget.errors import ModelError

KINDS = ("masked", "causal")


@dataclass(frozen=True)
class EncodedText:
    """Model input of one text: `input_ids` (with special tokens) and where the text tokens sit in it."""

    input_ids: np.ndarray  # int64, model input including special tokens
    text_positions: np.ndarray  # int64, index into input_ids of text token k

    @property
    def n_text_tokens(self) -> int:
        return int(self.text_positions.shape[0])

    @property
    def text_token_ids(self) -> np.ndarray:
        return self.input_ids[self.text_positions]


def encode_text(tokenizer: Any, kind: str, text: str, max_length: int) -> EncodedText:
    """Tokenise with the tokenizer's own special tokens, truncated to `max_length` model inputs.

    Causal models must see a BOS token first (the first text token is scored given BOS); one is prepended
    when the tokenizer does not add it itself (GPT-2 style).
    """
    return encode_texts(tokenizer, kind, [text], max_length)[0]


# Texts per tokenizer call: batching runs the fast tokenizer in Rust at once; chunks keep its transient
# per-text objects (tokens, offsets) bounded whatever the corpus size.
_ENCODE_CHUNK = 512


def encode_texts(tokenizer: Any, kind: str, texts: Sequence[str], max_length: int) -> list[EncodedText]:
    """`encode_text` of each text, tokenised `_ENCODE_CHUNK` texts per tokenizer call."""
    if kind not in KINDS:
        raise ModelError(f"model kind must be one of {KINDS}, got {kind!r}")
    out: list[Any] = []
    for start in range(0, len(texts), _ENCODE_CHUNK):
        enc = tokenizer(
            list(texts[start : start + _ENCODE_CHUNK]),
            add_special_tokens=True,
            truncation=True,
            max_length=max_length,
            return_special_tokens_mask=True,
        )
        out.extend(
            _encoded(tokenizer, kind, list(ids), list(special), max_length)
            for ids, special in zip(enc["input_ids"], enc["special_tokens_mask"])
        )
    return out


def _encoded(tokenizer: Any, kind: str, ids: list[int], special: list[int], max_length: int) -> EncodedText:
    if kind == "causal":
        bos = tokenizer.bos_token_id
        if bos is None:
            raise ModelError("causal scoring needs a tokenizer with a BOS token (bos_token_id is None)")
        if not ids or ids[0] != bos:
            ids = [bos] + ids[: max_length - 1]
            special = [1] + special[: max_length - 1]
    positions = np.array([i for i, flag in enumerate(special) if not flag], dtype=np.int64)
    return EncodedText(input_ids=np.array(ids, dtype=np.int64), text_positions=positions)


@dataclass
class TextScores:
    """Per-text arrays over the scored text tokens (all of them unless a subset was asked for)."""

    token_index: list[np.ndarray]  # int64 text-token indices k that were scored, ascending
    token_id: list[np.ndarray]  # int64 vocabulary id of each scored token
    logprob: list[np.ndarray]  # float64 log p(token | context), natural log
    correct: list[np.ndarray]  # bool, top-1 prediction (first argmax) equals the token

    def __len__(self) -> int:
        return len(self.logprob)

    def total_logprob(self) -> np.ndarray:
        """Sum of scored-token log-probabilities per text (PLL for masked models)."""
        return np.array([float(lp.sum()) for lp in self.logprob], dtype=np.float64)

    def n_tokens(self) -> np.ndarray:
        return np.array([lp.shape[0] for lp in self.logprob], dtype=np.int64)

    def select(self, positions: Sequence[np.ndarray]) -> TextScores:
        """Per text i, only the scored tokens at `positions[i]` (indices into text i's arrays)."""
        if len(positions) != len(self):
            raise ModelError(f"select: {len(positions)} position lists for {len(self)} texts")
        return TextScores(
            token_index=[a[p] for a, p in zip(self.token_index, positions)],
            token_id=[a[p] for a, p in zip(self.token_id, positions)],
            logprob=[a[p] for a, p in zip(self.logprob, positions)],
            correct=[a[p] for a, p in zip(self.correct, positions)],
        )

    def slice(self, start: int, stop: int) -> TextScores:
        """The scores of texts start..stop-1 (e.g. one half of a combined stereo + anti pass)."""
        return TextScores(
            token_index=self.token_index[start:stop],
            token_id=self.token_id[start:stop],
            logprob=self.logprob[start:stop],
            correct=self.correct[start:stop],
        )


@dataclass
class JointScores:
    """Base and tuned scores at the same positions plus KL(base || tuned) of the predictive distributions."""

    base: TextScores
    tuned: TextScores
    kl: list[np.ndarray]  # float64 per scored token, nats


def empty_scores(n_texts: int) -> TextScores:
    return TextScores(
        token_index=[np.zeros(0, np.int64) for _ in range(n_texts)],
        token_id=[np.zeros(0, np.int64) for _ in range(n_texts)],
        logprob=[np.zeros(0, np.float64) for _ in range(n_texts)],
        correct=[np.zeros(0, bool) for _ in range(n_texts)],
    )


def zero_scores(sizes: Sequence[int], n_models: int) -> tuple[list[TextScores], list[np.ndarray] | None]:
    """Per-model scores with zero (logprob, correct) arrays of `sizes[t]` entries per text and, for two models,
    zero KL arrays; token_index/token_id are left empty for the caller to fill."""
    out = [empty_scores(len(sizes)) for _ in range(n_models)]
    for scores in out:
        scores.logprob = [np.zeros(n, np.float64) for n in sizes]
        scores.correct = [np.zeros(n, bool) for n in sizes]
    kl = [np.zeros(n, np.float64) for n in sizes] if n_models == 2 else None
    return out, kl


def fill_tokens(out: Sequence[TextScores], encoded: Sequence[EncodedText], chosen: Sequence[np.ndarray]) -> None:
    """Set token_index/token_id of every model's scores to the chosen text tokens."""
    for scores in out:
        scores.token_index = [c.copy() for c in chosen]
        scores.token_id = [e.text_token_ids[c] for e, c in zip(encoded, chosen)]


def check_positions(positions: Sequence[Sequence[int] | None] | None, n_texts: int) -> None:
    if positions is not None and len(positions) != n_texts:
        raise ModelError(f"positions: got {len(positions)} entries for {n_texts} texts")


def chosen_tokens(encoded: Sequence[EncodedText], positions: Sequence[Sequence[int] | None] | None) -> list[np.ndarray]:
    """Text-token indices to score per text (see `selected_text_tokens`); `positions` is per text or None."""
    return [selected_text_tokens(e, None if positions is None else positions[i]) for i, e in enumerate(encoded)]


def selected_text_tokens(encoded: EncodedText, positions: Sequence[int] | None) -> np.ndarray:
    """Text-token indices to score: all, or the given subset (those cut off by truncation are dropped)."""
    if positions is None:
        return np.arange(encoded.n_text_tokens, dtype=np.int64)
    chosen = np.unique(np.asarray(positions, dtype=np.int64))
    if chosen.size and chosen.min() < 0:
        raise ModelError(f"token positions must be non-negative, got {chosen.min()}")
    return chosen[chosen < encoded.n_text_tokens]


def position_statistics(
    logits: Sequence[torch.Tensor], targets: torch.Tensor
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
    """From gathered logits [N, V] of one or two models: target log-probs, top-1 correctness, KL(first||second).

    Log-softmax is taken in float64 so that scores do not depend on how rows were batched beyond the
    model's own float32 arithmetic.
    """
    logprobs, corrects, log_dists = [], [], []
    for model_logits in logits:
        peak = model_logits.amax(dim=-1)
        target_logits = model_logits.gather(1, targets[:, None]).squeeze(1)
        corrects.append(_first_argmax_is_target(model_logits, peak, target_logits, targets))
        if len(logits) == 2:  # KL needs the whole distributions
            log_dist = torch.log_softmax(model_logits.double(), dim=-1)
            log_dists.append(log_dist)
            logprobs.append(log_dist.gather(1, targets[:, None]).squeeze(1).numpy())
        else:  # the target's log-probability alone: logit - logsumexp, in place, without a second [N, V] array
            shifted = model_logits.double().sub_(peak.double()[:, None]).exp_()
            log_norm = peak.double() + shifted.sum(dim=-1).log_()
            logprobs.append((target_logits.double() - log_norm).numpy())
    kl = None
    if len(log_dists) == 2:
        base, tuned = log_dists
        kl = (base.exp() * (base - tuned)).sum(dim=-1).clamp_min(0.0).numpy()
    return logprobs, corrects, kl


def _first_argmax_is_target(
    logits: torch.Tensor, peak: torch.Tensor, target_logits: torch.Tensor, targets: torch.Tensor
) -> np.ndarray:
    """`logits.argmax(-1) == targets` (first maximum), with argmax run only on rows whose target reaches the
    maximum: argmax is a slow unvectorised reduction on CPU and those rows are usually few."""
    candidates = torch.nonzero(target_logits == peak).squeeze(1)
    correct = torch.zeros(targets.shape[0], dtype=torch.bool)
    if candidates.numel():
        correct[candidates] = logits[candidates].argmax(dim=-1) == targets[candidates]
    return correct.numpy()


@contextmanager
def eval_mode(models: Sequence[torch.nn.Module]) -> Iterator[None]:
    """Dropout off and no gradients while scoring; restore each model's training flag afterwards."""
    flags = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        for m, flag in zip(models, flags):
            m.train(flag)


def model_device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def show_progress(progress: bool | None) -> bool:
    """Progress bars by default only on an interactive terminal."""
    return sys.stderr.isatty() if progress is None else progress


def pad_id_of(tokenizer: Any) -> int:
    # Padded positions are masked out of attention and never gathered, so any valid id works.
    return int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0


def pad_batch(rows: Sequence[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids [len(rows), longest] and the matching attention mask (1 on real tokens)."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    ids = np.full((len(rows), int(lengths.max())), pad_id, dtype=np.int64)
    for row, row_ids in enumerate(rows):  # numpy row copies: far cheaper than per-row torch indexing
        ids[row, : len(row_ids)] = row_ids
    attention = np.arange(ids.shape[1]) < lengths[:, None]
    return torch.from_numpy(ids), torch.from_numpy(attention.astype(np.int64))


# Scores texts with one model (or two: base, tuned): (models, tokenizer, texts, batch_size, max_length,
# positions, progress) -> (per-model scores, KL(first || second) per scored token for two models, else None)
ModelsScorer = Callable[
    [Sequence[torch.nn.Module], Any, Sequence[str], int, int, Sequence[Sequence[int] | None] | None, bool | None],
    tuple[list[TextScores], list[np.ndarray] | None],
]


def score_joint(
    scorer: ModelsScorer,
    base_model: torch.nn.Module,
    tuned_model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    positions: Sequence[Sequence[int] | None] | None,
    progress: bool | None,
) -> JointScores:
    """`scorer` run on base and tuned model together, with KL(base || tuned) at each scored token."""
    (base, tuned), kl = scorer([base_model, tuned_model], tokenizer, texts, batch_size, max_length, positions, progress)
    assert kl is not None
    return JointScores(base=base, tuned=tuned, kl=kl)
