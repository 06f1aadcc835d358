"""Rule downstream_base: one base model x GLUE task -> one result JSON per downstream seed."""

from pathlib import Path

import _bootstrap  # noqa: F401  (puts ../src on sys.path)
import torch

from fairforget.downstream.stage import evaluate_downstream_seeds
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
evaluate_downstream_seeds(
    model_dir=snakemake.input.model,  # noqa: F821
    model_sidecar=snakemake.input.sidecar,  # noqa: F821
    task_dir=Path(snakemake.input.meta).parent,  # noqa: F821
    task=snakemake.wildcards.task,  # noqa: F821
    seeds=snakemake.params.dseeds,  # noqa: F821
    out_jsons=list(snakemake.output),  # noqa: F821
    cfg=snakemake.params.downstream,  # noqa: F821
    store_dir=snakemake.params.store_dir,  # noqa: F821
    mode_override=snakemake.params.mode_override,  # noqa: F821
    model_name=snakemake.wildcards.model,  # noqa: F821
    base_sidecar=None,  # a base model: its own hash is the base hash
    run=snakemake.params.run,  # noqa: F821
    progress=False,
)
