"""What the rules downstream_base and downstream_finetuned share: their inputs, params and outputs, mapped onto
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
    log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))
    check_checkpoint(snakemake.input.model, snakemake.input.sidecar)
    torch.set_num_threads(snakemake.threads)
    wildcards = snakemake.wildcards
    tasks = [wildcards.task] if "task" in wildcards.keys() else list(snakemake.params.tasks)
    seeds = snakemake.params.dseeds
    metas = list(snakemake.input.meta)  # one per task, in the order of `tasks`
    outputs = list(snakemake.output)  # task-major: each task's files in the order of `seeds`
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
            cfg=snakemake.params.downstream,
            store_dir=snakemake.params.store_dir,
            mode_override=snakemake.params.mode_override,
            model_name=wildcards.model,
            base_sidecar=base_sidecar,
            run=snakemake.params.run,
            progress=False,
            code=snakemake.params.code,
        )
