"""The model-source interface: how the base model of one `models.<name>.source` is made.

A source is one module in `fairforget.base_models.sources` (or a plugin module named under `plugins:`) that
registers a subclass by name:

    @MODEL_SOURCES.register("toy")
    class ToySource(ModelSource): ...

The config check reads `required_keys` (each must be present under `models.<name>`); rules/base_models.smk reads
`uses_pretraining_text` (the rule then takes the prepared general text and planted corpus as inputs) and
`threads`; `check_environment` runs at every parse of the Snakefile (not cached: what is installed can change
between two runs of the same config), so a missing package stops the run before any job; the
`build_base_model` rule calls `build`. Modules here are imported when the Snakefile is parsed:
import heavy libraries (torch, transformers) inside `build`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from fairforget.registry import Registry


class ModelSource(ABC):
    """Makes one base model directory (weights as safetensors, tokenizer, manifest.json)."""

    # keys that `models.<name>` must set for this source
    required_keys: ClassVar[tuple[str, ...]] = ()
    # the model is trained on the workflow's own text (R/data/general/pretrain.jsonl + the planted corpus)
    uses_pretraining_text: ClassVar[bool] = False
    # threads of the build and fine-tuning jobs: tiny models train fastest on one thread (rules/base_models.smk)
    threads: ClassVar[int] = 4
    # threads of the evaluation jobs (rules/evaluate.smk)
    evaluation_threads: ClassVar[int] = 2
    # the probe set (paths.PROBES) whose stereotype pairs the training probe scores: WinoBias test pairs for a
    # pretrained model; a toy model's planted stereotype is probed with the planted pairs (ToySource)
    probe_pair_set: ClassVar[str] = "winobias"

    @classmethod
    def check_environment(cls, model_name: str, model_cfg: Mapping[str, Any]) -> None:
        """Raise ConfigError (naming the key and the fix) when what `build` needs is not installed or found.
        Cheap: runs at every parse; no heavy import. Default: nothing to check."""
        return None

    @abstractmethod
    def build(
        self, model_name: str, model_cfg: Mapping[str, Any], texts_paths: Sequence[str | Path], out_dir: str | Path
    ) -> dict[str, Any]:
        """Write the model directory `out_dir`; return its manifest. `texts_paths` is empty unless
        `uses_pretraining_text`."""


MODEL_SOURCES: Registry[type[ModelSource]] = Registry("model source", package="fairforget.base_models.sources")
