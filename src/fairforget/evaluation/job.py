"""The typed job of stage 4: one evaluation of a base model (rule evaluate_base) or of a checkpoint against its
base model (evaluate_checkpoint, evaluate_fused), built by `fairforget.jobs.evaluation_job` and passed to
`evaluation.stage.run_evaluation_job` untouched. Imported when the Snakefile is parsed: no heavy imports here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fairforget.job_json import JsonJob


@dataclass(frozen=True)
class EvaluationJob(JsonJob):
    """`model_dir` / `sidecar`: the model evaluated. The `base_*` fields are None for a base model's own
    evaluation, else its base model and that model's scores; `trajectory` is None when no metric reads it.
    `heldout`, `probes`, `seat_dir`: the data the metrics read (`metrics.inputs.evaluation_inputs`);
    `evaluation`: the `evaluation:` section; `run`: the checkpoint's identity recorded in its result (None for a
    base model; a fused checkpoint's has its `alpha`); `code`: the job's code identity."""

    model_dir: str
    sidecar: str
    base_model_dir: str | None
    base_sidecar: str | None
    base_scores_dir: str | None
    trajectory: str | None
    heldout: str | None
    probes: dict[str, str]
    seat_dir: str | None
    scores_dir: str
    metrics_json: str
    evaluation: dict[str, Any]
    store_dir: str
    run: dict[str, Any] | None
    code: dict[str, Any] | None

    def settings(self) -> dict[str, Any]:
        """What the job computes with (no paths): a rule param, which Snakemake compares to plan reruns."""
        return {"evaluation": self.evaluation, "store_dir": self.store_dir, "run": self.run, "code": self.code}
