"""`toy`: a tokenizer and a tiny model trained from scratch on the workflow's general text plus the planted
stereotype corpus (fairforget.training.pretrain)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget.base_models.source import MODEL_SOURCES, ModelSource


@MODEL_SOURCES.register("toy")
class ToySource(ModelSource):
    required_keys = ("architecture", "pretrain")
    uses_pretraining_text = True
    # Tiny toy models train fastest on ONE thread: several OpenMP threads on a shared, oversubscribed CPU
    # were measured 10x slower (379 vs 4467 tokens/s); so toy jobs run side by side, one core each.
    threads = 1
    # Evaluation on one thread too: two evaluation jobs share the 2 cores of a laptop instead of running one
    # after the other, and the scores no longer depend on --cores (a job's thread count is capped at --cores;
    # 1 and 2 threads sum in another order and differ in the 7th digit, see docs/caching.md).
    evaluation_threads = 1
    probe_pair_set = "planted"

    def build(
        self, model_name: str, model_cfg: Mapping[str, Any], texts_paths: Sequence[str | Path], out_dir: str | Path
    ) -> dict[str, Any]:
        from fairforget.training.pretrain import build_toy_base  # imports torch: only in the job

        return build_toy_base(texts_paths, model_name, model_cfg, out_dir, int(model_cfg["pretrain"]["seed"]))
