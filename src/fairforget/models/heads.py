"""Where a masked LM's output head sits, for the callers that apply it to some positions only.

For these architectures the MLM head is position-wise and applied right after the encoder
(`model.base_model(...).last_hidden_state`), so applying it to the masked positions alone gives the same logits
there. The head's matmul over the vocabulary dominates a small encoder's cost (the toy bert: 64 x 2000 against
about 72k multiply-adds per token in its two layers), and both scoring and MLM training need only a few positions.
"""

from __future__ import annotations

from typing import Any

MLM_HEAD_ATTRIBUTE = {
    "BertForMaskedLM": "cls",
    "RobertaForMaskedLM": "lm_head",
    "XLMRobertaForMaskedLM": "lm_head",
    "CamembertForMaskedLM": "lm_head",
    "AlbertForMaskedLM": "predictions",
}


def mlm_head(model: Any) -> Any | None:
    """The model's position-wise MLM head module, or None for an architecture not listed above."""
    name = MLM_HEAD_ATTRIBUTE.get(type(model).__name__)
    return None if name is None else getattr(model, name)
