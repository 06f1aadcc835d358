"""Rule evaluate_checkpoint: forgetting, selective forgetting, bias and trajectory statistics of one run."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.evaluation import evaluate_checkpoint

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
evaluate_checkpoint(
    inputs.base_model, inputs.base_sidecar, inputs.base_scores, inputs.model, inputs.sidecar,
    inputs.trajectory[0] if inputs.trajectory else None,
    params.heldout, params.probes, params.seat_dir,
    outputs.scores, outputs.metrics, params.evaluation, params.store_dir,
    run=params.run, threads=snakemake.threads,  # noqa: F821
)
