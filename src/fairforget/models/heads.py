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


def head_logits_at(model: Any, input_ids: Any, attention_mask: Any, index: Any) -> Any | None:
    """The MLM logits at the positions `index` selects from the encoder's [batch, length] output (a boolean
    mask, or a (rows, positions) pair), with the head applied there only; None for an architecture whose head
    is not listed above (the caller then takes the model's full logits)."""
    head = mlm_head(model)
    if head is None:
        return None
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return head(hidden[index])
