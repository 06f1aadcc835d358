"""What the rules downstream_base and downstream_finetuned share, and evaluate_checkpoint / evaluate_fused when
they run their checkpoint's downstream tasks (CPU studies): their inputs, params and outputs, mapped onto
`fairforget.downstream.stage.evaluate_downstream_seeds`, once per task of the job (rules/inputs/downstream.smk:
one task, or every task of the checkpoint)."""

from pathlib import Path
from typing import Any

import _bootstrap  # noqa: F401  (puts ../src on sys.path)
import torch

from fairforget.downstream.stage import evaluate_downstream_seeds
from fairforget.errors import ConfigError
from fairforget.workflow.logs import log_to
from fairforget.workflow.products import check_checkpoint


def run(snakemake: Any, base_sidecar: str | None) -> None:
    """Rules downstream_base / downstream_finetuned / downstream_fused."""
    log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))
    check_checkpoint(snakemake.input.model, snakemake.input.sidecar)
    params = snakemake.params
    wildcards = snakemake.wildcards
    run_tasks(
        snakemake,
        settings={
            "settings": params.downstream,
            "tasks": [wildcards.task] if "task" in wildcards.keys() else list(params.tasks),
            "dseeds": params.dseeds,
            "mode_override": params.mode_override,
            "code": params.code,
        },
        metas=list(snakemake.input.meta),
        outputs=list(snakemake.output),
        base_sidecar=base_sidecar,
        threads=snakemake.threads,
    )


def run_tasks(
    snakemake: Any,
    settings: dict[str, Any],
    metas: list[str],
    outputs: list[str],
    base_sidecar: str | None,
    threads: int,
) -> None:
    """Every task of the job on the checkpoint snakemake.input.model. `settings`: the downstream settings, tasks,
    seeds, mode override and code identity (rules/inputs/downstream.smk, downstream_of_evaluation_params);
    `metas`: one task folder's meta file per task, in the order of the tasks; `outputs`: task-major, each
    task's files in the order of the seeds."""
    torch.set_num_threads(threads)
    tasks, seeds = settings["tasks"], settings["dseeds"]
    if len(metas) != len(tasks) or len(outputs) != len(tasks) * len(seeds):
        raise ConfigError(
            f"downstream job of {len(tasks)} task(s) x {len(seeds)} seed(s) has {len(metas)} task folders and "
            f"{len(outputs)} outputs"
        )
    for index, task in enumerate(tasks):
        evaluate_downstream_seeds(
            model_dir=snakemake.input.model,
            model_sidecar=snakemake.input.sidecar,
            task_dir=Path(metas[index]).parent,
            task=task,
            seeds=seeds,
            out_jsons=outputs[index * len(seeds) : (index + 1) * len(seeds)],
            cfg=settings["settings"],
            store_dir=snakemake.params.store_dir,
            mode_override=settings["mode_override"],
            model_name=snakemake.wildcards.model,
            base_sidecar=base_sidecar,
            run=snakemake.params.run,
            progress=False,
            code=settings["code"],
        )
