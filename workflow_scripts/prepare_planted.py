"""Rule prepare_planted: WinoBias occupation lists -> planted corpus, training pairs, planted probe pairs."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.leakage import EvaluationFiles
from fairforget.data.occupations import load_occupation_split
from fairforget.data.planted import prepare_planted

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
split = load_occupation_split(inputs.male, inputs.female, params.occupation_split)
prepare_planted(
    split, EvaluationFiles(inputs.crows, inputs.stereoset, tuple(inputs.winobias_test), occupation_split=split),
    outputs.corpus, outputs.train_pairs, outputs.probes, outputs.meta,
    settings=params.settings, seed=params.seed,
)
