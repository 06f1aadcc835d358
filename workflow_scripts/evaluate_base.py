"""Rule evaluate_base: score a base model once; write its scores and bias metrics."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.evaluation import evaluate_base
from fairforget.workflow.logs import log_to
from fairforget.workflow.products import check_checkpoint

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
check_checkpoint(snakemake.input.model, snakemake.input.sidecar)  # noqa: F821
evaluate_base(
    model_dir=snakemake.input.model,  # noqa: F821
    sidecar=snakemake.input.sidecar,  # noqa: F821
    heldout=snakemake.params.heldout,  # noqa: F821
    probes=snakemake.params.probes,  # noqa: F821
    seat_dir=snakemake.params.seat_dir,  # noqa: F821
    scores_dir=snakemake.output.scores,  # noqa: F821
    metrics_json=snakemake.output.metrics,  # noqa: F821
    evaluation=snakemake.params.evaluation,  # noqa: F821
    store_dir=snakemake.params.store_dir,  # noqa: F821
    code=snakemake.params.code,  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
)
