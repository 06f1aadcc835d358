"""Rules evaluate_checkpoint / evaluate_fused: forgetting, selective forgetting, bias and trajectory statistics of
one checkpoint; on CPU studies then its downstream tasks, as downstream_finetuned would run them (one job per
checkpoint: rules/inputs/downstream.smk, DOWNSTREAM_IN_EVALUATION_JOB)."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)
import _downstream

from fairforget.evaluation import evaluate_checkpoint
from fairforget.workflow.logs import log_to
from fairforget.workflow.products import check_checkpoint

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
inputs = snakemake.input  # noqa: F821
check_checkpoint(inputs.model, inputs.sidecar)
evaluate_checkpoint(
    base_model_dir=inputs.base_model,
    base_sidecar=inputs.base_sidecar,
    base_scores_dir=inputs.base_scores,
    model_dir=inputs.model,
    sidecar=inputs.sidecar,
    trajectory=inputs.trajectory[0] if inputs.trajectory else None,
    heldout=snakemake.params.heldout,  # noqa: F821
    probes=snakemake.params.probes,  # noqa: F821
    seat_dir=snakemake.params.seat_dir,  # noqa: F821
    scores_dir=snakemake.output.scores,  # noqa: F821
    metrics_json=snakemake.output.metrics,  # noqa: F821
    evaluation=snakemake.params.evaluation,  # noqa: F821
    store_dir=snakemake.params.store_dir,  # noqa: F821
    code=snakemake.params.code,  # noqa: F821
    run=snakemake.params.run,  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
)
if snakemake.params.downstream is not None:  # noqa: F821
    _downstream.run_tasks(
        snakemake,  # noqa: F821
        settings=snakemake.params.downstream,  # noqa: F821
        metas=list(inputs.downstream_meta),
        outputs=list(snakemake.output.downstream),  # noqa: F821
        base_sidecar=inputs.base_sidecar,
        # one thread, as the downstream rules run it: the same results as a downstream job of its own
        threads=1,
    )
