"""The plug-in interface of the training engine: fairness objectives and anti-forgetting remedies.

An objective or remedy is one module in `fairforget.training.objectives` / `fairforget.training.remedies`
(or a plugin module named in the config's `plugins:`) that registers a subclass by name:

    @OBJECTIVES.register("cda")
    class CounterfactualAugmentation(Objective): ...

The engine calls, in order:
    objective = OBJECTIVES.get(type)(**params); remedy = REMEDIES.get(type)(**params)
    model = objective.prepare_model(model, ctx)          # e.g. raise dropout
    examples = objective.build_examples(ctx)               # deterministic given ctx.seed
    examples = remedy.transform_examples(examples, ctx)    # e.g. replay mixes in general text
    model = remedy.prepare_model(model, ctx)               # e.g. wrap with LoRA, snapshot weights, Fisher
    for each batch (examples shuffled with a generator seeded by ctx.seed):
        batch = objective.collate(batch_examples, ctx, generator)
        loss = objective.loss(model, batch, ctx) + remedy.penalty(model, ctx)
    (training.packing and objective.packable: the examples' texts are packed into token blocks instead, and
     `training.packing.collate_blocks` replaces objective.collate)
    model = remedy.finalize_model(model, ctx)              # e.g. merge LoRA weights before saving
    model = objective.finalize_model(model, ctx)           # e.g. restore dropout config

`build_examples` and `transform_examples` return a Sequence of examples: a list, or for corpora too large for
memory a `fairforget.training.examples.LazyExamples` that computes item i when read (as `cda` and `replay` do).
Examples are JSON-able dicts with a "type": "text" ({"type": "text", "text": str}) or
"pair" ({"type": "pair", "stereo": str, "anti": str}) or "counterfactual" ({"type": "counterfactual",
"text": str, "swapped": str}). Every objective must accept "text" examples (plain LM loss), because
remedies such as replay mix general text into any objective's data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from fairforget.errors import ConfigError
from fairforget.registry import Registry


@dataclass(frozen=True)
class Param:
    """One declared parameter of an objective or remedy: its default, a validity check, and the allowed values
    in words (for the error message)."""

    default: Any
    check: Callable[[Any], bool]
    allowed: str


def resolve_params(params: Mapping[str, Any], spec: Mapping[str, Param], config_key: str) -> dict[str, Any]:
    """Defaults filled in and every value checked; errors name `<config_key>.params.<param>`."""
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise ConfigError(
            f"config key '{config_key}.params.{unknown[0]}': unknown parameter; "
            f"allowed: {', '.join(sorted(spec)) or '(none)'}"
        )
    resolved: dict[str, Any] = {}
    for name, param in spec.items():
        value = params.get(name, param.default)
        ok = False
        try:
            ok = bool(param.check(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"config key '{config_key}.params.{name}': got {value!r}; allowed: {param.allowed}")
        resolved[name] = value
    return resolved


@dataclass
class TrainingContext:
    """Everything an objective or remedy may need; built once per run by the engine."""

    kind: str  # "masked" or "causal"
    tokenizer: Any  # a transformers PreTrainedTokenizerFast
    seed: int
    max_length: int
    # unaugmented debiasing corpus, already cut to the run's data size: a list, or in a run a
    # `fairforget.training.examples.TextColumn` (memory-mapped; read many texts at once with `examples.texts_at`)
    debias_texts: Sequence[str]
    stereo_pairs: list[tuple[str, str]]  # (stereotypical, anti-stereotypical) training pairs
    word_pairs: list[tuple[str, str]]  # (male word, female word) pairs for counterfactual swaps
    general_texts: Sequence[str]  # general text (replay, EWC Fisher estimate); a TextColumn in a run
    mlm_probability: float = 0.15
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    extra: dict[str, Any] = field(default_factory=dict)


class Objective(ABC):
    """A fairness objective: what data the model sees and what loss it minimises.

    Subclasses declare `name` (their registered name) and `param_spec`; the constructor validates params
    against it (a subclass that leaves `param_spec` None takes any params unchecked), so building an objective
    from the config is also its check. `config_key` (e.g. "objectives.cda_one_sided") makes errors name the
    config entry; it defaults to "objectives.<name>".
    """

    #: whether the objective works for "masked", "causal" or both model kinds
    supported_kinds: tuple[str, ...] = ("masked", "causal")
    #: whether its loss is the plain LM loss on text examples, so that `training.packing` may replace the
    #: examples by packed token blocks (`fairforget.training.packing`); then `collate` is not called
    packable: ClassVar[bool] = False
    name: ClassVar[str] = "objective"
    param_spec: ClassVar[dict[str, Param] | None] = None

    def __init__(self, config_key: str | None = None, **params: Any) -> None:
        self.config_key = config_key or f"objectives.{self.name}"
        self.params = (
            dict(params) if self.param_spec is None else resolve_params(params, self.param_spec, self.config_key)
        )

    def prepare_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        return model

    @abstractmethod
    def build_examples(self, ctx: TrainingContext) -> Sequence[dict[str, Any]]:
        """The training examples (a list or a `LazyExamples`), deterministic given ctx.seed."""

    @abstractmethod
    def collate(
        self, examples: list[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
    ) -> dict[str, Any]:
        """Tensors for one batch; random masking must draw from `generator` (determinism)."""

    @abstractmethod
    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        """Scalar loss of one batch."""

    def finalize_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        return model


class Remedy(ABC):  # noqa: B024 - every hook has a no-op default; ABC marks it as a base, not for use
    """A general remedy against forgetting, combinable with any objective (params as for Objective)."""

    name: ClassVar[str] = "remedy"
    param_spec: ClassVar[dict[str, Param] | None] = None

    def __init__(self, config_key: str | None = None, **params: Any) -> None:
        self.config_key = config_key or f"remedies.{self.name}"
        self.params = (
            dict(params) if self.param_spec is None else resolve_params(params, self.param_spec, self.config_key)
        )

    def transform_examples(self, examples: Sequence[dict[str, Any]], ctx: TrainingContext) -> Sequence[dict[str, Any]]:
        return examples

    def prepare_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        return model

    def penalty(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.Tensor | None:
        """An extra loss term (None for no penalty)."""
        return None

    def finalize_model(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.nn.Module:
        return model


OBJECTIVES: Registry[type[Objective]] = Registry("objective", "fairforget.training.objectives")
REMEDIES: Registry[type[Remedy]] = Registry("remedy", "fairforget.training.remedies")
