"""`counterfactual_consistency`: LM loss on the text + weight x symmetric KL between the model's predictions on
a sentence and on its gender-swapped twin.

Examples: every debiasing text that contains a gendered word becomes {"type": "counterfactual", "text",
"swapped"} (swap: `fairforget.data.cda.swap_gender` over ctx.word_pairs); the others stay plain text. Replayed
general text is plain text too.

Alignment. Both sentences are tokenized and their tokens paired with `alignment.counterfactual_alignment` (difflib
matching blocks over token ids, minus any token overlapping a word that differs between the texts), so every
token outside the swapped words has a counterpart even when a swapped word has a different number of pieces,
and no piece of a swapped word is paired with a piece of its counterpart.
- masked: MLM masking selects only aligned (non-swapped, non-special) tokens of the original; the twin gets the
  identical corruption at the counterpart positions, so both inputs differ only in the swapped words. The
  consistency term compares the two predictive distributions at the selected positions. (So gendered words of
  a counterfactual example are never MLM targets here; CDA covers that.)
- causal: the distribution at position t predicts token t+1; we compare (i-1, j-1) for aligned targets (i, j)
  whose prefixes differ (i.e. a swapped word occurred before), as positions with identical prefixes have
  identical predictions by construction.

Divergence: symmetric KL, KL(p||q) + KL(q||p), per compared position, averaged over all compared positions of
the batch; gradients flow through both sides. Loss = token-mean LM loss over all texts of the batch (originals
and plain text; twins carry no LM loss) + weight * mean symmetric KL (0 when no position is compared).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from fairforget.data.cda import contains_gendered_word, swap_gender
from fairforget.training import alignment, lm
from fairforget.training.examples import LazyExamples, digest, fingerprint_of, texts_at
from fairforget.training.plugins import OBJECTIVES, Objective, Param, TrainingContext


def _non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) >= 0.0


def symmetric_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p||q) + KL(q||p) for each row of two [n, vocab] logit matrices."""
    log_p = torch.log_softmax(logits_p.float(), dim=-1)
    log_q = torch.log_softmax(logits_q.float(), dim=-1)
    return ((log_p.exp() - log_q.exp()) * (log_p - log_q)).sum(dim=-1)


def causal_compared_positions(
    original: list[int], twin: list[int], pairs: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Logit positions (in original, in twin) predicting aligned tokens after differing prefixes; `pairs` is
    the token alignment of the two sequences."""
    return [(i - 1, j - 1) for i, j in pairs if i >= 1 and j >= 1 and original[:i] != twin[:j]]


def _masked_views(
    texts: list[str],
    encoded: dict[str, torch.Tensor],
    twin: dict[str, torch.Tensor],
    alignments: list[list[tuple[int, int]]],
    ctx: TrainingContext,
    generator: torch.Generator,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, list[tuple[int, int, int]]]:
    """MLM batch of the texts (counterfactual rows maskable only at aligned tokens), the twin ids with the
    identical corruption, and the compared (row, position in original, position in twin) triples."""
    maskable = torch.ones_like(encoded["input_ids"], dtype=torch.bool)
    for r, pairs in enumerate(alignments):
        maskable[r] = False
        for i, _ in pairs:
            maskable[r, i] = True
    language = lm.text_batch(texts, ctx, generator, maskable=maskable, encoded=encoded)
    corrupted = language["input_ids"].cpu()
    selected = language["labels"].cpu() != lm.IGNORE_INDEX
    twin_input = twin["input_ids"].clone()
    compared: list[tuple[int, int, int]] = []
    for r, pairs in enumerate(alignments):
        for i, j in pairs:
            twin_input[r, j] = corrupted[r, i]  # identical corruption on both sides
        chosen = set(torch.nonzero(selected[r]).flatten().tolist())
        compared.extend((r, i, j) for i, j in pairs if i in chosen)
    return language, twin_input, compared


class ConsistencyExamples(LazyExamples):
    """Per debiasing text, `{"type": "counterfactual", "text", "swapped"}` when it names a gendered word, else
    `{"type": "text", "text"}`; item i computed when read, so a corpus of any size costs no memory per text."""

    types = frozenset({"counterfactual", "text"})

    def __init__(self, texts: Sequence[str], pairs: tuple[tuple[str, str], ...]) -> None:
        self.texts, self.pairs = texts, pairs

    def __len__(self) -> int:
        return len(self.texts)

    def examples_at(self, indices: np.ndarray) -> list[dict[str, Any]]:
        return [
            {"type": "counterfactual", "text": text, "swapped": swap_gender(text, self.pairs)}
            if contains_gendered_word(text, self.pairs)
            else {"type": "text", "text": text}
            for text in texts_at(self.texts, indices)
        ]

    def inputs(self) -> tuple[Any, ...]:
        return (self.texts,)

    def fingerprint(self) -> str:
        return digest("counterfactual_consistency", self.pairs, fingerprint_of(self.texts))


@OBJECTIVES.register("counterfactual_consistency")
class CounterfactualConsistency(Objective):
    name = "counterfactual_consistency"
    param_spec: ClassVar[dict[str, Param] | None] = {"weight": Param(1.0, _non_negative, "a number >= 0")}

    def build_examples(self, ctx: TrainingContext) -> ConsistencyExamples:
        return ConsistencyExamples(ctx.debias_texts, tuple(ctx.word_pairs))

    def collate(
        self, examples: list[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
    ) -> dict[str, Any]:
        groups = lm.split_by_type(examples, ("counterfactual", "text"), f"objective {self.config_key}")
        counterfactuals = groups["counterfactual"]
        # counterfactual originals first, so row r < len(counterfactuals) is the r-th pair
        texts = [e["text"] for e in counterfactuals] + [e["text"] for e in groups["text"]]
        encoded = lm.encode(ctx, texts)
        if not counterfactuals:
            return {"kind": ctx.kind, "lm": lm.text_batch(texts, ctx, generator, encoded=encoded), "twin": None}
        swapped = [e["swapped"] for e in counterfactuals]
        twin = lm.encode(ctx, swapped)
        alignments = alignment.batch_alignments(texts, encoded, swapped, twin)
        if ctx.kind == "masked":
            language, twin_input, compared = _masked_views(texts, encoded, twin, alignments, ctx, generator)
        else:
            language = lm.text_batch(texts, ctx, generator, encoded=encoded)
            twin_input = twin["input_ids"]
            compared = [
                (r, i, j)
                for r, pairs in enumerate(alignments)
                for i, j in causal_compared_positions(
                    alignment.unpadded(encoded["input_ids"][r], encoded["attention_mask"][r]),
                    alignment.unpadded(twin["input_ids"][r], twin["attention_mask"][r]),
                    pairs,
                )
            ]
        rows, positions_original, positions_twin = ([c[k] for c in compared] for k in range(3))
        return {
            "kind": ctx.kind,
            "lm": language,
            "twin": {
                "input_ids": twin_input.to(ctx.device),
                "attention_mask": twin["attention_mask"].to(ctx.device),
            },
            "rows": torch.tensor(rows, dtype=torch.long, device=ctx.device),
            "positions_original": torch.tensor(positions_original, dtype=torch.long, device=ctx.device),
            "positions_twin": torch.tensor(positions_twin, dtype=torch.long, device=ctx.device),
        }

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        logits = lm.model_logits(model, batch["lm"])
        language_loss = lm.lm_loss_from_logits(logits, batch["lm"]["labels"], batch["kind"])
        if batch["twin"] is None or batch["rows"].numel() == 0:
            return language_loss
        twin_logits = lm.model_logits(model, batch["twin"])
        divergence = symmetric_kl(
            logits[batch["rows"], batch["positions_original"]],
            twin_logits[batch["rows"], batch["positions_twin"]],
        ).mean()
        return language_loss + float(self.params["weight"]) * divergence
