"""Rule prepare_downstream: one GLUE task's train/dev TSV -> seeded subsets + meta.json."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.glue import prepare_downstream

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
prepare_downstream(
    snakemake.wildcards.task, inputs.train, inputs.dev,  # noqa: F821
    outputs.train, outputs.dev, outputs.meta,
    settings=snakemake.params.settings, seed=snakemake.params.seed,  # noqa: F821
)
