"""The typed jobs of stages 2 and 3: what one `build_base_model` or `finetune` job does, as one frozen object.

Each job is built once, by `fairforget.jobs.base_model_job` / `finetune_job`, from the validated config (every
default set by config/schema.yaml), the run and the results dir; the rule passes it to its script as JSON
(`to_json`, `fairforget.job_json`) and the script hands the decoded job (`from_json`) to the stage untouched.
Paths come from `fairforget.paths` only. Imported when the Snakefile is parsed: no heavy imports here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fairforget import paths
from fairforget.job_json import JsonJob
from fairforget.paths import Run


@dataclass(frozen=True)
class ProbeSettings:
    """The training probe (trajectory.parquet): the first `max_examples` held-out texts of `general` and pairs
    of `pairs`, scored as the evaluation scores the pair set `pair_set` (`causal_pair_score`: evaluation's)."""

    max_examples: int
    batch_size: int
    max_length: int
    general: str
    pairs: str
    pair_set: str
    causal_pair_score: str


@dataclass(frozen=True)
class FinetuneJob(JsonJob):
    """One debiasing fine-tuning run (rule finetune). `training` is the run's merged `training:` section
    (`config.grid.run_training_config`); `objective` / `remedy` its config entries; `data` the prepared files
    by role (`paths.FINETUNE_DATA`); `code` the job's code identity (fairforget.workflow.code_params)."""

    run: Run
    base_dir: str
    data: dict[str, str]
    objective: dict[str, Any]
    remedy: dict[str, Any]
    training: dict[str, Any]
    probe: ProbeSettings | None  # None: no training probe (tests)
    out_dir: str
    sidecar: str
    state_dir: str | None  # None: no resumable state is saved (tests)
    trajectory: str
    summary: str
    log: str
    plugins: list[str]
    repo_root: str
    code: dict[str, Any] | None

    def settings(self) -> dict[str, Any]:
        """What the run trains with (no paths): a rule param, which Snakemake compares to plan reruns."""
        return {
            "objective": self.objective,
            "remedy": self.remedy,
            "training": self.training,
            "probe": None
            if self.probe is None
            else {k: v for k, v in asdict(self.probe).items() if k not in ("general", "pairs")},
        }


@dataclass(frozen=True)
class BaseModelJob(JsonJob):
    """One base model (rule build_base_model): `models.<model>` as validated, the pretraining texts (toy
    sources only, else empty), where it goes, and the job's code identity."""

    model: str
    model_cfg: dict[str, Any]
    texts: list[str]
    out_dir: str
    sidecar: str
    code: dict[str, Any] | None


def finetune_data_files(results_dir: str | Path) -> dict[str, str]:
    """The prepared data a fine-tuning run reads, by role (`paths.FINETUNE_DATA`), under `results_dir`."""
    return {role: paths.under(results_dir, template) for role, template in paths.FINETUNE_DATA.items()}
