"""`cda`: counterfactual data augmentation (Zmigrod et al. 2019; Webster et al. 2020; bias-bench recipe).

The debiasing texts are gender-swapped with `fairforget.data.cda.augment` (whole-word, case-preserving swaps
over ctx.word_pairs). `sided: two` trains on each gendered original AND its swap; `sided: one` replaces each
gendered original by its swap. Texts with no gendered word stay as plain LM data in both variants. The loss is
the plain LM loss (MLM or next-token) on the resulting texts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fairforget.data.cda import augment
from fairforget.training.objectives._text import TextObjective
from fairforget.training.plugins import OBJECTIVES, Param, TrainingContext

SIDES = ("two", "one")


@OBJECTIVES.register("cda")
class CounterfactualAugmentation(TextObjective):
    name = "cda"
    param_spec: ClassVar[dict[str, Param] | None] = {"sided": Param("two", lambda v: v in SIDES, "'two' or 'one'")}

    def build_examples(self, ctx: TrainingContext) -> list[dict[str, Any]]:
        records = augment(list(ctx.debias_texts), ctx.word_pairs, sided=self.params["sided"])
        return [
            {"type": "text", "text": r["text"], "id": r["id"], "counterfactual": bool(r["counterfactual"])}
            for r in records
        ]
