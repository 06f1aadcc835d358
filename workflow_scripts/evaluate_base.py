"""Rule evaluate_base: score a base model once; write its scores and bias metrics."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.evaluation import evaluate_base

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
evaluate_base(
    inputs.model, inputs.sidecar, params.heldout, params.probes, params.seat_dir,
    outputs.scores, outputs.metrics, params.evaluation, params.store_dir,
    threads=snakemake.threads,  # noqa: F821
)
