"""Rule prepare_probes: CrowS-Pairs, WinoBias test, StereoSet -> evaluation-only probe sets."""

import logging
from pathlib import Path

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.occupations import load_occupation_split
from fairforget.data.probes import prepare_probes

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
prepare_probes(
    inputs.crows, inputs.stereoset, Path(inputs.winobias_test[0]).parent,
    outputs.crows_pairs, outputs.winobias, outputs.stereoset, outputs.meta,
    settings=params.settings, seed=params.seed,
    occupation_split=load_occupation_split(inputs.male, inputs.female, params.occupation_split),
)
