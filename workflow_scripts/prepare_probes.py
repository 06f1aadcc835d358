"""Rule prepare_probes: CrowS-Pairs, WinoBias test, StereoSet -> evaluation-only probe sets."""

import logging
from pathlib import Path

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.probes import prepare_probes

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
prepare_probes(
    inputs.crows, inputs.stereoset, Path(inputs.winobias_test[0]).parent,
    outputs.crows_pairs, outputs.winobias, outputs.stereoset, outputs.meta,
    settings=snakemake.params.settings, seed=snakemake.params.seed,  # noqa: F821
)
