"""`unlikelihood`: prefer the anti-stereotypical member of each training pair over the stereotypical one, with
a DPO loss (Rafailov et al. 2023) against the frozen base model as reference, plus an LM term.

Per pair (stereo s, anti a), with policy pi and reference pi_ref (the model as it was before training):
    dpo = -log sigmoid(beta * [(log pi(a) - log pi_ref(a)) - (log pi(s) - log pi_ref(s))])
Loss of a batch = mean dpo over its pairs + lm_weight * token-mean LM loss over its text examples (the
unaugmented debiasing texts, plus any replayed general text), so general ability is not dropped entirely.

log pi(x):
- causal: sum over the tokens of x of log p(token | prefix) (the first token is scored when the tokenizer adds
  BOS).
- masked: an approximation of the pseudo-log-likelihood restricted to the tokens where s and a differ
  (`alignment.counterfactual_alignment`: all tokens of the words that differ, and any other unmatched token): all
  differing tokens of x are replaced by [MASK] at once and
  log p(original token) summed over them in ONE forward pass. Unlike the full PLL (one pass per token) it
  ignores the shared context tokens' likelihoods and the dependence among several differing tokens; for the
  usual one-word swap it equals the PLL of the differing word given the shared context.

Reference log-probs are computed once, in `prepare_model`, from the model as passed in (eval mode, no
gradients) and cached per pair; this equals scoring with a frozen copy of the base model at every step, since
the reference is deterministic, but needs no second model in memory. Pairs come from ctx.stereo_pairs
(training templates + WinoBias dev; never the CrowS-Pairs/StereoSet probes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from fairforget.errors import TrainingError
from fairforget.hashing import canonical_json_hash
from fairforget.training import alignment, lm
from fairforget.training.examples import LazyExamples, digest, fingerprint_of, texts_at
from fairforget.training.plugins import OBJECTIVES, Objective, Param, TrainingContext

REFERENCE_BATCH_SIZE = 32


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) > 0.0


def _non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) >= 0.0


def differing_positions(
    pairs: list[tuple[int, int]], length_a: int, length_b: int, special_a: list[bool], special_b: list[bool]
) -> tuple[list[int], list[int]]:
    """Non-special positions of a and of b outside their aligned (shared) tokens."""
    shared_a = {i for i, _ in pairs}
    shared_b = {j for _, j in pairs}
    return (
        [i for i in range(length_a) if i not in shared_a and not special_a[i]],
        [j for j in range(length_b) if j not in shared_b and not special_b[j]],
    )


def pair_sides(
    pairs: list[tuple[str, str]], ctx: TrainingContext
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Scoring batches (input_ids, attention_mask, labels) for the stereo and the anti sentences."""
    stereo_texts, anti_texts = [s for s, _ in pairs], [a for _, a in pairs]
    stereo = lm.encode(ctx, stereo_texts)
    anti = lm.encode(ctx, anti_texts)
    if ctx.kind == "causal":
        sides = []
        for encoded in (stereo, anti):
            labels = lm.causal_labels(encoded["input_ids"], encoded["attention_mask"])
            sides.append(
                {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "labels": labels}
            )
        return sides[0], sides[1]
    mask_id = int(ctx.tokenizer.mask_token_id)
    stereo_input, anti_input = stereo["input_ids"].clone(), anti["input_ids"].clone()
    stereo_labels = torch.full_like(stereo_input, lm.IGNORE_INDEX)
    anti_labels = torch.full_like(anti_input, lm.IGNORE_INDEX)
    alignments = alignment.batch_alignments(stereo_texts, stereo, anti_texts, anti)
    for r, aligned in enumerate(alignments):
        diff_s, diff_a = differing_positions(
            aligned,
            int(stereo["attention_mask"][r].sum()),
            int(anti["attention_mask"][r].sum()),
            stereo["special_tokens_mask"][r].tolist(),
            anti["special_tokens_mask"][r].tolist(),
        )
        for i in diff_s:
            stereo_labels[r, i] = stereo_input[r, i]
            stereo_input[r, i] = mask_id
        for j in diff_a:
            anti_labels[r, j] = anti_input[r, j]
            anti_input[r, j] = mask_id
    return (
        {"input_ids": stereo_input, "attention_mask": stereo["attention_mask"], "labels": stereo_labels},
        {"input_ids": anti_input, "attention_mask": anti["attention_mask"], "labels": anti_labels},
    )


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def dpo_loss(
    policy_stereo: torch.Tensor,
    policy_anti: torch.Tensor,
    ref_stereo: torch.Tensor,
    ref_anti: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Mean over pairs of -log sigmoid(beta * [(pi(a) - ref(a)) - (pi(s) - ref(s))])."""
    margin = (policy_anti - ref_anti) - (policy_stereo - ref_stereo)
    return -F.logsigmoid(beta * margin).mean()


class PairsThenTexts(LazyExamples):
    """`{"type": "pair", "stereo", "anti"}` for every training pair, then `{"type": "text", "text"}` for every
    debiasing text; the texts' items computed when read, so a corpus of any size costs no memory per text."""

    types = frozenset({"pair", "text"})

    def __init__(self, pairs: list[tuple[str, str]], texts: Sequence[str]) -> None:
        self.pairs, self.texts = pairs, texts

    def __len__(self) -> int:
        return len(self.pairs) + len(self.texts)

    def examples_at(self, indices: np.ndarray) -> list[dict[str, Any]]:
        indices = np.asarray(indices, dtype=np.int64)
        n_pairs = len(self.pairs)
        texts = iter(texts_at(self.texts, indices[indices >= n_pairs] - n_pairs))
        return [
            {"type": "pair", "stereo": self.pairs[i][0], "anti": self.pairs[i][1]}
            if i < n_pairs
            else {"type": "text", "text": next(texts)}
            for i in indices.tolist()
        ]

    def inputs(self) -> tuple[Any, ...]:
        return (self.texts,)

    def fingerprint(self) -> str:
        return digest("unlikelihood", canonical_json_hash(self.pairs), fingerprint_of(self.texts))


@OBJECTIVES.register("unlikelihood")
class StereotypeUnlikelihood(Objective):
    name = "unlikelihood"
    param_spec: ClassVar[dict[str, Param] | None] = {
        "beta": Param(0.1, _positive, "a number > 0"),
        "lm_weight": Param(1.0, _non_negative, "a number >= 0"),
    }

    def __init__(self, config_key: str | None = None, **params: Any) -> None:
        super().__init__(config_key, **params)
        self.reference: dict[tuple[str, str], tuple[float, float]] | None = None

    def prepare_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        if not ctx.stereo_pairs:
            raise TrainingError(f"objective {self.config_key}: no stereotype training pairs (ctx.stereo_pairs)")
        pairs = sorted({(s, a) for s, a in ctx.stereo_pairs})
        self.reference = {}
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for start in tqdm(range(0, len(pairs), REFERENCE_BATCH_SIZE), desc="reference log-probs", disable=None):
                chunk = pairs[start : start + REFERENCE_BATCH_SIZE]
                stereo, anti = pair_sides(chunk, ctx)
                ref_s = lm.sequence_log_probs(model, _to(stereo, ctx.device), ctx.kind).tolist()
                ref_a = lm.sequence_log_probs(model, _to(anti, ctx.device), ctx.kind).tolist()
                for pair, s, a in zip(chunk, ref_s, ref_a, strict=True):
                    self.reference[pair] = (s, a)
        model.train(was_training)
        return model

    def build_examples(self, ctx: TrainingContext) -> PairsThenTexts:
        return PairsThenTexts(list(ctx.stereo_pairs), ctx.debias_texts)

    def collate(
        self, examples: list[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
    ) -> dict[str, Any]:
        groups = lm.split_by_type(examples, ("pair", "text"), f"objective {self.config_key}")
        batch: dict[str, Any] = {"kind": ctx.kind, "stereo": None, "anti": None, "lm": None}
        if groups["pair"]:
            if self.reference is None:
                raise TrainingError(f"objective {self.config_key}: collate called before prepare_model")
            pairs = [(e["stereo"], e["anti"]) for e in groups["pair"]]
            missing = [p for p in pairs if p not in self.reference]
            if missing:
                raise TrainingError(
                    f"objective {self.config_key}: pair {missing[0]!r} has no reference score "
                    "(only ctx.stereo_pairs are scored in prepare_model)"
                )
            stereo, anti = pair_sides(pairs, ctx)
            batch["stereo"], batch["anti"] = _to(stereo, ctx.device), _to(anti, ctx.device)
            batch["ref_stereo"] = torch.tensor([self.reference[p][0] for p in pairs], device=ctx.device)
            batch["ref_anti"] = torch.tensor([self.reference[p][1] for p in pairs], device=ctx.device)
        if groups["text"]:
            batch["lm"] = lm.text_batch([e["text"] for e in groups["text"]], ctx, generator)
        return batch

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        terms: list[torch.Tensor] = []
        if batch["stereo"] is not None:
            policy_stereo = lm.sequence_log_probs(model, batch["stereo"], batch["kind"])
            policy_anti = lm.sequence_log_probs(model, batch["anti"], batch["kind"])
            terms.append(
                dpo_loss(policy_stereo, policy_anti, batch["ref_stereo"], batch["ref_anti"], float(self.params["beta"]))
            )
        if batch["lm"] is not None:
            language_loss = lm.text_lm_loss(model, batch["lm"], batch["kind"])
            terms.append(float(self.params["lm_weight"]) * language_loss)
        if not terms:
            raise TrainingError(f"objective {self.config_key}: empty batch")
        return torch.stack(terms).sum()
