"""`none`: continued LM training on the unaugmented debiasing texts (the control arm).

Any change it causes is what plain further training on this text does, against which the fairness
objectives are compared.
"""

from __future__ import annotations

from typing import ClassVar

from fairforget.training.objectives._text import TextObjective
from fairforget.training.plugins import OBJECTIVES, Param


@OBJECTIVES.register("none")
class ContinuedPretraining(TextObjective):
    """MLM (masked) or next-token (causal) loss on ctx.debias_texts, nothing else."""

    name = "none"
    param_spec: ClassVar[dict[str, Param] | None] = {}  # takes no parameters
