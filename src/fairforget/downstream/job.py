"""The typed job of stage 5: one checkpoint's downstream tasks (rules downstream_base, downstream_finetuned,
downstream_fused; on CPU studies run by the model's evaluation job), built by `fairforget.jobs.downstream_job`
and passed to `downstream.stage.run_downstream_job` untouched. Imported when the Snakefile is parsed: no heavy
imports here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fairforget.errors import ConfigError
from fairforget.job_json import JsonJob


@dataclass(frozen=True)
class DownstreamJob(JsonJob):
    """The checkpoint `model_dir` / `sidecar` of base model `model` (`base_sidecar`: None for a base model) on
    each task of `tasks` (its folder at the same position of `task_dirs`) and downstream seed of `dseeds`;
    `outputs` task-major, each task's files in the order of the seeds. `downstream`: the `downstream:` section;
    `mode_override`: `models.<model>.downstream_mode`; `run`: the identity recorded in the results."""

    model: str
    model_dir: str
    sidecar: str
    base_sidecar: str | None
    tasks: list[str]
    task_dirs: list[str]
    dseeds: list[int]
    outputs: list[str]
    downstream: dict[str, Any]
    mode_override: str | None
    store_dir: str
    run: dict[str, Any] | None
    code: dict[str, Any] | None

    def __post_init__(self) -> None:
        tasks, seeds = len(self.tasks), len(self.dseeds)
        if len(self.task_dirs) != tasks or len(self.outputs) != tasks * seeds:
            raise ConfigError(
                f"downstream job of {tasks} task(s) x {seeds} seed(s) has {len(self.task_dirs)} task folders and "
                f"{len(self.outputs)} outputs"
            )

    def task_outputs(self, index: int) -> list[str]:
        """The result files of the task at `index`, one per downstream seed."""
        seeds = len(self.dseeds)
        return self.outputs[index * seeds : (index + 1) * seeds]

    def settings(self) -> dict[str, Any]:
        """What the job computes with (no paths): a rule param, which Snakemake compares to plan reruns."""
        return {
            "downstream": self.downstream,
            "tasks": self.tasks,
            "dseeds": self.dseeds,
            "mode_override": self.mode_override,
            "store_dir": self.store_dir,
            "run": self.run,
            "code": self.code,
        }
