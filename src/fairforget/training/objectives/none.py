"""`none`: continued LM training on the unaugmented debiasing texts (the control arm).

Any change it causes is what plain further training on this text does, against which the fairness
objectives are compared.
"""

from __future__ import annotations

from fairforget.training.objectives._text import TextObjective
from fairforget.training.plugins import OBJECTIVES


@OBJECTIVES.register("none")
class ContinuedPretraining(TextObjective):
    """MLM (masked) or next-token (causal) loss on ctx.debias_texts, nothing else."""

    name = "none"
    param_spec = {}  # takes no parameters
