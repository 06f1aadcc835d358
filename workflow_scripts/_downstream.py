"""What the rules downstream_base and downstream_finetuned share: their inputs, params and outputs, mapped onto
`fairforget.downstream.stage.evaluate_downstream_seeds`."""

from pathlib import Path
from typing import Any

import _bootstrap  # noqa: F401  (puts ../src on sys.path)
import torch

from fairforget.downstream.stage import evaluate_downstream_seeds
from fairforget.workflow.logs import log_to


def run(snakemake: Any, base_sidecar: str | None) -> None:
    log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))
    torch.set_num_threads(snakemake.threads)
    evaluate_downstream_seeds(
        model_dir=snakemake.input.model,
        model_sidecar=snakemake.input.sidecar,
        task_dir=Path(snakemake.input.meta).parent,
        task=snakemake.wildcards.task,
        seeds=snakemake.params.dseeds,
        out_jsons=list(snakemake.output),
        cfg=snakemake.params.downstream,
        store_dir=snakemake.params.store_dir,
        mode_override=snakemake.params.mode_override,
        model_name=snakemake.wildcards.model,
        base_sidecar=base_sidecar,
        run=snakemake.params.run,
        progress=False,
        code=snakemake.params.code,
    )
