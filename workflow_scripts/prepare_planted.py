"""Rule prepare_planted: WinoBias occupation lists -> planted corpus, training pairs, planted probe pairs."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.leakage import EvaluationFiles
from fairforget.data.planted import prepare_planted

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
prepare_planted(
    inputs.male, inputs.female,
    EvaluationFiles(inputs.crows, inputs.stereoset, tuple(inputs.winobias_test)),
    outputs.corpus, outputs.train_pairs, outputs.probes, outputs.meta,
    settings=snakemake.params.settings, seed=snakemake.params.seed,  # noqa: F821
)
