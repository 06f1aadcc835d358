"""`dropout`: continued pretraining with raised dropout (Webster et al. 2020, "Measuring and reducing gendered
correlations in pre-trained models").

BERT: hidden dropout (embeddings, attention output, feed-forward output) -> `hidden` (default 0.20) and
attention-probability dropout -> `attention` (default 0.15), Webster et al.'s values.
Llama: only `attention_dropout` (on attention probabilities) exists; Llama has no dropout on embeddings or
residual branches, so `hidden` has no equivalent there and is ignored (logged).
The data and loss are those of `none`. `finalize_model` restores the original rates in the config and the
modules, so the saved checkpoint evaluates and fine-tunes with its standard dropout settings.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch

from fairforget.errors import ModelError
from fairforget.training.objectives._text import TextObjective
from fairforget.training.plugins import OBJECTIVES, Param, TrainingContext

logger = logging.getLogger(__name__)


def _rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= float(value) < 1.0


def _bert_like(config: Any) -> bool:
    return hasattr(config, "hidden_dropout_prob") and hasattr(config, "attention_probs_dropout_prob")


def _llama_like(config: Any) -> bool:
    return hasattr(config, "attention_dropout")


def set_dropout(model: torch.nn.Module, hidden: float | None, attention: float) -> None:
    """Set the dropout rates in config and in every module (modules read their rate at construction time)."""
    config: Any = model.config
    if _bert_like(config):
        config.hidden_dropout_prob = hidden
        config.attention_probs_dropout_prob = attention
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Dropout):
                # BertSelfAttention/BertCrossAttention keep the attention-probability dropout as `.dropout`
                is_attention = name.endswith(("attention.self.dropout", "crossattention.self.dropout"))
                module.p = attention if is_attention else hidden  # type: ignore[assignment]
    elif _llama_like(config):
        config.attention_dropout = attention
        for module in model.modules():
            if hasattr(module, "attention_dropout") and isinstance(module.attention_dropout, float):
                module.attention_dropout = attention  # type: ignore[assignment]  # a plain float attribute
    else:
        raise ModelError(f"dropout objective: unsupported architecture {type(model).__name__}")


def current_rates(model: torch.nn.Module) -> tuple[float | None, float]:
    config: Any = model.config
    if _bert_like(config):
        return config.hidden_dropout_prob, config.attention_probs_dropout_prob
    if _llama_like(config):
        return None, config.attention_dropout
    raise ModelError(f"dropout objective: unsupported architecture {type(model).__name__}")


@OBJECTIVES.register("dropout")
class RaisedDropout(TextObjective):
    name = "dropout"
    param_spec: ClassVar[dict[str, Param] | None] = {
        "hidden": Param(0.20, _rate, "a number in [0, 1)"),
        "attention": Param(0.15, _rate, "a number in [0, 1)"),
    }

    def __init__(self, config_key: str | None = None, **params: Any) -> None:
        super().__init__(config_key, **params)
        self.original: tuple[float | None, float] | None = None

    def prepare_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        self.original = current_rates(model)
        hidden = float(self.params["hidden"]) if self.original[0] is not None else None
        if hidden is None:
            logger.info("dropout: %s has no hidden dropout; only attention dropout is raised", type(model).__name__)
        set_dropout(model, hidden, float(self.params["attention"]))
        return model

    def finalize_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        if self.original is None:
            raise ModelError("dropout objective: finalize_model called before prepare_model")
        set_dropout(model, self.original[0], self.original[1])
        return model
