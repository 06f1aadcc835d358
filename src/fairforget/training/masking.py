"""Targeted MLM masking for toy pretraining: gendered words are masked more often than other tokens.

With BERT's uniform 15% masking a tiny masked LM sees the pronoun of a planted sentence as a prediction target
only about once in seven passes, and it does not learn the occupation -> pronoun association of the planted
corpus within the toy budget (docs/metrics.md, "Known limits of the toy study"). Masking chosen words with a
higher probability is an established pretraining choice: entity/phrase masking (Sun et al. 2019, ERNIE), span
masking (Joshi et al. 2020, SpanBERT) and PMI-masking (Levine et al. 2021) all select informative units more
often than uniformly random tokens. It also matches how the planted probe scores a masked LM: log p(pronoun |
context) with the pronoun masked (Kurita et al. 2019).

A token is *targeted* when it spells one whole word (no letters or digits touch it on either side) whose
lower-cased form is in the target word set (default: the gendered pronouns). A text holding a targeted word is,
with probability `gender_mask_probability`, masked on its targeted words only, *instead of* on uniformly drawn
15% of its tokens; every other text is masked as BERT does (`fairforget.training.lm.mask_tokens`). Measured on
the micro data: adding pronoun masking on top of the uniform masking does not help (with the pronoun always
masked *and* 15% of the other tokens, the tiny model was still at 50% after 1500 steps on planted text alone),
whereas masking the pronoun alone in half of the sentences let it learn the association within ~400 steps: the
uniformly masked template words dominate the loss and the model learns them first.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import torch

from fairforget.data.templates import PRONOUNS
from fairforget.errors import TrainingError
from fairforget.training.lm import (
    IGNORE_INDEX,
    MASK_REPLACE_FRACTION,
    RANDOM_OF_REST_FRACTION,
    encode,
    split_by_type,
)
from fairforget.training.plugins import TrainingContext

# Gendered pronouns: the planted corpus's pronoun slots (templates.PRONOUNS) and their other forms.
GENDERED_PRONOUNS: frozenset[str] = frozenset(
    {word for forms in PRONOUNS.values() for word in forms.values()} | {"hers", "himself", "herself"}
)


def target_positions(texts: Sequence[str], offsets: torch.Tensor, words: Collection[str]) -> torch.Tensor:
    """Bool [batch, tokens]: the token spells one whole word of `texts` whose lower-cased form is in `words`.

    `offsets` is `tokenize`'s character span per token ((0, 0) for special and padding tokens, never targeted).
    A word piece ("her" in "hers" -> her ##s) is not a whole word, so it is not targeted.
    """
    targets = {word.lower() for word in words}
    out = torch.zeros(offsets.shape[:2], dtype=torch.bool)
    for row, text in enumerate(texts):
        for column, (start, end) in enumerate(offsets[row].tolist()):
            if end <= start or text[start:end].lower() not in targets:
                continue
            before_ok = start == 0 or not text[start - 1].isalnum()
            after_ok = end == len(text) or not text[end].isalnum()
            out[row, column] = before_ok and after_ok
    return out


def targeted_mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    targeted: torch.Tensor,
    tokenizer: Any,
    generator: torch.Generator,
    mlm_probability: float = 0.15,
    target_probability: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking, except that a row holding a targeted word is, with `target_probability`, masked on its
    targeted words only (all of them) instead of on uniformly drawn tokens.

    Returns (corrupted ids, labels): labels hold the original id at selected positions and -100 elsewhere.
    A selected token becomes [MASK] with probability 0.8, a random token with 0.1 and stays with 0.1. The draws
    come from `generator` in `lm.mask_tokens`'s order, then one draw per row, so the result depends only on
    the generator state, and with `target_probability` 0 it equals `lm.mask_tokens`'s.
    """
    if tokenizer.mask_token_id is None:
        raise TrainingError("targeted MLM masking needs a tokenizer with a mask token")
    if not 0.0 < mlm_probability < 1.0:
        raise TrainingError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if not 0.0 <= target_probability <= 1.0:
        raise TrainingError(f"gender_mask_probability must be in [0, 1], got {target_probability}")
    ids = input_ids.cpu()
    maskable = maskable.cpu().bool()
    targeted = targeted.cpu().bool() & maskable
    shape = ids.shape
    uniform = (torch.rand(shape, generator=generator) < mlm_probability) & maskable
    replace_draw = torch.rand(shape, generator=generator)
    random_draw = torch.rand(shape, generator=generator)
    random_ids = torch.randint(len(tokenizer), shape, generator=generator, dtype=torch.long)
    targeted_row = (torch.rand(shape[:1], generator=generator) < target_probability) & targeted.any(dim=1)
    selected = torch.where(targeted_row[:, None], targeted, uniform)
    to_mask = (replace_draw < MASK_REPLACE_FRACTION) & selected
    to_random = (random_draw < RANDOM_OF_REST_FRACTION) & selected & ~to_mask
    corrupted = ids.clone()
    corrupted[to_mask] = int(tokenizer.mask_token_id)
    corrupted[to_random] = random_ids[to_random]
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE_INDEX))
    return corrupted, labels


def collate_targeted_mlm(
    examples: Sequence[dict[str, Any]],
    ctx: TrainingContext,
    generator: torch.Generator,
    target_probability: float,
    words: Collection[str] = GENDERED_PRONOUNS,
) -> dict[str, Any]:
    """Collate {"type": "text"} examples into a masked-LM batch with targeted masking of `words`."""
    if ctx.kind != "masked":
        raise TrainingError(f"targeted MLM masking applies to masked models only, got kind {ctx.kind!r}")
    rows = split_by_type(examples, ("text",), "targeted MLM collate")["text"]
    texts = [example["text"] for example in rows]
    encoded = encode(ctx, texts)  # from the pre-tokenised cache when pretraining filled one
    # only examples marked targetable (the planted corpus) are ever masked on their pronouns alone: general text
    # keeps uniform masking, so the base stays a general LM rather than learning "a masked token is a pronoun"
    eligible = torch.tensor([bool(example.get("targetable", True)) for example in rows], dtype=torch.bool)
    targeted = target_positions(texts, encoded["offsets"], words) & eligible[:, None]
    input_ids, labels = targeted_mask_tokens(
        encoded["input_ids"],
        ~encoded["special_tokens_mask"],
        targeted,
        ctx.tokenizer,
        generator,
        ctx.mlm_probability,
        target_probability,
    )
    return {
        "input_ids": input_ids.to(ctx.device),
        "attention_mask": encoded["attention_mask"].to(ctx.device),
        "labels": labels.to(ctx.device),
        "kind": ctx.kind,
    }
